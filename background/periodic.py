"""Periodic jobs: management commands the worker runs on a schedule, each at most once at a time.

An app declares its periodic commands in its ``tasks.py`` with :func:`periodic_command`; the
registry :data:`PERIODIC_COMMANDS` is what the operators' admin page lists. A schedule may be
overridden per command in ``settings.PERIODIC_JOB_SCHEDULES`` (cron, optional 6th field for
seconds; UTC).

Three guards keep a job from running twice at once: procrastinate's ``queueing_lock`` keeps at
most one waiting job per command, the command's advisory lock (``ExclusiveCommand``) makes a
second concurrent run skip, and the lock dies with a crashed worker's session.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.management import call_command, get_commands, load_command_class
from django.db import close_old_connections
from procrastinate.contrib.django import app

from background.choices import JobQueue

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicCommand:
    """One management command run on a schedule."""

    command: str
    cron: str
    queue: JobQueue
    description: str
    arguments: Callable[[], list[str]] = field(default=list)

    @property
    def task_name(self) -> str:
        return f"periodic.{self.command}"


PERIODIC_COMMANDS: dict[str, PeriodicCommand] = {}


def run_periodic_command(command: str) -> bool:
    """Run a registered command now, in this process; returns False when it was skipped because
    another run holds its lock."""
    spec = PERIODIC_COMMANDS[command]
    instance = load_command_class(get_commands()[command], command)
    arguments = spec.arguments()
    close_old_connections()
    try:
        logger.info("periodic job %s starting %s", command, " ".join(arguments))
        call_command(instance, *arguments, verbosity=0)
    finally:
        close_old_connections()
    if instance.skipped:
        logger.warning("periodic job %s skipped: already running", command)
        return False
    logger.info("periodic job %s done", command)
    return True


def periodic_task(
    *, name: str, cron: str, periodic_id: str, queue: JobQueue, priority: int | None = None, **options
):
    """Decorate a function into a procrastinate task run on ``cron``, with at most one job of it
    waiting at a time (``queueing_lock`` is its name) and its queue's priority unless told."""

    def decorate(function):
        task = app.task(
            name=name,
            queue=queue,
            priority=queue.priority if priority is None else priority,
            queueing_lock=name,
            **options,
        )(function)
        return app.periodic(cron=cron, periodic_id=periodic_id)(task)

    return decorate


def periodic_command(
    *,
    command: str,
    cron: str,
    queue: JobQueue,
    description: str,
    arguments: Callable[[], list[str]] | None = None,
):
    """Register ``manage.py <command>`` as a periodic job on ``queue`` (see the module docstring)."""
    cron = getattr(settings, "PERIODIC_JOB_SCHEDULES", {}).get(command, cron)
    spec = PeriodicCommand(
        command=command, cron=cron, queue=queue, description=description, arguments=arguments or list
    )
    PERIODIC_COMMANDS[command] = spec

    def run(timestamp: int) -> bool:
        # ``timestamp`` (procrastinate's) is the tick the job was deferred for.
        return run_periodic_command(command)

    run.__name__ = run.__qualname__ = command
    run.__doc__ = description
    return periodic_task(name=spec.task_name, cron=cron, periodic_id=command, queue=queue)(run)


def yesterday_utc() -> datetime.date:
    """The UTC day before today: what nightly upkeep works on."""
    return (datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)).date()
