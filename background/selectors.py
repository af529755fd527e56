"""Reads of the background app: what the operators' page shows."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from croniter import croniter
from django.utils import timezone
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateEvent, ProcrastinateJob

from background.commands import command_lock_name
from background.locks import is_locked
from background.periodic import PERIODIC_COMMANDS


@dataclass
class PeriodicJobStatus:
    """One periodic job: its schedule, whether it runs now, and its last job."""

    task_name: str
    cron: str
    queue: str
    description: str
    command: str
    next_run: datetime.datetime
    running: bool
    last_job: ProcrastinateJob | None
    last_started: datetime.datetime | None
    last_finished: datetime.datetime | None


def periodic_jobs_overview() -> list[PeriodicJobStatus]:
    """Every periodic job the worker schedules, with its last job's status and times."""
    now = timezone.now()
    rows = []
    for periodic in sorted(app.periodic_registry.periodic_tasks.values(), key=lambda p: p.task.name):
        task = periodic.task
        command = next((c for c in PERIODIC_COMMANDS.values() if c.task_name == task.name), None)
        last_job = ProcrastinateJob.objects.filter(task_name=task.name).order_by("-id").first()
        events = (
            {event.type: event.at for event in ProcrastinateEvent.objects.filter(job=last_job).order_by("at")}
            if last_job
            else {}
        )
        running = (last_job is not None and last_job.status == "doing") or (
            command is not None and is_locked(command_lock_name(command.command))
        )
        rows.append(
            PeriodicJobStatus(
                task_name=task.name,
                cron=periodic.cron,
                queue=task.queue,
                description=command.description
                if command
                else (task.func.__doc__ or "").strip().split("\n")[0],
                command=command.command if command else "",
                next_run=croniter(periodic.cron, now).get_next(datetime.datetime),
                running=running,
                last_job=last_job,
                last_started=events.get("started"),
                last_finished=events.get("succeeded") or events.get("failed") or events.get("aborted"),
            )
        )
    return rows
