"""Slugs derived from names, unique where they must be (one organization's live rows)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.text import slugify

from background.locks import lock_until_commit


def unique_slug(
    taken: QuerySet, name: str, *, max_length: int = 100, field: str = "slug", scope: object = ""
) -> str:
    """``slugify(name)`` (``item`` when nothing is left of it), with ``-2``, ``-3`` … appended
    while ``taken`` (the rows the slug must differ from, those of ``scope``) already holds it."""
    base = slugify(name)[:max_length].strip("-") or "item"
    # Two requests creating rows at once would both find the same free slug and one would fail
    # on the unique constraint (a 400 or 409 for a slug the client never sent): the second waits
    # here until the first commits, then sees its row. One lock for the whole scope, not per
    # base: "Spring 2" and a second "Spring" both want spring-2. Held until the caller's
    # transaction ends (every caller creates the row in one).
    lock_until_commit(f"slug:{taken.model._meta.label}:{scope}")
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
        model._default_manager.filter(organization=organization),
        name,
        max_length=field.max_length,
        scope=organization.pk if organization is not None else "global",
    )
