"""Factories for analytics rows (factory-boy): one call builds a valid object.

They write rows directly (no rollup increments); tests that need rollups either ingest through
the services or rebuild with ``analytics.rollups.rollup_rebuild``.
"""

from __future__ import annotations

import hashlib

import factory
from django.utils import timezone

from analytics.models import PerformanceMetric, ProviderCall
from providers.choices import CostStatus
from tests.factories import OrganizationFactory


def fingerprint_of(key: str) -> str:
    """What clients send as ``key_fingerprint``: the SHA-256 hex of the provider key."""
    return hashlib.sha256(key.encode()).hexdigest()


class ProviderCallFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProviderCall

    organization = factory.SubFactory(OrganizationFactory)
    request_id = factory.Sequence(lambda n: f"call-{n:06d}")
    endpoint = "/v1/chat/completions"
    provider_name = "openai"
    model_name = "gpt-4o"
    input_tokens = 100
    output_tokens = 20
    total_tokens = 120
    status_code = 200
    success = True
    api_latency_ms = 850
    total_request_time_ms = 900
    occurred_at = factory.LazyFunction(timezone.now)
    cost_status = CostStatus.UNPRICED


class PerformanceMetricFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PerformanceMetric

    organization = factory.LazyAttribute(lambda metric: metric.generation.organization)
    total_duration_ms = 1200
    api_call_ms = 900
    cache_hit = False
    retry_count = 0
