"""The one metering core: (provider, model, usage object, moment) → normalised usage + cost.

Generations, provider calls, demo seeding and re-pricing all meter through :class:`Meter`,
so one rule holds everywhere:

- **Usage** is read by genai-prices' own extractors for every provider it knows, the API
  flavour (OpenAI chat vs Responses, Bedrock Converse vs Anthropic-on-Bedrock, Google
  ``usageMetadata`` vs its OpenAI-compatible API …) found from the object itself. The object
  may be the usage object alone or a whole response body. The result keeps *every* unit the
  provider reported (audio, image and video tokens, reasoning tokens, web searches …).
- **Cost** is genai-prices' own calculation (``ModelPrice.calc_price``) over the price units
  stored for the price version valid at the moment the call happened, so it equals
  ``genai_prices.calc_price`` for the same provider, model and moment to the last decimal, and a
  unit genai-prices learns tomorrow is priced after a price sync, without a migration.
- **Never a silent $0**: an unknown model, no price at that moment, or a price that cannot read
  this usage is ``unpriced`` (cost null); no usage at all is ``no_usage`` (cost null).
"""

from __future__ import annotations

import datetime
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import genai_prices
from django.utils import timezone
from genai_prices import types as gp
from genai_prices._usage import subtract_usage_values
from genai_prices.data_snapshot import find_provider_by_id
from genai_prices.decompose import _negative_leaf_error_message, is_descendant_or_self
from genai_prices.units import UnitDef, _get_registry
from genai_prices.validation import validate_priced_units

from providers.catalogue_cache import Catalogue, catalogue_current
from providers.choices import CostStatus
from providers.models import AIModel, ModelPrice, Provider
from providers.selectors import model_resolve
from tenancy.errors import DomainError

# Clients' clocks run a little ahead of ours; a call "from the future" beyond this is a mistake.
MAX_CLOCK_SKEW = datetime.timedelta(minutes=5)
COST_QUANTUM = Decimal("1e-10")  # cost_usd columns are numeric(20, 10)
# What one call may count: a usage past these cannot be true; refused here, so every write path
# (the bulk COPY included, which skips ``full_clean``) answers a 400 naming the usage instead of
# a database error. Generous (a thousand times the largest context windows, ~10^6 tokens; a
# million dollars) but bounded well below the columns (bigint tokens, numeric(20, 10) cost):
# the rollups store SUMS of calls in columns like those, and a fold writes a day's group as one
# row in one statement for every tenant, so one group past its column would stop the fold for
# all. At most 6,000 requests a minute per API key (``API_THROTTLE_RATE``) of at most 1,000
# calls each is 8.64e9 calls a key and day: at 10^9 tokens each, under bigint's 9.2e18, and at
# $10^6 each under the rollups' cost sums (``providers.models.MONEY_SUM``, below $10^20) for
# more than ten thousand keys. Token sums stay bigint: one key's most cannot overflow a group,
# a day of several keys at full throttle sending only billion-token calls is not plausible.
MAX_TOKEN_COUNT = 10**9
MAX_COST_USD = Decimal(10) ** 6
TOKEN_COLUMNS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
# Providers whose shapes most other APIs copy: a usage object of a provider genai-prices does
# not know is read as one of these (its tokens are kept; it stays unpriced without a price).
COMPATIBLE_READERS = ("openai", "anthropic", "google")


def cost_rounded(amount: Decimal) -> Decimal:
    """``amount`` at the cost columns' precision, rounded as numeric(20, 10) rounds (half away
    from zero), so an amount in memory, the one counted in rollups and the one stored are the
    same number. Every cost we keep (ours and the client's) is rounded here.

    Raises :class:`decimal.InvalidOperation` for an amount with more digits than the context
    holds (far past any column)."""
    return amount.quantize(COST_QUANTUM, rounding=ROUND_HALF_UP)


