"""The one JSON parser every API endpoint uses: DRF's, plus the limits that keep bad JSON from
reaching a 500.

Python's ``json`` happily returns values PostgreSQL cannot store (a NUL in a string, a lone
UTF-16 surrogate such as ``"\\ud800"``, a number such as ``1e999`` read as the float
``inf``) and recurses once per nesting level (``RecursionError`` past ~1,000). A parsed body
is walked once, iteratively, and refused with a 400 naming the path of the first bad value; the
walk is skipped only when the body's text shows there is nothing it could find.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from collections import Counter

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ErrorDetail, ParseError, ValidationError
from rest_framework.utils import json as drf_json
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from tenancy.api.strict import JSONBody

# Deeper than any payload of ours (a provider usage object nests 4-5 levels).
DEFAULT_MAX_DEPTH = 64
# NUL cannot be stored in PostgreSQL text or jsonb; surrogates cannot be encoded as UTF-8.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _describe(path: list) -> str:
    return (
        "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".") or "(body)"
    )


def _refuse_text(path: list, what: str):
    """A value-level problem: a validation error on its dotted path (``items.0.metadata.note``,
    the convention of nested serializer errors)."""
    attr = ".".join(str(part) for part in path) or "non_field_errors"
    if what == "number":
        # JSON has no infinity: Python reads 1e999 as ``inf``, which an id lookup cannot turn into
        # an integer (OverflowError), a text field would store as "inf" and jsonb refuses.
        detail = f"The number at {_describe(path)} is too large to be a finite number."
        raise ValidationError({attr: [ErrorDetail(detail, code="invalid_number")]})
    detail = (
        f"A {what} at {_describe(path)} contains a NUL character or a lone UTF-16 surrogate, "
        "which cannot be stored."
    )
    raise ValidationError({attr: [ErrorDetail(detail, code="invalid_text")]})


def unstorable_text(
    value, *, max_depth: int | None = DEFAULT_MAX_DEPTH, finite_numbers: bool = False
) -> tuple[list, str] | None:
    """The path and kind (``"key"`` or ``"text"``) of the first string in ``value`` (a string, or
    JSON made of dicts and lists) holding a NUL or a lone surrogate, or None when all can be
    stored. With ``finite_numbers``, also the path of the first number that is not finite
    (kind ``"number"``: ``1e999`` parses as ``inf``). Raises ``ParseError`` when ``value`` nests
    deeper than ``max_depth`` (None: no limit).
    Iterative, so depth costs no Python stack.

    The one walker for what PostgreSQL cannot store: the parser below, the JSON fields of
    serializers and the style guides' JSON (rule parameters, template variables) all use it."""
    stack = [(value, 1, [])]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, dict | list | tuple) and max_depth is not None and depth > max_depth:
            raise ParseError(f"JSON nests deeper than {max_depth} levels at {_describe(path)}.")
        if isinstance(node, dict):
            for key, child in node.items():
                if isinstance(key, str) and _UNSTORABLE.search(key):
                    return path, "key"
                stack.append((child, depth + 1, [*path, key]))
        elif isinstance(node, list | tuple):
            stack.extend((child, depth + 1, [*path, index]) for index, child in enumerate(node))
        elif isinstance(node, str) and _UNSTORABLE.search(node):
            return path, "text"
        elif finite_numbers and isinstance(node, float) and not math.isfinite(node):
            return path, "number"
    return None


def check_json_value(value, *, max_depth: int = DEFAULT_MAX_DEPTH, finite_numbers: bool = False) -> None:
    """Raise ``ParseError`` when ``value`` nests deeper than ``max_depth``, and a
    ``ValidationError`` naming the path when a string (key or value) holds a NUL or a lone
    surrogate (``invalid_text``) or, with ``finite_numbers``, a number is not finite
    (``invalid_number``)."""
    found = unstorable_text(value, max_depth=max_depth, finite_numbers=finite_numbers)
    if found:
        _refuse_text(*found)


