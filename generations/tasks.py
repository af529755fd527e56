"""Jobs of the generations app: the hourly cache purge, and the publishing queue's tasks."""

from background.choices import JobQueue
from background.periodic import periodic_command
from generations.publishing import tasks as publishing_tasks  # noqa: F401 - registers its tasks

periodic_command(
    command="purge_expired_cache",
    cron="7 * * * *",
    queue=JobQueue.MAINTENANCE,
    description="Hourly: delete expired response-cache entries.",
)
