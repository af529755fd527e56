"""Fixtures of the analytics tests: a small priced catalogue."""

from __future__ import annotations

import pytest

from providers.price_sync import price_sync, snapshot_catalogue

FOUR = ("openai", "anthropic", "google", "perplexity")
PRICED_MODELS = {"gpt-4o", "gpt-4o-mini", "claude-sonnet-4-0", "gemini-2.5-flash"}


@pytest.fixture
def priced_models(db):
    """Providers, a few models and their price timelines, synced from genai-prices' snapshot."""
    price_sync(catalogue=[entry for entry in snapshot_catalogue(FOUR) if entry.name in PRICED_MODELS])