def _object_without_repeated_keys(pairs: list[tuple[str, object]]) -> dict:
    """``json``'s ``object_pairs_hook``: an object, unless a key appears twice in it."""
    data = dict(pairs)
    if len(data) != len(pairs):  # the rare case pays for finding which key
        repeated = next(key for key, count in Counter(key for key, _ in pairs).items() if count > 1)
        raise ParseError(f"JSON parse error - the key {json.dumps(repeated)} appears twice in one object.")
    return data


# A JSON escape that can decode to a NUL or to a surrogate (a lone one, or half of a pair).
_UNSTORABLE_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


class _FloatsSeen:
    """``json``'s ``parse_float``: reads a number as ``json`` does, noting one that is not finite
    (``1e999``)."""

    def __init__(self):
        self.all_finite = True

    def parse(self, text: str) -> float:
        number = float(text)
        if not math.isfinite(number):
            self.all_finite = False
        return number


def _storable_as_read(text: str, max_depth: int | None, numbers: _FloatsSeen) -> bool:
    """Whether the body's text alone shows that :func:`check_json_value` would pass: every number
    finite, no character a string could hold a NUL or a surrogate through (as itself, or by a
    ``\\u`` escape), and no more ``[`` and ``{`` than the depth limit. Any doubt (an escaped pair,
    a deep body) walks the value, which finds the path of what is wrong: the walk was ~1 % of a
    single POST's time for bodies that hold nothing to refuse."""
    return (
        numbers.all_finite
        and (max_depth is None or text.count("{") + text.count("[") <= max_depth)
        and _UNSTORABLE.search(text) is None
        and _UNSTORABLE_ESCAPE.search(text) is None
    )


class StrictJSONParser(parsers.JSONParser):
    """DRF's JSON parser with a nesting limit (``API_MAX_JSON_DEPTH``, default 64), no key twice
    in one object (``{"model": "a", "model": "b"}`` would record whichever the parser kept), no
    NUL or lone surrogate in any string and no number too large to be finite.
    ``DEFAULT_PARSER_CLASSES`` names only this class. (The integration endpoints read their
    exporters' bodies themselves, as those clients send them.)"""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        numbers = _FloatsSeen()
        try:
            text = codecs.getreader(encoding)(stream).read()
            data = json.loads(
                text,
                parse_float=numbers.parse,
                parse_constant=drf_json.strict_constant if self.strict else None,
                object_pairs_hook=_object_without_repeated_keys,
            )
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        except RecursionError as exc:  # the C scanner gives up long before our limit matters
            raise ParseError("JSON nests too deeply.") from exc
        max_depth = getattr(settings, "API_MAX_JSON_DEPTH", DEFAULT_MAX_DEPTH)
        # Without strict JSON, NaN and Infinity come through ``parse_constant``, unseen by ``numbers``.
        if not (self.strict and _storable_as_read(text, max_depth, numbers)):
            check_json_value(data, max_depth=max_depth, finite_numbers=True)
        # Marked as read from JSON: serializers then hold each value to its JSON type. (Every
        # endpoint takes an object; a top-level array or scalar is refused as DRF words it.)
        return JSONBody(data) if isinstance(data, dict) else data


_drf_surrogate_check = ProhibitSurrogateCharactersValidator.__call__


def _refuse_surrogates(self, value) -> None:
    # DRF looks at each character in a Python loop: for a 1 KiB text, most of a field's
    # validation. A regular expression finds whether there is any; DRF's own loop still words
    # the error for the first one.
    if _SURROGATE.search(str(value)) is not None:
        _drf_surrogate_check(self, value)


def install_fast_surrogate_check() -> None:
    """Make DRF's ``ProhibitSurrogateCharactersValidator`` (every ``CharField`` has one) search
    with a regular expression: the same values refused with the same error (called once from
    ``TenancyConfig.ready``)."""
    ProhibitSurrogateCharactersValidator.__call__ = _refuse_surrogates
