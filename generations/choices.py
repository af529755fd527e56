"""Enumerations of the generations app: statuses, content types, channels, formats, tree kinds."""

from __future__ import annotations

from django.db import models

from styleguides.choices import TemplateContentType

# What a generation is for: the content types prompt templates produce, one list (style guides
# sit below generations, so the list lives there and a new type is added once).
ContentType = TemplateContentType


class TargetChannel(models.TextChoices):
    """Where the content will be published."""

    BLOG = "blog"
    LINKEDIN = "linkedin", "LinkedIn"
    X = "x"
    INSTAGRAM = "instagram"
    FACEBOOK = "facebook"
    EMAIL = "email"
    AMAZON_LISTING = "amazon_listing", "Amazon listing"
    WEB = "web"
    OTHER = "other"


class ContentFormat(models.TextChoices):
    """How ``Generation.content`` is encoded."""

    MARKDOWN = "markdown"
    HTML = "html", "HTML"
    JSON = "json", "JSON"
    PLAIN = "plain", "Plain text"


class GenerationStatus(models.TextChoices):
    """Life cycle of a generation. It only moves forward: see :meth:`can_move`."""

    PENDING = "pending"
    PROCESSING = "processing"
    SUCCESS = "success"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @classmethod
    def terminal(cls) -> frozenset[str]:
        """Statuses a generation never leaves."""
        return frozenset({cls.SUCCESS, cls.PARTIAL, cls.FAILED, cls.CANCELLED})

    @classmethod
    def rank(cls, status: str) -> int:
        """pending 0, processing 1, any terminal status 2."""
        if status == cls.PENDING:
            return 0
        if status == cls.PROCESSING:
            return 1
        return 2

    @classmethod
    def can_move(cls, current: str, new: str) -> bool:
        """Whether ``current`` → ``new`` is forward (or no change).

        pending → processing → success/partial/failed/cancelled, skipping allowed; a terminal
        status is final, so success → failed is refused like processing → pending.
        """
        return current == new or cls.rank(new) > cls.rank(current)


class GenerationKind(models.TextChoices):
    """A node's relation to its parent in a generation tree."""

    ORIGINAL = "original"  # a root: no parent
    REVISION = "revision"  # a new version of the parent, same vertical
    VARIANT = "variant"  # the parent adapted for another vertical


class RunStatus(models.TextChoices):
    """Status of a run, derived from its generations (never stored)."""

    PENDING = "pending"  # no generation yet
    RUNNING = "running"  # some generation still pending or processing
    COMPLETED = "completed"  # every requested model succeeded
    PARTIAL = "partial"  # finished, some models succeeded
    FAILED = "failed"  # finished, none succeeded
    CANCELLED = "cancelled"  # finished, every generation cancelled


class RecordedAction(models.TextChoices):
    """What happened to the generations a ``generations_recorded`` signal carries."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    RESTORED = "restored"
