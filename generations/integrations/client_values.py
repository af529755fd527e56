"""Reading the values clients we did not write report about a call: token counts, money,
moments, durations and identifiers, as OTLP attributes, Langfuse's JSON strings and LiteLLM's
payloads carry them.

One rule for every adapter, by what a value is for:

- **What the call is billed by** (token counts, the client's cost, the moment that picks the
  price): a value is taken as sent when it means exactly one thing; one that cannot be what its
  name says (a fractional or non-finite token count, a number written with more digits than any
  count or cost has, a cost that is not a number, a time outside the calendar) rejects the call
  alone, with a reason naming it (:class:`ItemRejected`). Nothing is rounded or guessed: a
  truncated token count would misprice the call.
- **What only describes it** (durations, the time to the first chunk): a value that cannot be
  one (negative, not a number, past the column) is left out, and the call is kept. A clock
  stepping back between a span's start and end must not cost the client a billed call.
- **What JSON cannot hold** (NaN or Infinity in a request parameter, a tag or a message, which
  Python's ``json`` reads and jsonb refuses): kept as its text, ``"NaN"`` or ``"Infinity"``
  (:func:`storable_numbers`), as JSON nested too deep stays text. A billed value was read (and,
  if not finite, rejected) before; as text it is refused by the item's validation all the same.
- **Who and what it was for** (user, conversation, model, provider, request ids): kept whole
  when it fits its column, else shortened by :func:`fitted` to a prefix, ``…`` and a hash of the
  whole value, so two long ids never become one and the call is never lost for its id's length.
"""

from __future__ import annotations

import datetime
import hashlib
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from generations.models import Generation
from providers.metering import cost_rounded

# A bigint has 19 digits: a longer string of digits is no token count (and ``int()`` of one past
# Python's 4,300-digit limit raises a plain ValueError, which would be a 500, not a rejection).
MAX_COUNT_CHARS = 20
# A cost as text: 10 whole digits and 10 decimals fit in 21 characters; a float's repr of a tiny
# cost ("1.2345678901234567e-05") in 23. Anything much longer is no amount anyone computed.
MAX_AMOUNT_CHARS = 40
# generation_time_ms and total_request_time_ms are integer columns (about 24.8 days).
MAX_DURATION_MS = 2**31 - 1
# 64 bits of SHA-256: two distinct long ids of one organization sharing a prefix and a hash is
# a chance of about n²/2⁶⁵, nothing in practice.
HASH_CHARS = 16
ELLIPSIS = "…"
SHOWN_CHARS = 100  # of a rejected value, in the reason: a megabyte attribute is not echoed back


def _column_chars(field_name: str) -> int:
    return Generation._meta.get_field(field_name).max_length


# The columns identifiers go to (a provider call's are the same lengths).
PROVIDER_CHARS = _column_chars("provider_name")
MODEL_CHARS = _column_chars("model_name")
USER_CHARS = _column_chars("user_ref")
CONVERSATION_CHARS = _column_chars("conversation_id")
REQUEST_ID_CHARS = _column_chars("request_id")
AGENT_NAME_CHARS = _column_chars("agent_name")


class ItemRejected(ValueError):
    """One call (a span, a LiteLLM payload) that cannot be mapped; it is rejected alone."""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}…"


class BytesText(str):
    """An OTLP ``bytesValue`` as hex text: kept as text, never read as a number (``99 99 99``
    would otherwise be 999,999 tokens)."""


# A number as JSON writes one (Python's Decimal would also take " 1_0 " as 10).
_AMOUNT = re.compile(r"-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")


def token_count(value: Any, name: str) -> int | None:
    """A whole number of tokens: an int, a float with no fraction (JSON and some SDKs write
    counts as doubles) or a string of at most 20 ASCII digits (OTLP/JSON writes int64 as
    strings). Negative counts pass, for the serializer to refuse with the field's name."""
    if value is None:
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and not isinstance(value, BytesText) and value.isascii() and value.isdigit():
        if len(value) > MAX_COUNT_CHARS:
            raise ItemRejected(f"{name} has {len(value)} digits, more than any token count.")
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ItemRejected(f"{name} is not a whole number of tokens ({_shown(value)}).")


