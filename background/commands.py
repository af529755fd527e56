"""``ExclusiveCommand``: a management command that runs at most once at a time, cluster-wide.

Operators run these commands by hand as before, and the worker runs the same commands on their
schedule (``background.periodic``); both take the same advisory lock, so a run never overlaps
another, whoever started it. The second one is skipped, not queued: the first is doing the work.
"""

from __future__ import annotations

import logging
import sys

from django.core.management.base import BaseCommand, OutputWrapper

from background.locks import run_exclusively

logger = logging.getLogger(__name__)


def command_lock_name(command_name: str) -> str:
    """The advisory-lock name a command runs under (for tests and the operators' page)."""
    return f"command:{command_name}"


class ExclusiveCommand(BaseCommand):
    """Holds the lock :func:`command_lock_name` while it runs; a dry run takes no lock.

    After ``execute``, ``skipped`` says whether the run was skipped because another held it.
    """

    skipped = False

    @property
    def command_name(self) -> str:
        return type(self).__module__.rsplit(".", 1)[-1]

    def execute(self, *args, **options):
        if options.get("dry_run"):
            return super().execute(*args, **options)
        with run_exclusively(command_lock_name(self.command_name)) as acquired:
            if not acquired:
                self.skipped = True
                message = f"{self.command_name} is already running elsewhere; this run is skipped."
                logger.warning(message)
                OutputWrapper(options.get("stderr") or sys.stderr).write(message)
                return ""
            return super().execute(*args, **options)
