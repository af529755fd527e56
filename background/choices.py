"""Enumerations of the background app: the task queues."""

from __future__ import annotations

from django.db import models


class JobQueue(models.TextChoices):
    """Procrastinate queues. A worker serves every queue unless started with ``--queues``.

    Within what a worker fetches, a higher :meth:`priority` runs first: a post due now must not
    wait behind a night of rollups.
    """

    PUBLISHING = "publishing"
    GENERATION = "generation", "Content generation"
    EMAIL = "email"
    STRATEGY = "strategy", "Strategy generation"
    ANALYTICS = "analytics", "Analytics collection"
    MAINTENANCE = "maintenance"

    @property
    def priority(self) -> int:
        """The default priority of this queue's jobs (procrastinate: higher first)."""
        return _PRIORITIES[self]


_PRIORITIES = {
    JobQueue.PUBLISHING: 50,
    JobQueue.GENERATION: 40,
    JobQueue.EMAIL: 30,
    JobQueue.STRATEGY: 20,
    JobQueue.ANALYTICS: 10,
    JobQueue.MAINTENANCE: 0,
}