def money(value: Any, name: str) -> Decimal | None:
    """An amount in USD, rounded as the cost columns round (the metering core's
    :func:`~providers.metering.cost_rounded`; the sign and size are the serializer's to check,
    so a negative amount is not rounded); :class:`ItemRejected` for anything that is not a finite
    number of at most 40 characters written as JSON writes numbers."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ItemRejected(f"{name} {_shown(value)} is not a number.")
    if isinstance(value, str) and len(value) > MAX_AMOUNT_CHARS:
        raise ItemRejected(f"{name} is {len(value)} characters long, not an amount in USD.")
    if isinstance(value, str) and (isinstance(value, BytesText) or not _AMOUNT.fullmatch(value)):
        raise ItemRejected(f"{name} {_shown(value)} is not an amount in USD.")
    try:
        amount = Decimal(str(value))
        if not amount.is_finite():
            raise InvalidOperation
        # A negative amount is left as sent for the serializer to refuse: rounded, a tiny one
        # (-1e-11) would become a zero cost.
        return amount if amount < 0 else cost_rounded(amount)
    except (InvalidOperation, ValueError) as exc:  # not a number, or more digits than any cost has
        raise ItemRejected(f"{name} {_shown(value)} is not an amount in USD.") from exc


def moment(epoch_seconds: Any, name: str) -> datetime.datetime | None:
    """A Unix time in seconds as an aware UTC datetime; None when absent or 0 (unset)."""
    if epoch_seconds is None or epoch_seconds == 0:
        return None
    if isinstance(epoch_seconds, bool) or not isinstance(epoch_seconds, int | float):
        raise ItemRejected(f"{name} {_shown(epoch_seconds)} is not a Unix time in seconds.")
    try:
        if epoch_seconds < 0 or not math.isfinite(epoch_seconds):
            raise ValueError
        return datetime.datetime.fromtimestamp(epoch_seconds, tz=datetime.UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise ItemRejected(f"{name} {_shown(epoch_seconds)} is not a Unix time in seconds.") from exc


def milliseconds(seconds: Any) -> int | None:
    """A duration in seconds (an int, a float, or a Decimal for exact nanoseconds) as whole
    milliseconds (half to even), or None when it is absent or cannot be one
    we keep: not a number, negative (a clock stepped back), not finite, or longer than the
    duration columns hold. Durations describe a call, they do not bill it, so a bad one is left
    out and never rejects the call."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float | Decimal):
        return None
    if isinstance(seconds, float) and not math.isfinite(seconds):
        return None
    if isinstance(seconds, Decimal) and not seconds.is_finite():
        return None
    # Bounded before multiplying: 1e306 s is finite, its milliseconds are not.
    if not 0 <= seconds <= MAX_DURATION_MS / 1000:
        return None
    return min(round(seconds * 1000), MAX_DURATION_MS)


def fitted(text: str, max_length: int) -> str:
    """``text`` when it fits a column of ``max_length`` characters; else its first characters,
    ``…`` and 16 hex digits of the SHA-256 of the whole text, ``max_length`` long.

    Deterministic (a replay shortens the same way, so idempotency holds) and collision-free in
    practice (two distinct long values sharing a prefix differ in their hashes), where cutting
    would merge two users and rejecting would lose a billed call."""
    if len(text) <= max_length:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_CHARS]
    return f"{text[: max_length - len(ELLIPSIS) - HASH_CHARS]}{ELLIPSIS}{digest}"


def identifier(value: Any, name: str, *, max_length: int, lower: bool = False) -> str | None:
    """A user, conversation, provider or model name: a string or a whole number, as text
    (lowercased first with ``lower``), :func:`fitted` to its column of ``max_length``
    characters; :class:`ItemRejected` for anything else (a list, an object)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value
    elif isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    else:
        raise ItemRejected(f"{name} {_shown(value)} is not a string.")
    return fitted(text.lower() if lower else text, max_length)


def storable_numbers(value: Any) -> Any:
    """``value`` (JSON as Python reads it) with every NaN or infinite float replaced by its JSON
    text (``"NaN"``, ``"Infinity"``, ``"-Infinity"``); ``value`` itself when it has none.
    Iterative: a payload's depth costs no Python stack."""
    if not _has_non_finite(value):
        return value
    root: list[Any] = [value]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        container, key = stack.pop()
        node = container[key]
        if isinstance(node, float) and not math.isfinite(node):
            container[key] = "NaN" if math.isnan(node) else ("Infinity" if node > 0 else "-Infinity")
        elif isinstance(node, dict):
            copied = dict(node)
            container[key] = copied
            stack.extend((copied, name) for name in copied)
        elif isinstance(node, list):
            copied = list(node)
            container[key] = copied
            stack.extend((copied, index) for index in range(len(copied)))
    return root[0]


def _has_non_finite(value: Any) -> bool:
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            return True
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False
