"""Periodic jobs of the providers app (run by the task-queue worker; see ``background.periodic``)."""

from background.choices import JobQueue
from background.periodic import periodic_command

periodic_command(
    command="sync_model_prices",
    cron="17 3 * * *",
    queue=JobQueue.MAINTENANCE,
    description="Daily: import providers, models and prices from genai-prices' snapshot.",
)
