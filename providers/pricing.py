"""What a model costs: the price valid at a moment, and the cost of a usage at that price.

Every part of Inkwell prices tokens through :func:`cost_of`, so one rule holds everywhere: the
result equals ``genai_prices.calc_price`` for the same model, usage and moment, to the last
decimal (``tests/providers/test_pricing.py`` checks it), and an unknown model or a moment with no
price is ``unpriced``, never a silent $0.

Usage follows genai-prices' convention: ``input_tokens`` counts *every* input token, cache
reads and cache writes included; ``cache_read_tokens`` and ``cache_write_tokens`` say how many
of them were cache reads and writes. (Anthropic reports ``input_tokens`` without the cached
ones; ``providers.usage_normalisation`` adds them back.)
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from providers.choices import CostStatus
from providers.models import AIModel, ModelPrice
from tenancy.errors import DomainError

TOKENS_PER_MTOK = 1_000_000
REQUESTS_PER_K = 1_000


@dataclass(frozen=True)
class Usage:
    """Normalised token counts of one call. ``input_tokens`` includes cached tokens."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def __post_init__(self):
        for name in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise DomainError(f"{name} must be a whole number ≥ 0, not {value!r}.", attr="usage")
        if self.cache_read_tokens + self.cache_write_tokens > self.input_tokens:
            raise DomainError(
                "cache_read_tokens + cache_write_tokens cannot exceed input_tokens "
                "(input_tokens counts every input token, cached ones included).",
                attr="usage",
            )

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class CostResult:
    """The cost of a usage: ``total_usd`` is None exactly when ``status`` is ``unpriced``.

    ``input_usd`` (input, cache read and cache write) and ``output_usd`` break the total down as
    genai-prices does; a per-request fee counts in the total only.
    """

    total_usd: Decimal | None
    status: CostStatus
    price: ModelPrice | None
    input_usd: Decimal | None = None
    output_usd: Decimal | None = None


UNPRICED = CostResult(None, CostStatus.UNPRICED, None)


def _aware(at: datetime.datetime) -> datetime.datetime:
    if timezone.is_naive(at):
        raise ValueError("Prices are looked up at an aware datetime (UTC).")
    return at


def price_for(*, model: AIModel, at: datetime.datetime) -> ModelPrice | None:
    """The price of ``model`` valid at ``at`` (``valid_from <= at < valid_to``), or None."""
    return ModelPrice.objects.valid_at(_aware(at)).filter(model=model).order_by("-valid_from").first()


def rate(price: ModelPrice, field: str, input_tokens: int) -> Decimal | None:
    """The price per unit of ``field`` for a call with ``input_tokens`` input tokens.

    A tier applies to *all* tokens of the call once its total input exceeds the tier's start
    (the "cliff" model genai-prices and the providers use).
    """
    base = getattr(price, field)
    if base is None:
        return None
    applicable = base
    for tier in sorted((price.tiers or {}).get(field, ()), key=lambda tier: tier["start"]):
        if input_tokens > tier["start"]:
            applicable = Decimal(tier["usd_per_mtok"])
    return applicable


def cost_with_price(*, price: ModelPrice, usage: Usage) -> CostResult:
    """The cost of ``usage`` at ``price`` (no database access)."""
    # Tokens priced separately are taken out of the input count; tokens with no price of their
    # own (no cache-write price, say) stay in it and cost the input price, as in genai-prices.
    plain_input = usage.input_tokens
    if price.cache_read_usd_per_mtok is not None:
        plain_input -= usage.cache_read_tokens
    if price.cache_write_usd_per_mtok is not None:
        plain_input -= usage.cache_write_tokens
    counts = (
        ("input_usd_per_mtok", plain_input, "input"),
        ("cache_read_usd_per_mtok", usage.cache_read_tokens, "input"),
        ("cache_write_usd_per_mtok", usage.cache_write_tokens, "input"),
        ("output_usd_per_mtok", usage.output_tokens, "output"),
    )
    input_usd = Decimal(0)
    output_usd = Decimal(0)
    total = Decimal(0)
    for field, count, direction in counts:
        unit_rate = rate(price, field, usage.input_tokens)
        if unit_rate is None:
            continue
        amount = unit_rate * Decimal(count) / TOKENS_PER_MTOK
        total += amount
        if direction == "input":
            input_usd += amount
        else:
            output_usd += amount
    if price.usd_per_k_requests is not None:
        total += price.usd_per_k_requests * Decimal(1) / REQUESTS_PER_K
    return CostResult(total, CostStatus.PRICED, price, input_usd=input_usd, output_usd=output_usd)


def cost_of(*, model: AIModel | None, usage: Usage, at: datetime.datetime) -> CostResult:
    """The cost of ``usage`` on ``model`` at the price valid at ``at``.

    An unknown model (None) or no price valid at ``at`` gives ``CostResult(None, UNPRICED,
    None)``: the caller stores the row as unpriced, never as $0.
    """
    if model is None:
        return UNPRICED
    price = price_for(model=model, at=at)
    if price is None:
        return UNPRICED
    return cost_with_price(price=price, usage=usage)
