"""Two different "cache hits", named apart: ``cache/stats/`` counts lookups of the response
cache (``hits``), ``reports/cache/`` counts generations whose metric reported ``cache_hit``
(``reported_cache_hits``); the OpenAPI schema says which is which."""

from __future__ import annotations

import pytest

from generations import services as generation_services
from tests.generations.factories import CacheEntryFactory

pytestmark = pytest.mark.django_db


def test_a_response_cache_hit_and_a_reported_cache_hit_are_counted_apart(api_client, organization):
    # Given a response-cache lookup that hits, and a generation whose metric reports a cache hit
    CacheEntryFactory(organization=organization, key="k")
    assert api_client.get("/api/v1/cache/k/").status_code == 200
    generation = generation_services.generation_record(
        organization=organization,
        values={"request_id": "g", "model_name": "gpt-4o", "status": "success"},
        fingerprint="g",
    ).instance
    metric = {"generation": generation.pk, "total_duration_ms": 10, "cache_hit": True}
    assert api_client.post("/api/v1/metrics/", metric, format="json").status_code == 201

    # Then each endpoint counts its own kind, under its own name
    stats = api_client.get("/api/v1/cache/stats/").json()
    report = api_client.get("/api/v1/reports/cache/?group_by=").json()["totals"]
    assert (stats["hits"], stats["misses"]) == (1, 0)
    assert (report["requests"], report["reported_cache_hits"], report["reported_cache_hit_rate"]) == (
        1,
        1,
        "1.0000",
    )
    assert "cache_hits" not in report and "hits" not in report


def test_the_schema_says_which_cache_hit_each_endpoint_counts(client):
    schema = client.get("/api/v1/schema/?format=json").json()
    paths = schema["paths"]

    report = paths["/api/v1/reports/cache/"]["get"]["description"]
    stats = paths["/api/v1/cache/stats/"]["get"]["description"]
    hits = schema["components"]["schemas"]["CacheStats"]["properties"]["hits"]["description"]
    put = paths["/api/v1/cache/{key}/"]["put"]["responses"]

    assert "reported_cache_hits" in report and "cache/stats/" in report
    assert "response-cache" in stats.lower().replace("response cache", "response-cache")
    assert "reports/cache/" in stats
    assert "GET cache/{key}/" in hits
    assert {"200", "201"} <= set(put)
