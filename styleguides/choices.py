"""Enumerations of the styleguides app."""

from __future__ import annotations

from django.db import models


class StyleGuideKind(models.TextChoices):
    """What a style guide describes."""

    BRAND = "brand"
    VERTICAL = "vertical", "Vertical (industry)"
    WRITING_STYLE = "writing_style", "Writing style"


class StyleGuideStatus(models.TextChoices):
    """Where a guide is in its life: drafted, published (has a live version), or retired."""

    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class Severity(models.TextChoices):
    """An error fails a check; a warning is reported but the text still passes."""

    ERROR = "error"
    WARNING = "warning"


class LengthUnit(models.TextChoices):
    """What ``max_length`` / ``min_length`` rules count."""

    CHARACTERS = "characters"
    WORDS = "words"


class RegexMode(models.TextChoices):
    """Whether a regex rule forbids its matches or requires at least one."""

    FORBID = "forbid", "Forbid matches"
    REQUIRE = "require", "Require a match"


class TemplateContentType(models.TextChoices):
    """The kind of content a prompt template produces, and what a generation is for
    (``generations.choices.ContentType`` is this class)."""

    BLOG = "blog", "Blog post"
    SOCIAL = "social", "Social post"
    AMAZON = "amazon", "Amazon listing"
    COMPETITOR = "competitor", "Competitor analysis"
    NAME = "name", "Name ideas"
    TEMPLATE = "template"
    CHAT = "chat"
    INSIGHTS = "insights"
    OTHER = "other"
