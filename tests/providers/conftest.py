"""Fixtures of the providers tests: the synced catalogue, spending recorded as real rows."""

from __future__ import annotations

from decimal import Decimal

import pytest

from providers.choices import CostStatus
from providers.models import AIModel
from providers.price_sync import price_sync, snapshot_catalogue

# The full snapshot is ~2,300 models of ~45 providers; most tests need the four we started with.
FOUR = ("openai", "anthropic", "google", "perplexity")


@pytest.fixture
def catalogue(db):
    """Our four first providers, their models and price timelines from genai-prices' snapshot."""
    price_sync(catalogue=snapshot_catalogue(FOUR))
    return AIModel.objects.select_related("provider")


@pytest.fixture
def recorded_spend(db):
    """Spending recorded as real rows, read by budgets through the spend sources the apps
    register (``generations`` and ``analytics.provider_calls``), not a test-only source.

    ``recorded_spend(organization, cost, at, user_ref=None, fingerprint=None, requests=1)``
    records a generation created at ``at`` costing ``cost`` or, with ``fingerprint``, a provider
    call made with that key (the only spending a credential's budget sees); ``requests`` rows,
    the cost on the first. Each row's rollup deltas are written as ingestion writes them (budgets
    read whole days from the rollups).
    """
    from analytics.rollups import rollups_count_generations, rollups_count_provider_calls
    from generations.choices import RecordedAction
    from tests.analytics.factories import ProviderCallFactory
    from tests.generations.factories import GenerationFactory

    def record(organization, cost, at, *, user_ref=None, fingerprint=None, requests=1):
        for number in range(requests):
            fields = {
                "organization": organization,
                "cost_usd": Decimal(cost) if number == 0 else Decimal(0),
                "cost_status": CostStatus.PRICED,
                "user_ref": user_ref,
            }
            if fingerprint:
                call = ProviderCallFactory(occurred_at=at, key_fingerprint=fingerprint, **fields)
                rollups_count_provider_calls(calls=[call])
            else:
                generation = GenerationFactory(created_at=at, occurred_at=at, **fields)
                rollups_count_generations(
                    organization=organization, generations=[generation], action=RecordedAction.CREATED
                )

    return record
