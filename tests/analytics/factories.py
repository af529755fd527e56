"""Factories for analytics rows (factory-boy): one call builds a valid object.

They write rows directly (no rollup increments); tests that need rollups either ingest through
the services or rebuild with ``analytics.rollups.rollup_rebuild``.
"""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

import factory
from django.db import models
from django.db.models import Max, Sum
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
    generation = None
    # As ingestion records it (analytics.services): whether the call came with a generation.
    recorded_with_generation = factory.LazyAttribute(lambda call: call.generation is not None)


class PerformanceMetricFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PerformanceMetric

    organization = factory.LazyAttribute(lambda metric: metric.generation.organization)
    total_duration_ms = 1200
    api_call_ms = 900
    cache_hit = False
    retry_count = 0


def rollup_sums(model, **filters) -> SimpleNamespace:
    """One group of an append-only rollup as a reader sees it: its delta rows' sums (maxima:
    MAX), and each dimension that has a single value among them."""
    rows = model.objects.filter(**filters)
    measures, dimensions = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key or field.name == "updated_at":
            continue
        if isinstance(field, models.BigIntegerField | models.DecimalField) or field.name.endswith("_max"):
            measures.append(field.name)
        else:
            dimensions.append(field.attname)
    figures = rows.aggregate(**{name: Max(name) if name.endswith("_max") else Sum(name) for name in measures})
    assert rows.exists(), f"no {model.__name__} rows for {filters}"
    for name in dimensions:
        values = set(rows.values_list(name, flat=True))
        if len(values) == 1:
            figures[name] = values.pop()
    return SimpleNamespace(**figures)
