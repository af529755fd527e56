"""Slugs derived from names, unique where they must be (one organization's live rows)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.text import slugify


def unique_slug(taken: QuerySet, name: str, *, max_length: int = 100, field: str = "slug") -> str:
    """``slugify(name)`` (``item`` when nothing is left of it), with ``-2``, ``-3`` … appended
    while ``taken`` (the rows the slug must differ from) already holds it."""
    base = slugify(name)[:max_length].strip("-") or "item"
    existing = set(taken.filter(**{f"{field}__startswith": base}).values_list(field, flat=True))
    candidate, number = base, 2
    while candidate in existing:
        suffix = f"-{number}"
        candidate = f"{base[: max_length - len(suffix)]}{suffix}"
        number += 1
    return candidate


def slug_for(model, *, organization, name: str) -> str:
    """A slug for a new row of ``model`` named ``name``, unique among ``organization``'s live rows
    (the global rows' when ``organization`` is ``None``)."""
    field = model._meta.get_field("slug")
    return unique_slug(
        model._default_manager.filter(organization=organization), name, max_length=field.max_length
    )