class UnreadableUsage(DomainError):
    """A usage we cannot read or that cannot be true (no reader understands it, wrong types,
    negative numbers, more cached tokens than input tokens)."""

    code = "invalid_usage"


@dataclass(frozen=True)
class Metered:
    """The metering of one call: every usage unit, the common token columns and the cost.

    ``cost_usd`` is set exactly when ``cost_status`` is ``priced``; ``price`` is the version
    used. :meth:`apply` writes it onto a :class:`~providers.models.MeteredUsage` row.
    """

    usage: dict[str, Any]
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    total_tokens: int
    cost_usd: Decimal | None
    cost_status: CostStatus
    price: ModelPrice | None = field(default=None, compare=False)

    def apply(self, row) -> None:
        """Set the usage and cost columns of ``row`` (a MeteredUsage) from this metering."""
        row.usage = self.usage
        for name in (*TOKEN_COLUMNS, "total_tokens", "cost_usd", "cost_status", "price"):
            setattr(row, name, getattr(self, name))


def check_occurred_at(
    *, occurred_at: datetime.datetime, now: datetime.datetime, completed_at=None, attr_prefix: str = ""
) -> None:
    """When a metered call happened decides its price, so it cannot be in the future (beyond
    :data:`MAX_CLOCK_SKEW`), and it cannot have completed before it happened."""
    if occurred_at > now + MAX_CLOCK_SKEW:
        raise DomainError(
            "occurred_at cannot be in the future.", code="future_time", attr=f"{attr_prefix}occurred_at"
        )
    if completed_at is not None and completed_at < occurred_at:
        raise DomainError(
            "completed_at cannot be before occurred_at.",
            code="before_occurred_at",
            attr=f"{attr_prefix}completed_at",
        )


# --- prices as genai-prices' objects ----------------------------------------------------------


def units_from_snapshot(model_price: gp.ModelPrice) -> dict[str, Any]:
    """A genai-prices ``ModelPrice`` as JSON: every price key with a value, tiers included."""
    units: dict[str, Any] = {}
    for key, value in sorted(model_price.__dict__.items()):
        if key.startswith("_") or value is None:
            continue
        if isinstance(value, gp.TieredPrices):
            units[key] = {
                "base": str(value.base),
                "tiers": [
                    {"start": tier.start, "price": str(tier.price)}
                    for tier in sorted(value.tiers, key=lambda tier: tier.start)
                ],
            }
        else:
            units[key] = str(value)
    return units


def units_at(units: Mapping[str, Any], at: datetime.datetime) -> tuple[int, Mapping[str, Any]]:
    """The units of a price version in force at ``at``: a daily ``time_of_day`` interval that
    contains it (the last listed wins, as in genai-prices), else the version's own. Returns
    the interval's position (0 for the version's own units) and the units."""
    for index, daily in reversed(list(enumerate(units.get("time_of_day") or (), start=1))):
        constraint = gp.TimeOfDateConstraint(
            start_time=datetime.time.fromisoformat(daily["start"]),
            end_time=datetime.time.fromisoformat(daily["end"]),
        )
        if constraint.active(at):
            return index, daily["units"]
    return 0, units


def snapshot_from_units(units: Mapping[str, Any]) -> gp.ModelPrice:
    """The stored price units back as the genai-prices ``ModelPrice`` that computes costs."""
    values: dict[str, Any] = {}
    for key, value in units.items():
        if key == "time_of_day":
            continue
        if isinstance(value, Mapping):
            values[key] = gp.TieredPrices(
                base=Decimal(value["base"]),
                tiers=[
                    gp.Tier(start=int(tier["start"]), price=Decimal(tier["price"])) for tier in value["tiers"]
                ],
            )
        else:
            values[key] = Decimal(value)
    return gp.ModelPrice(**values)


