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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import genai_prices
from django.utils import timezone
from genai_prices import types as gp
from genai_prices.data_snapshot import find_provider_by_id

from providers.choices import CostStatus
from providers.models import AIModel, ModelPrice, Provider
from providers.selectors import model_resolve
from tenancy.errors import DomainError

# Clients' clocks run a little ahead of ours; a call "from the future" beyond this is a mistake.
MAX_CLOCK_SKEW = datetime.timedelta(minutes=5)
COST_QUANTUM = Decimal("1e-10")  # cost_usd columns are numeric(20, 10)
TOKEN_COLUMNS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
# Providers whose shapes most other APIs copy: a usage object of a provider genai-prices does
# not know is read as one of these (its tokens are kept; it stays unpriced without a price).
COMPATIBLE_READERS = ("openai", "anthropic", "google")


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
        return [payload]
    required = {_first_key(m.path) for m in extractor.mappings if m.required}
    wanted = required or {_first_key(m.path) for m in extractor.mappings}
    placements: list[Mapping] = []
    for depth in range(len(path) + 1):
        usage_object = _walk(payload, path[depth:])
        if not isinstance(usage_object, Mapping):
            continue
        if (required and not required <= usage_object.keys()) or not (wanted & usage_object.keys()):
            continue
        data: Any = payload
        for step in reversed(path[:depth]):
            data = {step: data}
        placements.append(data)
    return placements


def _reported(usage: gp.Usage) -> dict[str, Any]:
    return {key: value for key, value in usage.__dict__.items() if value is not None}


def _read_with(provider: gp.Provider, payload: Mapping) -> gp.Usage | None:
    """The best reading of ``payload`` by one of ``provider``'s extractors, or None.

    Every flavour is tried on the payload as a whole response and as a bare usage object; the
    reading that understood the most units wins (ties: genai-prices' order of flavours). That is
    how a Responses object is told from a chat one, or Bedrock Converse from Anthropic's shape.
    """
    best: tuple[int, gp.Usage] | None = None
    for extractor in provider.extractors or ():
        for data in _placements(extractor, payload):
            try:
                _, usage = extractor.extract(data)
            except (ValueError, TypeError, KeyError, LookupError):
                continue
            score = len(_reported(usage))
            if score and (best is None or score > best[0]):
                best = (score, usage)
    return best[1] if best else None


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
    client's provider, then the model's owner); when it knows none of them, with the common
    OpenAI/Anthropic/Google shapes. Raises :class:`UnreadableUsage` when nothing reads it."""
    if not isinstance(payload, Mapping) or not payload:
        raise UnreadableUsage("The usage object must be a non-empty JSON object.", attr=attr)
    known = [provider for slug in provider_slugs if slug and (provider := _provider(slug))]
    if not any(provider.extractors for provider in known):
        # Unknown to genai-prices, or known without a reader (Together): such APIs copy one of
        # the common shapes.
        known = [_provider(slug) for slug in COMPATIBLE_READERS]
    tried: list[str] = []
    for provider in known:
        if provider.id in tried:
            continue
        tried.append(provider.id)
        usage = _read_with(provider, payload)
        if usage is not None:
            for key, value in _reported(usage).items():
                if key.endswith("_tokens"):
                    _whole(key, value, attr)
            return usage
    raise UnreadableUsage(
        f"No reader of {', '.join(tried)} understands this usage object (missing or wrong token counts).",
        attr=attr,
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
    """Providers, models and prices looked up once for one service call (a bulk of 1,000 rows
    naming three models asks for three models and their price timelines, not a thousand)."""

    def __init__(self):
        self._providers: dict[str, Provider] | None = None
        self._models: dict[tuple[str, str], AIModel | None] = {}
        self._windows: dict[int, list[ModelPrice]] = {}
        self._snapshots: dict[tuple[int, int], gp.ModelPrice] = {}

    # catalogue look-ups

    def provider(self, slug: str) -> Provider | None:
        """The provider with this slug (case-insensitive), or None."""
        if self._providers is None:
            self._providers = {provider.slug: provider for provider in Provider.objects.all()}
        return self._providers.get((slug or "").strip().lower())

    def model(self, name: str, provider_slug: str = "") -> AIModel | None:
        """The model this name (or alias) means, or None when nobody knows it."""
        if not name:
            return None
        key = (name, (provider_slug or "").strip().lower())
        if key not in self._models:
            self._models[key] = model_resolve(name=name, provider=key[1] or None)
        return self._models[key]

    def price_at(self, model: AIModel | None, at: datetime.datetime) -> ModelPrice | None:
        """The price version of ``model`` valid at ``at`` (``valid_from <= at < valid_to``)."""
        if model is None:
            return None
        if timezone.is_naive(at):
            raise ValueError("Prices are looked up at an aware datetime (UTC).")
        if model.pk not in self._windows:
            self._windows[model.pk] = list(ModelPrice.objects.filter(model=model).order_by("-valid_from"))
        for price in self._windows[model.pk]:
            if price.valid_from <= at and (price.valid_to is None or at < price.valid_to):
                return price
        return None

    def _snapshot(self, price: ModelPrice, at: datetime.datetime) -> gp.ModelPrice:
        units = price.price_units()
        index, in_force = units_at(units, at) if "time_of_day" in units else (0, units)
        if (price.pk, index) not in self._snapshots:
            self._snapshots[(price.pk, index)] = snapshot_from_units(in_force)
        return self._snapshots[(price.pk, index)]

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
        price = self.price_at(model, at)
        cost = None
        if price is not None:
            try:
                cost = self._snapshot(price, at).calc_price(usage)["total_price"]
            except ValueError as exc:
                if "Invalid usage data" in str(exc) or "Missing usage" in str(exc):
                    raise UnreadableUsage(str(exc), attr=attr) from exc
                cost = None  # a price genai-prices itself cannot apply: unpriced, not $0
        if cost is None:
            return Metered(
                units, **columns, total_tokens=total, cost_usd=None, cost_status=CostStatus.UNPRICED
            )
        # Rounded as the numeric(20, 10) column rounds (half away from zero), so the row in
        # memory, the one counted in rollups and the one stored are the same number.
        return Metered(
            units,
            **columns,
            total_tokens=total,
            cost_usd=cost.quantize(COST_QUANTUM, rounding=ROUND_HALF_UP),
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
        return Metered(
            metered.usage,
            metered.input_tokens,
            metered.output_tokens,
            metered.cache_read_tokens,
            metered.cache_write_tokens,
            row.total_tokens,
            metered.cost_usd,
            metered.cost_status,
            metered.price,
        )
