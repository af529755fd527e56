"""The generations app's one door into providers: model resolution, usage normalisation, pricing.

Services call only these functions, so how providers resolves aliases or prices tokens can
change without touching ingestion. A :class:`Catalogue` lives for one service call and asks
providers once per distinct model name, so a bulk of 1,000 rows naming three models costs
three look-ups, not a thousand.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from providers.models import AIModel, ModelPrice, Provider
from providers.pricing import Usage, cost_with_price, price_for
from providers.selectors import model_resolve
from providers.usage_normalisation import usage_from_provider_payload
from tenancy.errors import DomainError

COST_QUANTUM = Decimal("1e-10")  # Generation.cost_usd has 10 decimal places

__all__ = ["Catalogue", "Priced", "UnreadableUsage", "Usage"]


class UnreadableUsage(DomainError):
    """A usage we cannot read or that cannot be true (unknown provider, missing keys, more cached
    tokens than input tokens)."""

    code = "invalid_usage"


@dataclass(frozen=True)
class Priced:
    """The cost of one generation: ``cost_usd`` is None (unpriced) when the model or its price
    at that moment is unknown."""

    cost_usd: Decimal | None
    price: ModelPrice | None


class Catalogue:
    """Providers, models and prices looked up once per service call.

    Pricing goes through providers' ``price_for`` (the price valid at a moment) and
    ``cost_with_price`` (pure arithmetic), which together are ``cost_of``: a bulk created at one
    moment asks for each model's price once.
    """

    def __init__(self):
        self._providers: dict[str, Provider] | None = None
        self._models: dict[tuple[str, str], AIModel | None] = {}
        self._prices: dict[tuple[int, datetime.datetime], ModelPrice | None] = {}

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

    @staticmethod
    def usage(*, attr: str = "input_tokens", **tokens: int) -> Usage:
        """Our token fields as a :class:`Usage` (refusing impossible combinations)."""
        try:
            return Usage(**tokens)
        except DomainError as exc:
            raise UnreadableUsage(exc.detail, attr=attr) from exc

    @staticmethod
    def usage_from_payload(*, provider_slug: str, payload: dict, attr: str = "usage") -> Usage:
        """Our :class:`Usage` from a provider's own usage object (OpenAI, Anthropic, Google)."""
        if not provider_slug:
            raise UnreadableUsage("A provider usage object needs the provider (or a known model).", attr=attr)
        try:
            return usage_from_provider_payload(provider=provider_slug, payload=payload)
        except DomainError as exc:
            raise UnreadableUsage(exc.detail, code=exc.code, attr=attr) from exc

    def price(self, *, model: AIModel | None, usage: Usage, at: datetime.datetime) -> Priced:
        """Cost of ``usage`` on ``model`` at the price valid at ``at``; unknown → unpriced."""
        if model is None:
            return Priced(None, None)
        key = (model.pk, at)
        if key not in self._prices:
            self._prices[key] = price_for(model=model, at=at)
        price = self._prices[key]
        if price is None:
            return Priced(None, None)
        total = cost_with_price(price=price, usage=usage).total_usd
        # Rounded as the numeric(20, 10) column rounds (half away from zero), so the row in
        # memory, the one signalled to analytics and the one stored are the same number.
        return Priced(total.quantize(COST_QUANTUM, rounding=ROUND_HALF_UP), price)