class CompiledPrice:
    """A genai-prices ``ModelPrice`` with its per-price work done once.

    ``gp.ModelPrice.calc_price`` resolves every price key to its unit, validates that the priced
    units cover their ancestors, and sorts the units and finds each one's descendants on
    *every* call: most of its time, and the same answer for every row priced by one version.
    This does that work once and keeps the per-usage part of genai-prices' own calculation
    (its ``compute_leaf_values`` and ``calc_unit_price``, same order of operations), so
    :meth:`total_price` equals ``calc_price(usage)["total_price"]`` to the last decimal
    (``tests/metering/test_corpus.py`` and ``test_compiled_price.py`` hold it to that). Written
    against genai-prices' internals of the pinned version: a new version must pass those tests.
    """

    def __init__(self, model_price: gp.ModelPrice):
        registry = _get_registry()
        self.error: ValueError | None = None
        try:
            self.resolved = gp._collect_resolved_model_prices(model_price, registry)
            validate_priced_units(tuple(unit for unit, _ in self.resolved), registry)
        except ValueError as exc:
            # The price itself is unusable: every call raises what calc_price would raise.
            self.error = exc
            return
        by_usage_key = {unit.usage_key: unit for unit, _ in self.resolved if unit.usage_key != "requests"}
        priced = sorted(by_usage_key.values(), key=lambda unit: (-len(unit.dimensions), unit.usage_key))
        self.priced_units: list[UnitDef] = priced
        # Each priced unit with the priced units below it (in genai-prices' order).
        self.leaves: tuple[tuple[UnitDef, tuple[str, ...]], ...] = tuple(
            (
                unit,
                tuple(
                    other.usage_key
                    for other in priced
                    if other is not unit and is_descendant_or_self(unit, other)
                ),
            )
            for unit in priced
        )
        self.requests = any(unit.usage_key == "requests" for unit, _ in self.resolved)
        self.tiered = any(isinstance(price, gp.TieredPrices) for _, price in self.resolved)

    def total_price(self, usage: gp.Usage) -> Decimal:
        """The cost in USD of ``usage`` at this price (``calc_price``'s ``total_price``)."""
        if self.error is not None:
            raise self.error
        usage = gp.Usage.from_raw(usage)
        reported = usage.__dict__
        positive = frozenset(
            key for key, value in reported.items() if isinstance(value, int | float | Decimal) and value > 0
        )

        def value_of(usage_key: str):
            # genai-prices' ``_usage_value``: a reported value as is; a missing one is
            # inferred (0, or an error when more specific units were reported without it),
            # which depends only on the key and the positive reported keys: remembered.
            if usage_key in reported:
                value = reported[usage_key]
                return 0 if value is None else value
            return _missing_value(usage, usage_key, positive)

        counts: dict[str, Any] = {}
        for unit, descendants in self.leaves:
            leaf = subtract_usage_values(value_of(unit.usage_key), (counts[key] for key in descendants))
            if leaf < 0:
                raise ValueError(_negative_leaf_error_message(unit, self.priced_units, usage, leaf))
            counts[unit.usage_key] = leaf
        if self.requests:
            counts["requests"] = 1
        total_input_tokens = value_of("input_tokens") if self.tiered else 0
        total = Decimal(0)
        for unit, price in self.resolved:
            total += gp.calc_unit_price(price, counts[unit.usage_key], total_input_tokens, unit.per)
        return total


_MISSING: dict[tuple[str, frozenset[str]], str | None] = {}


def _missing_value(usage: gp.Usage, usage_key: str, positive: frozenset[str]) -> Any:
    """What genai-prices infers for a unit ``usage`` did not report: 0, or the ValueError it
    raises; worked out once per (unit, reported units above zero)."""
    key = (usage_key, positive)
    if key not in _MISSING:
        try:
            inferred = getattr(usage, usage_key)
        except ValueError as exc:
            message = str(exc)
        else:
            if inferred != 0:  # genai-prices infers 0 or raises; anything else is not remembered
                return inferred
            message = None
        if len(_MISSING) >= _COMPILED_MAX:
            _MISSING.clear()
        _MISSING[key] = message
    message = _MISSING[key]
    if message is not None:
        raise ValueError(message)
    return 0


