"""Jobs of the queue itself: stalled-job recovery and clean-up of finished jobs.

A worker records a heartbeat every ``update_heartbeat_interval`` seconds. A job still ``doing``
whose worker stopped beating for ``stalled_worker_timeout`` seconds (killed, machine lost) is
put back to ``todo`` by :func:`retry_stalled_jobs`, so another worker runs it again. Tasks must
therefore be safe to run twice (publishing is: see ``generations.publishing.services``).
"""

from __future__ import annotations

import logging

from django.conf import settings
from procrastinate import JobContext

from background.choices import JobQueue
from background.periodic import periodic_task

logger = logging.getLogger(__name__)


def _stalled_after_seconds() -> float:
    return float(settings.PROCRASTINATE_WORKER_DEFAULTS.get("stalled_worker_timeout", 30))


@periodic_task(
    name="background.retry_stalled_jobs",
    cron=settings.BACKGROUND_STALLED_RECOVERY_CRON,
    periodic_id="retry_stalled_jobs",
    queue=JobQueue.MAINTENANCE,
    # Above every queue: recovering lost work goes before new work.
    priority=JobQueue.PUBLISHING.priority + 10,
    pass_context=True,
)
async def retry_stalled_jobs(context: JobContext, timestamp: int) -> int:
    """Put back to ``todo`` every job whose worker died while running it; returns how many."""
    stalled = await context.app.job_manager.get_stalled_jobs(seconds_since_heartbeat=_stalled_after_seconds())
    count = 0
    for job in stalled:
        if job.id == context.job.id:
            continue
        logger.warning("retrying stalled job %s (%s): its worker stopped", job.id, job.task_name)
        await context.app.job_manager.retry_job(job)
        count += 1
    return count


@periodic_task(
    name="background.remove_old_jobs",
    cron="43 4 * * *",
    periodic_id="remove_old_jobs",
    queue=JobQueue.MAINTENANCE,
    pass_context=True,
)
async def remove_old_jobs(context: JobContext, timestamp: int) -> None:
    """Delete finished jobs older than ``BACKGROUND_KEEP_FINISHED_JOBS_HOURS`` (failed ones too);
    the admin's job list shows what is left."""
    await context.app.job_manager.delete_old_jobs(
        nb_hours=settings.BACKGROUND_KEEP_FINISHED_JOBS_HOURS,
        include_failed=True,
        include_cancelled=True,
        include_aborted=True,
    )
