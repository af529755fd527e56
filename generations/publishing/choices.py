"""Enumerations of publishing: platforms and the life cycle of a scheduled post."""

from __future__ import annotations

from django.db import models


class Platform(models.TextChoices):
    """Where a social account lives. Only platforms with a registered publisher take posts."""

    WEBHOOK = "webhook", "Webhook"
    LINKEDIN = "linkedin", "LinkedIn"
    X = "x", "X"
    INSTAGRAM = "instagram", "Instagram"
    FACEBOOK = "facebook", "Facebook"


class PostStatus(models.TextChoices):
    """scheduled → publishing → published | scheduled (retry) | failed; cancelled from scheduled.

    ``failed`` and ``cancelled`` go back to ``scheduled`` only through an explicit retry.
    """

    SCHEDULED = "scheduled", "Scheduled"
    PUBLISHING = "publishing", "Publishing"
    PUBLISHED = "published", "Published"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"

    @classmethod
    def cancellable(cls) -> frozenset[str]:
        return frozenset({cls.SCHEDULED})

    @classmethod
    def retryable(cls) -> frozenset[str]:
        return frozenset({cls.FAILED, cls.CANCELLED})
