"""What PostgreSQL cannot store (a NUL character, a lone surrogate), in text columns and in jsonb.

DRF's ``CharField`` already refuses a NUL; JSON payloads (rule parameters, template variables)
pass through untouched, so they are checked here and refused as a 400 instead of failing
in the database. The walk is ``tenancy.api.parsers.unstorable_text``, the API parser's own.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from tenancy.api.parsers import unstorable_text


def refuse_nul(value: Any, *, attr: str) -> None:
    """Raise a ``ValidationError`` on ``attr`` when ``value`` holds a NUL character (or a lone
    surrogate), or a number jsonb cannot store (NaN, Infinity: Python's ``json`` reads them)."""
    found = unstorable_text(value, max_depth=None, finite_numbers=True)
    if found and found[1] == "number":
        raise ValidationError({attr: "Numbers must be finite: NaN and Infinity cannot be stored."})
    if found:
        raise ValidationError({attr: "Text cannot contain NUL (\\x00) characters."})
