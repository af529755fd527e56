"""Periodic jobs of the analytics app (run by the task-queue worker; see ``background.periodic``)."""

from background.choices import JobQueue
from background.periodic import periodic_command, yesterday_utc


def _yesterday() -> list[str]:
    day = yesterday_utc().isoformat()
    return ["--from", day, "--to", day]


periodic_command(
    command="rollup",
    cron="30 1 * * *",
    queue=JobQueue.ANALYTICS,
    description="Nightly: rebuild yesterday's rollups from the raw rows (late and corrected rows).",
    arguments=_yesterday,
)
periodic_command(
    command="fold_rollups",
    cron="*/5 * * * *",
    queue=JobQueue.ANALYTICS,
    description="Every 5 minutes: fold yesterday's and today's rollup delta rows, one row per group.",
)
periodic_command(
    command="weekly_summaries",
    cron="0 5 * * 1",
    queue=JobQueue.ANALYTICS,
    description="Mondays: write every organization's summary of the week that ended.",
)
periodic_command(
    command="apply_retention",
    cron="0 2 * * *",
    queue=JobQueue.MAINTENANCE,
    description="Nightly: archive, then delete, the raw rows the retention policy expired.",
)