# Compiled prices of every price version this process has met, keyed by what makes them differ:
# the row, its last write (price sync and admin edits save ``updated_at``; sync never rewrites
# the units of an existing version in place) and the time-of-day interval in force.
_COMPILED: dict[tuple[int, Any, int], CompiledPrice] = {}
_COMPILED_LOCK = threading.Lock()
_COMPILED_MAX = 4096


def compiled_price(price: ModelPrice, index: int, units: Mapping[str, Any]) -> CompiledPrice:
    """The :class:`CompiledPrice` of ``price``'s units in force (``index`` as :func:`units_at`
    numbers them), built once per process and price version."""
    if price.pk is None:  # not a stored version: nothing to key it by
        return CompiledPrice(snapshot_from_units(units))
    key = (price.pk, price.updated_at, index)
    compiled = _COMPILED.get(key)
    if compiled is None:
        compiled = CompiledPrice(snapshot_from_units(units))
        with _COMPILED_LOCK:
            if len(_COMPILED) >= _COMPILED_MAX:
                _COMPILED.clear()
            _COMPILED[key] = compiled
    return compiled


# --- reading usage ----------------------------------------------------------------------------


def _walk(data: Any, path: Sequence[str]) -> Any:
    for step in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(step)
    return data


def _first_key(path) -> Any:
    return path if isinstance(path, str) else path[0]


def _placements(extractor: gp.UsageExtractor, payload: Mapping) -> list[Mapping]:
    """Where ``payload`` may sit for ``extractor``: the whole response, or the object at any
    level of its root's path (``{"usage": …}`` for the root ``usage.billed_units``, or the
    usage object itself); only placements whose usage object has every key the extractor
    requires (a dictionary look-up, so most flavours are ruled out without extracting)."""
    root = extractor.root
    path = [root] if isinstance(root, str) else list(root)
    if not all(isinstance(step, str) for step in path):
        return [(0, payload)]
    required = {_first_key(m.path) for m in extractor.mappings if m.required}
    wanted = required or {_first_key(m.path) for m in extractor.mappings}
    placements: list[tuple[int, Mapping]] = []
    for depth in range(len(path) + 1):
        usage_object = _walk(payload, path[depth:])
        if not isinstance(usage_object, Mapping):
            continue
        if (required and not required <= usage_object.keys()) or not (wanted & usage_object.keys()):
            continue
        placements.append((depth, _placed(payload, path[:depth])))
    return placements


def _placed(payload: Mapping, outer: Sequence[str]) -> Mapping:
    data: Any = payload
    for step in reversed(outer):
        data = {step: data}
    return data


def _reported(usage: gp.Usage) -> dict[str, Any]:
    return {key: value for key, value in usage.__dict__.items() if value is not None}


def _parts_within_wholes(reported: Mapping[str, Any], attr: str) -> None:
    """Raise :class:`UnreadableUsage` when a reported unit exceeds a reported unit that contains
    it (genai-prices' unit hierarchy: reasoning tokens are output tokens, cached reads are input
    tokens, input audio seconds are audio seconds …): such usage cannot be true, and the part
    would be priced as more than the whole. Checked when usage is recorded, not when stored rows
    are re-priced."""
    registry = _get_registry()
    for key, value in reported.items():
        if key not in registry.units:
            continue
        for whole in sorted(registry.ancestor_usage_keys(key)):
            if whole in reported and value > reported[whole]:
                raise UnreadableUsage(
                    f"{key} ({value:,}) cannot exceed {whole} ({reported[whole]:,}): "
                    f"{key} are counted within {whole}.",
                    attr=attr,
                )


