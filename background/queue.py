"""Deferring jobs inside the caller's database transaction.

Procrastinate's Django connector runs its queries on Django's own connection, so a job deferred
through :func:`defer_in_transaction` is committed (or rolled back) together with the rows that
made it necessary: a post is never saved without its job, nor a job queued for a post that was
rolled back. This holds in the worker too, whose app otherwise talks through its own pool.
"""

from __future__ import annotations

import datetime
from functools import lru_cache

from django.conf import settings
from procrastinate.contrib.django import app
from procrastinate.contrib.django.django_connector import DjangoConnector
from procrastinate.jobs import JobDeferrer
from procrastinate.manager import JobManager


@lru_cache(maxsize=1)
def _django_job_manager() -> JobManager:
    # Never the app's own manager: in a worker that one talks through the worker's pool.
    return JobManager(DjangoConnector(alias=getattr(settings, "PROCRASTINATE_DATABASE_ALIAS", "default")))


def defer_in_transaction(
    task_name: str,
    *,
    schedule_at: datetime.datetime | None = None,
    priority: int | None = None,
    **task_kwargs,
) -> int:
    """Queue a job of the registered task ``task_name`` on the current Django connection;
    returns the job id. ``schedule_at`` delays it; the queue and default priority are the task's."""
    options = {}
    if schedule_at is not None:
        options["schedule_at"] = schedule_at
    if priority is not None:
        options["priority"] = priority
    job = app.configure_task(task_name, **options).job
    return JobDeferrer(job_manager=_django_job_manager(), job=job).defer(**task_kwargs)
