"""What PostgreSQL cannot store: the NUL character, in text columns and in jsonb alike.

DRF's ``CharField`` already refuses it; JSON payloads (rule parameters, template variables)
pass through untouched, so they are checked here and refused as a 400 instead of failing
in the database.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError


def contains_nul(value: Any) -> bool:
    """Whether ``value`` (a string, or JSON made of lists and dicts) holds a NUL character."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(key) or contains_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(contains_nul(item) for item in value)
    return False


def refuse_nul(value: Any, *, attr: str) -> None:
    """Raise a ``ValidationError`` on ``attr`` when ``value`` holds a NUL character."""
    if contains_nul(value):
        raise ValidationError({attr: "Text cannot contain NUL (\\x00) characters."})