def _read_with(
    provider: gp.Provider, payload: Mapping, attr: str = "usage", *, strict: bool = False
) -> gp.Usage | None:
    """The best reading of ``payload`` by one of ``provider``'s extractors, or None.

    Every flavour is tried on the payload as a whole response and as a bare usage object; the
    reading that understood the most units wins (ties: genai-prices' order of flavours). That is
    how a Responses object is told from a chat one, or Bedrock Converse from Anthropic's shape.
    ``strict``: only flavours that require at least one count.
    """
    shape = _shape(payload)
    key = (id(provider), strict, shape) if shape is not None else None
    if key is not None and key in _READINGS:
        reading = _READINGS[key]
        if reading is None:
            return None
        if isinstance(reading, str):
            raise UnreadableUsage(reading, attr=attr)
        extractor, depth = reading
        try:
            return extractor.extract(_placed(payload, _root_path(extractor)[:depth]))[1]
        except (ValueError, TypeError, KeyError, LookupError):
            pass  # cannot happen for an equal shape; read it the long way all the same
    refusal = _unbillable_count(provider, payload)
    if refusal is not None:
        if key is not None:
            _remember(key, refusal)
        raise UnreadableUsage(refusal, attr=attr)
    best: tuple[int, gp.Usage, tuple[gp.UsageExtractor, int]] | None = None
    for extractor in provider.extractors or ():
        if strict and not any(mapping.required for mapping in extractor.mappings):
            continue
        for depth, data in _placements(extractor, payload):
            try:
                _, usage = extractor.extract(data)
            except (ValueError, TypeError, KeyError, LookupError):
                continue
            score = len(_reported(usage))
            if score and (best is None or score > best[0]):
                best = (score, usage, (extractor, depth))
    if key is not None:
        _remember(key, best[2] if best else None)
    return best[1] if best else None


def _remember(key: tuple[int, bool, Any], reading: tuple[gp.UsageExtractor, int] | str | None) -> None:
    if len(_READINGS) >= MAX_SHAPES:
        _READINGS.clear()
    _READINGS[key] = reading


def _unbillable_count(provider: gp.Provider, payload: Mapping) -> str | None:
    """Why a token count the payload holds where one of ``provider``'s readers looks for it is not
    a whole number ≥ 0 (say ``"completion_tokens": "3"`` or ``"cached_tokens": -20``), or None.

    The reader that finds such a value gives up, and a poorer one (OpenAI's embeddings reader,
    which knows only ``prompt_tokens``) would otherwise win: the call stored with its output
    tokens silently dropped. A count the call is billed by that is not one refuses the usage.
    Depends only on the payload's shape (:func:`_shape`), so its answer is remembered with it."""
    for extractor in provider.extractors or ():
        root = _root_path(extractor)
        if not all(isinstance(step, str) for step in root):
            continue
        for _, data in _placements(extractor, payload):
            usage_object = _walk(data, root)
            if not isinstance(usage_object, Mapping):
                continue
            for mapping in extractor.mappings:
                path = [mapping.path] if isinstance(mapping.path, str) else list(mapping.path)
                if not mapping.dest.endswith("_tokens") or not all(isinstance(step, str) for step in path):
                    continue  # seconds and requests may be fractional; modality lists are read apart
                value = _walk(usage_object, path)
                if value is None:
                    continue
                if isinstance(value, Decimal | float) and math.isfinite(value) and value == int(value):
                    value = int(value)
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    return f"Usage {'.'.join(path)} must be a whole number ≥ 0, not {value!r}."
    return None


def _root_path(extractor: gp.UsageExtractor) -> list:
    return [extractor.root] if isinstance(extractor.root, str) else list(extractor.root)


# Which extractor and placement read a payload of a given shape (``_shape``), per provider.
# Which flavour reads a payload best depends on its keys, the strings it matches on (Google's
# modality names), the kind of each number and whether it is negative, never on the counts
# themselves: trying every flavour once per shape, not once per row, gives the same reading. A
# shape refused by :func:`_unbillable_count` is remembered as the refusal's text.
_READINGS: dict[tuple[int, bool, Any], tuple[gp.UsageExtractor, int] | str | None] = {}
MAX_SHAPES = 4096
_SHAPE_MAX_NODES = 200
_SHAPE_MAX_STRING = 64


