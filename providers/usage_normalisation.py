"""Provider-native usage objects (OpenAI ``usage``, Anthropic ``usage``, Google
``usageMetadata``, Perplexity ``usage``) to our :class:`~providers.pricing.Usage`, read by
``genai_prices.extract_usage`` so cached and cache-write tokens are counted as genai-prices
prices them."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import genai_prices

from providers.choices import ProviderSlug
from providers.pricing import Usage
from tenancy.errors import DomainError

# Where each provider's usage object sits in its response, as genai-prices' extractors expect.
_ROOT = {
    ProviderSlug.OPENAI: "usage",
    ProviderSlug.ANTHROPIC: "usage",
    ProviderSlug.GOOGLE: "usageMetadata",
    ProviderSlug.PERPLEXITY: "usage",
}
_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


def _api_flavor(provider: str, usage_object: Mapping[str, Any]) -> str:
    """genai-prices names one extractor per API shape; pick it from the object's own keys."""
    if provider == ProviderSlug.OPENAI:
        # Chat Completions says prompt_tokens; the Responses API says input_tokens.
        return "chat" if "prompt_tokens" in usage_object else "responses"
    if provider == ProviderSlug.PERPLEXITY:
        return "default" if "prompt_tokens" in usage_object else "responses"
    return "default"


def _whole(name: str, value: Any) -> int:
    if isinstance(value, Decimal | float) and value == int(value):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise DomainError(f"Usage {name} must be a whole number of tokens.", attr="usage")
    return value


def usage_from_provider_payload(*, provider: str, payload: dict) -> Usage:
    """Normalise a provider's own usage object.

    ``payload`` is the usage object itself (``{"prompt_tokens": …}``) or a response holding it
    under the provider's key (``{"usage": {…}}``, ``{"usageMetadata": {…}}``). Anything
    unreadable (unknown provider, missing counts, wrong types, negative numbers) raises
    ``DomainError`` with ``attr="usage"``.
    """
    slug = (provider or "").strip().lower()
    if slug not in _ROOT:
        raise DomainError(
            f"Cannot read usage of provider {provider!r}; known: {', '.join(sorted(_ROOT))}.",
            code="unknown_provider",
            attr="usage",
        )
    if not isinstance(payload, Mapping) or not payload:
        raise DomainError("The usage object must be a non-empty JSON object.", attr="usage")
    root = _ROOT[slug]
    usage_object = payload[root] if isinstance(payload.get(root), Mapping) else payload
    try:
        extracted = genai_prices.extract_usage(
            {root: usage_object}, provider_id=slug, api_flavor=_api_flavor(slug, usage_object)
        )
        counts = {name: getattr(extracted.usage, name) for name in _FIELDS}
    except (ValueError, TypeError, KeyError, LookupError) as exc:
        raise DomainError(f"Unreadable {slug} usage object: {exc}", attr="usage") from exc
    return Usage(**{name: _whole(name, value) for name, value in counts.items()})
