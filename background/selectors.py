"""Reads of the background app: what the operators' page shows."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from croniter import croniter
from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateEvent, ProcrastinateJob, ProcrastinateWorker

from background.choices import JobQueue
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


@dataclass
class QueueHealth:
    """Jobs waiting, running and failed per queue, and the workers alive now."""

    queues: list[dict]
    workers: list[ProcrastinateWorker]
    stale_after_seconds: float


def queue_health() -> QueueHealth:
    """Per queue: jobs ``todo`` (due now and later), ``doing`` and ``failed``; and every registered
    worker with its last heartbeat (one silent for ``stalled_worker_timeout`` is presumed dead)."""
    now = timezone.now()
    counts = {
        queue.value: {"queue": queue.value, "todo_due": 0, "todo_later": 0, "doing": 0, "failed": 0}
        for queue in JobQueue
    }
    rows = (
        ProcrastinateJob.objects.filter(status__in=["todo", "doing", "failed"])
        .annotate(due=Q(scheduled_at__isnull=True) | Q(scheduled_at__lte=now))
        .values("queue_name", "status", "due")
        .annotate(count=Count("id"))
    )
    for row in rows:
        entry = counts.setdefault(
            row["queue_name"],
            {"queue": row["queue_name"], "todo_due": 0, "todo_later": 0, "doing": 0, "failed": 0},
        )
        key = row["status"] if row["status"] != "todo" else ("todo_due" if row["due"] else "todo_later")
        entry[key] += row["count"]
    stale = float(settings.PROCRASTINATE_WORKER_DEFAULTS.get("stalled_worker_timeout", 30))
    workers = list(ProcrastinateWorker.objects.order_by("id"))
    for worker in workers:
        worker.alive = (now - worker.last_heartbeat).total_seconds() < stale
    return QueueHealth(queues=list(counts.values()), workers=workers, stale_after_seconds=stale)
