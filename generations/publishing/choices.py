"""Enumerations of publishing: platforms and the life cycle of a scheduled post."""

from __future__ import annotations

from django.db import models


class Platform(models.TextChoices):
    """Where a social account lives. Only platforms with a registered publisher take posts."""

    WEBHOOK = "webhook"
    LINKEDIN = "linkedin", "LinkedIn"
    X = "x"
    INSTAGRAM = "instagram"
    FACEBOOK = "facebook"


class PostStatus(models.TextChoices):
    """scheduled → publishing → published | scheduled (retry) | failed; cancelled from scheduled.

    ``failed`` and ``cancelled`` go back to ``scheduled`` only through an explicit retry.
    """

    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @classmethod
    def cancellable(cls) -> frozenset[str]:
        return frozenset({cls.SCHEDULED})

    @classmethod
    def retryable(cls) -> frozenset[str]:
        return frozenset({cls.FAILED, cls.CANCELLED})
