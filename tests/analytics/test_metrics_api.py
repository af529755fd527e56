"""``metrics/``, ``model-performance/``, ``weekly-summaries/`` and ``cleanup-preferences/``:
idempotent metric ingestion feeding the rollups, read-only figures, retention preferences that
admins may shorten and nobody may lengthen."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from analytics.models import (
    CleanupPreferences,
    GenerationDailyRollup,
    ModelPerformance,
    PerformanceMetric,
    WeeklySummary,
)
from generations import services as generation_services
from generations.models import GenerationRun
from tenancy.models import AuditEvent
from tests.analytics.factories import PerformanceMetricFactory, rollup_sums
from tests.api_cases import TenantReadAPITests
from tests.generations.factories import GenerationFactory, GenerationRunFactory

pytestmark = pytest.mark.django_db
METRICS = "/api/v1/metrics/"
PREFERENCES = "/api/v1/cleanup-preferences/"


def metric_body(of, **overrides):
    return {
        "generation": of.pk,
        "total_duration_ms": 5200,
        "prompt_preparation_ms": 40,
        "api_call_ms": 4800,
        "response_processing_ms": 300,
        "save_ms": 60,
        "memory_mb": "212.50",
        "cpu_percent": "135.20",
        "content_length_chars": 1800,
        "content_word_count": 310,
        "validation_passed": False,
        "validation_errors": ["too long for X"],
        "cache_hit": True,
        "cache_key": "prompt:9f2c",
        "retry_count": 2,
        "retry_reasons": ["rate_limit", "timeout"],
        **overrides,
    }


def recorded_generation(organization):
    """A generation recorded through its service, so it is in the daily rollup."""
    return generation_services.generation_record(
        organization=organization,
        values={"request_id": "g", "model_name": "gpt-4o", "status": "success", "content_type": "blog"},
        fingerprint="g",
    ).instance


class TestMetricReadAPI(TenantReadAPITests):
    model = PerformanceMetric
    url = METRICS

    @pytest.fixture
    def make_object(self):
        return lambda organization: PerformanceMetricFactory(
            generation=GenerationFactory(organization=organization)
        )


class TestModelPerformanceReadAPI(TenantReadAPITests):
    model = ModelPerformance
    url = "/api/v1/model-performance/"

    @pytest.fixture
    def make_object(self):
        def make(organization):
            run = GenerationRunFactory(organization=organization)
            return ModelPerformance.objects.create(
                organization=organization, run=run, model_name="gpt-4o", requests=1
            )

        return make


class TestWeeklySummaryReadAPI(TenantReadAPITests):
    model = WeeklySummary
    url = "/api/v1/weekly-summaries/"

    @pytest.fixture
    def make_object(self):
        weeks = iter(range(1, 100))

        def make(organization):
            return WeeklySummary.objects.create(
                organization=organization,
                week_start=datetime.date(2026, 1, 5) + datetime.timedelta(weeks=next(weeks)),
            )

        return make


def test_a_metric_feeds_its_generations_rollup_group(api_client, organization):
    generation = recorded_generation(organization)

    response = api_client.post(METRICS, metric_body(generation), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["retry_reasons"] == ["rate_limit", "timeout"]
    rollup = rollup_sums(GenerationDailyRollup, organization=organization)
    assert (rollup.requests, rollup.cache_hits, rollup.retries, rollup.retried_requests) == (1, 1, 2, 1)
    # Not audited: the metric records the key that wrote it (DESIGN §3).
    assert not AuditEvent.objects.filter(object_type="analytics.performancemetric").exists()
    assert PerformanceMetric.objects.get(generation=generation).recorded_by_key == api_client.api_key


def test_the_same_metric_again_is_a_replay_and_another_body_a_conflict(api_client, organization):
    generation = recorded_generation(organization)
    first = api_client.post(METRICS, metric_body(generation), format="json")

    again = api_client.post(METRICS, metric_body(generation), format="json")
    other = api_client.post(METRICS, metric_body(generation, retry_count=3, retry_reasons=[]), format="json")

    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 409)
    assert again.json() == first.json()
    assert other.json()["errors"][0]["code"] == "conflicting_replay"
    assert rollup_sums(GenerationDailyRollup).retries == 2


@pytest.mark.parametrize(
    ("overrides", "attr"),
    [
        pytest.param({"total_duration_ms": -1}, "total_duration_ms", id="negative-duration"),
        pytest.param({"api_call_ms": -20}, "api_call_ms", id="negative-latency"),
        pytest.param({"memory_mb": "-1"}, "memory_mb", id="negative-memory"),
        pytest.param({"cpu_percent": "-0.5"}, "cpu_percent", id="negative-cpu"),
        pytest.param({"retry_count": -1}, "retry_count", id="negative-retries"),
        pytest.param({"retry_count": 1}, "retry_reasons", id="more-reasons-than-retries"),
        pytest.param({"generation": 999_999}, "generation", id="unknown-generation"),
    ],
)
def test_bad_metrics_are_a_clear_400_and_write_nothing(api_client, organization, overrides, attr):
    generation = recorded_generation(organization)
    before = (PerformanceMetric.objects.count(), list(GenerationDailyRollup.objects.values()))

    response = api_client.post(METRICS, metric_body(generation, **overrides), format="json")

    assert response.status_code == 400, response.content
    assert response.json()["type"] == "validation_error"
    assert attr in [error["attr"] for error in response.json()["errors"]]
    assert (PerformanceMetric.objects.count(), list(GenerationDailyRollup.objects.values())) == before


def test_metrics_of_another_organizations_generation_are_refused(api_client, other_organization):
    theirs = GenerationFactory(organization=other_organization)

    response = api_client.post(METRICS, metric_body(theirs), format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "does_not_exist"
    assert not PerformanceMetric.objects.exists()


def test_model_performance_follows_the_runs_generations(api_client, organization, priced_models):
    run = GenerationRun.objects.create(
        organization=organization, models_requested=["gpt-4o", "claude-sonnet-4-0"]
    )
    for n, (model, status, time) in enumerate(
        [("gpt-4o", "success", 1000), ("gpt-4o", "failed", 3000), ("claude-sonnet-4-0", "success", 2000)]
    ):
        body = {
            "request_id": f"r{n}",
            "model": model,
            "run": run.pk,
            "status": status,
            "input_tokens": 100,
            "output_tokens": 10,
            "generation_time_ms": time,
        }
        assert api_client.post("/api/v1/generations/", body, format="json").status_code == 201

    response = api_client.get("/api/v1/model-performance/", {"run": run.pk})

    rows = {row["model"]: row for row in response.json()["results"]}
    assert rows["gpt-4o"]["requests"] == 2
    assert rows["gpt-4o"]["successes"] == rows["gpt-4o"]["items_generated"] == 1
    assert rows["gpt-4o"]["success_rate"] == 0.5
    assert rows["gpt-4o"]["average_response_time_ms"] == 2000
    assert rows["gpt-4o"]["response_time_ms_max"] == 3000
    assert rows["claude-sonnet-4-0"]["success_rate"] == 1.0
    assert Decimal(rows["claude-sonnet-4-0"]["cost_usd"]) > 0


def test_cleanup_preferences_show_the_retention_in_force(api_client):
    response = api_client.get(PREFERENCES)

    assert response.status_code == 200
    assert response.json()["generations_days"] is None
    assert response.json()["effective"] == {
        "generations_days": 730,
        "failed_generations_days": 30,
        "provider_calls_days": 365,
        "performance_metrics_days": 90,
        "empty_runs_days": 7,
    }


def test_an_admin_key_may_shorten_retention_and_it_is_audited(admin_api_client, organization):
    response = admin_api_client.patch(PREFERENCES, {"provider_calls_days": 30}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["effective"]["provider_calls_days"] == 30
    preferences = CleanupPreferences.objects.get(organization=organization)
    assert AuditEvent.objects.for_object(preferences).filter(action="create").exists()

    reset = admin_api_client.put(PREFERENCES, {"generations_days": 365}, format="json")
    assert reset.json()["effective"]["provider_calls_days"] == 365  # PUT left it out: back to default
    assert reset.json()["generations_days"] == 365


@pytest.mark.parametrize(
    ("payload", "attr"),
    [
        pytest.param({"generations_days": 731}, "generations_days", id="longer-than-platform"),
        pytest.param({"failed_generations_days": 0}, "failed_generations_days", id="zero"),
        pytest.param({"empty_runs_days": -3}, "empty_runs_days", id="negative"),
    ],
)
def test_retention_may_not_be_lengthened_or_nonsense(admin_api_client, payload, attr):
    response = admin_api_client.patch(PREFERENCES, payload, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == attr
    assert not CleanupPreferences.objects.exists()


def test_an_editor_key_cannot_change_retention(api_client, viewer_api_client):
    assert api_client.patch(PREFERENCES, {"generations_days": 30}, format="json").status_code == 403
    assert viewer_api_client.patch(PREFERENCES, {"generations_days": 30}, format="json").status_code == 403
    assert not CleanupPreferences.objects.exists()


def test_preferences_are_per_organization(admin_api_client, other_api_client, other_organization):
    admin_api_client.patch(PREFERENCES, {"generations_days": 60}, format="json")

    theirs = other_api_client.get(PREFERENCES).json()

    assert theirs["effective"]["generations_days"] == 730
    assert not CleanupPreferences.objects.filter(organization=other_organization).exists()
