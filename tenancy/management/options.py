"""What management commands share about their options."""

from __future__ import annotations

import datetime

from django.core.management.base import CommandError
from django.db.models import QuerySet

from tenancy.models import Organization


def organizations_option(slug: str | None, *, default: QuerySet | None = None) -> list[Organization] | None:
    """The organizations an ``--organization`` option means: the one with that slug, or, when the
    option is left out, ``default`` (listed; None when no default is given, which the services
    read as "every organization"). An unknown slug is a ``CommandError``, never an empty run."""
    if not slug:
        return None if default is None else list(default)
    organizations = list(Organization.objects.filter(slug=slug))
    if not organizations:
        raise CommandError(f"No organization {slug!r}.")
    return organizations


def day_option(value: str) -> datetime.date:
    """The day a date option (``--from``, ``--to``, ``--week``) names, as ``YYYY-MM-DD``; anything
    else is a ``CommandError`` quoting it. Usable as an argparse ``type``."""
    try:
        return datetime.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"Not a date (YYYY-MM-DD): {value!r}") from exc
