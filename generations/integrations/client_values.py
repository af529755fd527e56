"""Reading the values clients we did not write report about a call: token counts, money,
moments, durations and identifiers, as OTLP attributes, Langfuse's JSON strings and LiteLLM's
payloads carry them.

One rule for every adapter: a value is taken as sent when it means exactly one thing, and a value
that cannot be what its name says (a fractional or non-finite token count, a cost that is not a
number, a time outside the calendar, a user id that is a list) rejects the call alone, with a
reason naming it (:class:`ItemRejected`). Nothing is rounded, clipped or guessed: a truncated
user id would merge two users, a truncated token count would misprice the call. Lengths are left
to the API serializer the item then goes through, which names the field.
"""

from __future__ import annotations

import datetime
import math
from decimal import Decimal, InvalidOperation
from typing import Any

from providers.metering import COST_QUANTUM


class ItemRejected(ValueError):
    """One call (a span, a LiteLLM payload) that cannot be mapped; it is rejected alone."""


def token_count(value: Any, name: str) -> int | None:
    """A whole number of tokens: an int, a float with no fraction (JSON and some SDKs write
    counts as doubles) or a string of ASCII digits (OTLP/JSON writes int64 as strings). Negative
    counts pass, for the serializer to refuse with the field's name."""
    if value is None:
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ItemRejected(f"{name} is not a whole number of tokens ({value!r}).")


def money(value: Any, name: str) -> Decimal | None:
    """An amount in USD at the columns' precision (the sign and size are the serializer's to
    check); :class:`ItemRejected` for anything that is not a finite number."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ItemRejected(f"{name} {value!r} is not a number.")
    try:
        amount = Decimal(str(value))
        if not amount.is_finite():
            raise InvalidOperation
        return amount.quantize(COST_QUANTUM)
    except InvalidOperation as exc:  # not a number, or more digits than any cost has
        raise ItemRejected(f"{name} {value!r} is not an amount in USD.") from exc


def moment(epoch_seconds: Any, name: str) -> datetime.datetime | None:
    """A Unix time in seconds as an aware UTC datetime; None when absent or 0 (unset)."""
    if epoch_seconds is None or epoch_seconds == 0:
        return None
    if isinstance(epoch_seconds, bool) or not isinstance(epoch_seconds, int | float):
        raise ItemRejected(f"{name} {epoch_seconds!r} is not a Unix time in seconds.")
    try:
        if epoch_seconds < 0 or not math.isfinite(epoch_seconds):
            raise ValueError
        return datetime.datetime.fromtimestamp(epoch_seconds, tz=datetime.UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise ItemRejected(f"{name} {epoch_seconds!r} is not a Unix time in seconds.") from exc


def milliseconds(seconds: Any, name: str) -> int | None:
    """A duration in seconds (a number ≥ 0) as whole milliseconds; None when absent."""
    if seconds is None:
        return None
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not math.isfinite(seconds)
        or seconds < 0
    ):
        raise ItemRejected(f"{name} {seconds!r} is not a duration in seconds.")
    return round(seconds * 1000)


def identifier(value: Any, name: str) -> str | None:
    """A user, conversation, provider or model name: a string or a whole number, as text.
    Never cut to fit (the serializer refuses one too long, naming the field)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ItemRejected(f"{name} {value!r} is not a string.")