class _Unshaped(Exception):
    pass


def _shape(payload: Mapping) -> Any:
    """What decides how ``payload`` is read, as a hashable value; None for a payload too large
    to be worth remembering (a whole response with its content), which is read the long way."""
    nodes = [0]

    def shape(value: Any) -> Any:
        nodes[0] += 1
        if nodes[0] > _SHAPE_MAX_NODES:
            raise _Unshaped
        if isinstance(value, Mapping):
            return ("m", tuple(sorted((str(key), shape(item)) for key, item in value.items())))
        if isinstance(value, list | tuple):
            return ("l", tuple(shape(item) for item in value))
        if isinstance(value, bool) or value is None:
            return ("v", value)
        if isinstance(value, int):
            return ("i", value < 0)
        if isinstance(value, float | Decimal):
            finite = value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)
            return (type(value).__name__, finite and value < 0, finite, finite and value == int(value))
        if isinstance(value, str) and len(value) <= _SHAPE_MAX_STRING:
            return ("s", value)
        raise _Unshaped

    try:
        return shape(payload)
    except _Unshaped:
        return None


_PROVIDERS: dict[tuple[int, str], gp.Provider | None] = {}


def _provider(slug: str) -> gp.Provider | None:
    """genai-prices' provider for a slug (or a name it matches), looked up once per snapshot."""
    snapshot = genai_prices.data_snapshot.get_snapshot()
    key = (id(snapshot), slug)
    if key not in _PROVIDERS:
        _PROVIDERS[key] = find_provider_by_id(snapshot.providers, slug)
    return _PROVIDERS[key]


def read_usage(*, provider_slugs: Sequence[str], payload: Any, attr: str = "usage") -> gp.Usage:
    """Normalise a provider's own usage object (or a whole response body) to genai-prices'
    ``Usage`` with the readers of each provider slug genai-prices knows, in order (the
    client's provider, then the model's owner), then with the common OpenAI/Anthropic/Google
    shapes. Raises :class:`UnreadableUsage` when nothing reads it."""
    if not isinstance(payload, Mapping) or not payload:
        raise UnreadableUsage("The usage object must be a non-empty JSON object.", attr=attr)
    known = [provider for slug in provider_slugs if slug and (provider := _provider(slug))]
    readers = [(provider, False) for provider in known]
    # A provider unknown to genai-prices, known without a reader (Together), or serving another's
    # API (Bedrock's OpenAI-compatible endpoint; a gateway such as LiteLLM reporting every
    # provider's usage in OpenAI's or Anthropic's shape) copies one of the common shapes. Only
    # their flavours that require a count read such an object: one whose counts are all
    # optional (OpenAI's realtime) reads anything with an ``output_tokens``.
    readers += [(_provider(slug), bool(known)) for slug in COMPATIBLE_READERS]
    tried: list[str] = []
    for provider, strict in readers:
        if provider.id in tried:
            continue
        tried.append(provider.id)
        usage = _read_with(provider, payload, attr, strict=strict)
        if usage is not None:
            searches = _response_web_searches(payload)
            if searches and not getattr(usage, "web_searches", None):
                usage.web_searches = searches
            for key, value in _reported(usage).items():
                if key.endswith("_tokens"):
                    _whole(key, value, attr)
            return usage
    raise UnreadableUsage(
        f"No reader of {', '.join(tried)} understands this usage object (missing or wrong token counts).",
        attr=attr,
    )


