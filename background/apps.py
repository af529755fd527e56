from django.apps import AppConfig


class BackgroundConfig(AppConfig):
    """The task queue's shared parts: queues and priorities, run-once locks, periodic jobs, and
    the operators' view of them. Apps declare their jobs in their own ``tasks.py``."""

    name = "background"
    verbose_name = "Background jobs"
