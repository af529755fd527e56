"""Fixtures of the providers tests: the synced catalogue, credentials, a test spend source."""

from __future__ import annotations

import pytest

from providers.models import AIModel
from providers.price_sync import price_sync


@pytest.fixture
def catalogue(db):
    """Providers, text models and their price timelines from genai-prices' snapshot."""
    price_sync()
    return AIModel.objects.select_related("provider")