def _response_web_searches(payload: Mapping) -> int:
    """The web searches a whole OpenAI Responses body (``"object": "response"``) made: its
    ``web_search_call`` output items that did not fail. OpenAI bills each call (genai-prices'
    ``web_searches``), and its usage object does not count them, so a reader of the usage alone
    priced none."""
    output = payload.get("output")
    if payload.get("object") != "response" or not isinstance(output, list):
        return 0
    return sum(
        1
        for item in output
        if isinstance(item, Mapping)
        and item.get("type") == "web_search_call"
        and item.get("status") != "failed"
    )


def _whole(name: str, value: Any, attr: str) -> int:
    if isinstance(value, Decimal | float) and value == int(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UnreadableUsage(f"Usage {name} must be a whole number ≥ 0, not {value!r}.", attr=attr)
    return value


def usage_from_tokens(*, attr: str = "input_tokens", **tokens: Any) -> gp.Usage:
    """Our token fields (``input_tokens`` … ``cache_write_tokens``) as genai-prices' Usage."""
    values = {name: _whole(name, tokens.get(name) or 0, attr) for name in TOKEN_COLUMNS}
    return gp.Usage(**{name: value for name, value in values.items() if value})


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == int(value) else str(value)
    return value


# --- the meter --------------------------------------------------------------------------------


class Meter:
    """Providers, models and prices looked up once, not per row: from this process's
    catalogue copy (``providers.catalogue_cache``: dropped when the catalogue changes or after a
    minute), or with ``fresh=True`` read afresh for this meter alone (re-pricing, which must see
    a price added a second ago by another process)."""

    def __init__(self, *, fresh: bool = False):
        self._catalogue = Catalogue() if fresh else catalogue_current()

    # catalogue look-ups

    def provider(self, slug: str) -> Provider | None:
        """The provider with this slug (case-insensitive), or None."""
        catalogue = self._catalogue
        if catalogue.providers is None:
            catalogue.providers = {provider.slug: provider for provider in Provider.objects.all()}
        return catalogue.providers.get((slug or "").strip().lower())

    def model(self, name: str, provider_slug: str = "") -> AIModel | None:
        """The model this name (or alias) means, or None when nobody knows it."""
        if not name:
            return None
        key = (name, (provider_slug or "").strip().lower())
        models = self._catalogue.models
        if key not in models:
            models[key] = model_resolve(name=name, provider=key[1] or None)
        return models[key]

    def price_at(self, model: AIModel | None, at: datetime.datetime) -> ModelPrice | None:
        """The price version of ``model`` valid at ``at`` (``valid_from <= at < valid_to``)."""
        if model is None:
            return None
        if timezone.is_naive(at):
            raise ValueError("Prices are looked up at an aware datetime (UTC).")
        windows = self._catalogue.windows
        if model.pk not in windows:
            windows[model.pk] = list(ModelPrice.objects.filter(model=model).order_by("-valid_from"))
        for price in windows[model.pk]:
            if price.valid_from <= at and (price.valid_to is None or at < price.valid_to):
                return price
        return None

    def _compiled(self, price: ModelPrice, at: datetime.datetime) -> CompiledPrice:
        units = price.price_units()
        index, in_force = units_at(units, at) if "time_of_day" in units else (0, units)
        return compiled_price(price, index, in_force)

    # metering

    def measure(
        self,
        *,
        provider_name: str = "",
        model: AIModel | None,
        at: datetime.datetime,
        usage_object: Any = None,
        tokens: Mapping[str, Any] | None = None,
        raw_response: Any = None,
        attr: str = "usage",
    ) -> Metered:
        """Meter one call of ``model`` (resolved, or None) reported by ``provider_name``.

        The usage is ``usage_object`` (the provider's own, or a whole response) when given, else
        ``tokens`` (our token fields) when any was sent, else the usage inside ``raw_response``
        when one can be read from it; none of these is ``no_usage``. An unreadable
        ``usage_object`` or impossible token counts raise :class:`UnreadableUsage`.
        """
        slugs = [(provider_name or "").strip().lower()]
        if model is not None:
            slugs.append(model.provider.slug)
        if usage_object is not None:
            usage = read_usage(provider_slugs=slugs, payload=usage_object, attr=attr)
        elif tokens:
            usage = usage_from_tokens(attr="input_tokens" if attr == "usage" else attr, **tokens)
        elif isinstance(raw_response, Mapping) and raw_response:
            try:
                usage = read_usage(provider_slugs=slugs, payload=raw_response, attr=attr)
            except UnreadableUsage:
                usage = None
        else:
            usage = None
        if usage is None:
            return Metered({}, 0, 0, 0, 0, 0, None, CostStatus.NO_USAGE)
        _parts_within_wholes(_reported(usage), attr)
        return self.cost(usage=usage, model=model, at=at, attr=attr)

    def cost(self, *, usage: gp.Usage, model: AIModel | None, at: datetime.datetime, attr: str = "usage"):
        """The cost of a normalised ``usage`` on ``model`` at the price valid at ``at``."""
        reported = _reported(usage)
        columns = {name: _whole(name, reported.get(name, 0), attr) for name in TOKEN_COLUMNS}
        if columns["cache_read_tokens"] + columns["cache_write_tokens"] > columns["input_tokens"]:
            raise UnreadableUsage(
                "cache_read_tokens + cache_write_tokens cannot exceed input_tokens "
                "(input_tokens counts every input token, cached ones included).",
                attr=attr,
            )
        units = {key: _jsonable(value) for key, value in reported.items()}
        total = columns["input_tokens"] + columns["output_tokens"]
        # The total bounds the rest (cached tokens are input tokens).
        if total > MAX_TOKEN_COUNT:
            raise UnreadableUsage(
                f"input_tokens + output_tokens exceed {MAX_TOKEN_COUNT:,} in one call, which cannot be true.",
                attr=attr,
            )
        price = self.price_at(model, at)
        cost = None
        if price is not None:
            try:
                cost = self._compiled(price, at).total_price(usage)
            except ValueError as exc:
                if "Invalid usage data" in str(exc) or "Missing usage" in str(exc):
                    raise UnreadableUsage(str(exc), attr=attr) from exc
                cost = None  # a price genai-prices itself cannot apply: unpriced, not $0
        if cost is None:
            return Metered(
                units, **columns, total_tokens=total, cost_usd=None, cost_status=CostStatus.UNPRICED
            )
        # Rounded as the numeric(20, 10) column rounds (half away from zero), so the row in
        # memory, the one counted in rollups and the one stored are the same number; the cap
        # applies to that number (a cost just under it may round up to it). Compared before
        # rounding too: quantize needs the digits of the whole number.
        if cost < MAX_COST_USD:
            cost = cost_rounded(cost)
        if cost >= MAX_COST_USD:
            raise UnreadableUsage(
                f"This usage would cost ${cost:,.2f} at {model}'s price, which cannot be true "
                f"(one call costs less than ${MAX_COST_USD:,}).",
                attr=attr,
            )
        return Metered(
            units,
            **columns,
            total_tokens=total,
            cost_usd=cost,
            cost_status=CostStatus.PRICED,
            price=price,
        )

    def remeasure(self, row) -> Metered:
        """Meter a stored row again from its normalised ``usage`` (re-pricing): same units,
        the price now known for its model at its ``occurred_at``."""
        if row.cost_status == CostStatus.NO_USAGE and not row.usage:
            return Metered({}, 0, 0, 0, 0, 0, None, CostStatus.NO_USAGE)
        usage = gp.Usage(**{key: value for key, value in (row.usage or {}).items()})
        if not row.usage:
            usage = usage_from_tokens(**{name: getattr(row, name) for name in TOKEN_COLUMNS})
        metered = self.cost(usage=usage, model=row.model, at=row.occurred_at)
        # The client's total, when it sent one, stays the row's total.
        return replace(metered, total_tokens=row.total_tokens)
