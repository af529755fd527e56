"""Rollups stay exact: after random ingestion (creates, status changes, metrics, replays, soft
deletes) every rollup row equals an aggregation of the raw rows, the rebuild gives the same rows
twice over, and nothing another organization did leaks in."""

from __future__ import annotations

import datetime
import random
from decimal import Decimal

import pytest
from django.db.models import Case, Count, IntegerField, Max, Q, Sum, Value, When
from django.db.models.functions import Coalesce, TruncDate, TruncHour

from analytics import rollups, services
from analytics.models import (
    GenerationDailyRollup,
    GenerationDayRollup,
    GenerationModelDailyRollup,
    GenerationUserDailyRollup,
    ModelPerformance,
    PerformanceMetric,
    ProviderCall,
    ProviderCallDailyRollup,
    ProviderCallKeyDailyRollup,
    ProviderCallModelDailyRollup,
    ProviderCallUserDailyRollup,
    RetentionBatch,
    UserDailyRollup,
    UserHourlyRollup,
)
from generations import services as generation_services
from generations.models import Generation
from tests.analytics.factories import rollup_sums
from tests.analytics.random_ingestion import START, ingest_random
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db
UTC = datetime.UTC


def _count(condition: Q):
    return Sum(Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField()))


def raw_generation_groups(organization=None) -> set[tuple]:
    """The daily rollup recomputed from raw generations and metrics with the ORM."""
    rows = Generation.all_objects.all()
    if organization is not None:
        rows = rows.filter(organization=organization)
    grouped = (
        rows.annotate(
            g_day=TruncDate("created_at", tzinfo=UTC),
            g_provider=Coalesce("provider__slug", "provider_name"),
            g_model=Coalesce("model__name", "model_name"),
            g_user=Coalesce("user_ref", Value("")),
        )
        .values("organization_id", "g_day", "g_provider", "g_model", "content_type", "g_user")
        .annotate(
            requests=Count("id"),
            successes=_count(Q(status="success")),
            partials=_count(Q(status="partial")),
            failures=_count(Q(status="failed")),
            cancelled=_count(Q(status="cancelled")),
            input_tokens=Sum("input_tokens"),
            output_tokens=Sum("output_tokens"),
            cache_read_tokens=Sum("cache_read_tokens"),
            cache_write_tokens=Sum("cache_write_tokens"),
            total_tokens=Sum("total_tokens"),
            cost=Coalesce(Sum("cost_usd"), Value(Decimal(0))),
            unpriced=_count(Q(cost_usd__isnull=True)),
            cache_hits=_count(Q(performance_metric__cache_hit=True)),
            retries=Coalesce(Sum("performance_metric__retry_count"), Value(0)),
            retried=_count(Q(performance_metric__retry_count__gt=0)),
            latency_sum=Coalesce(Sum("generation_time_ms"), Value(0)),
            latency_count=Count("generation_time_ms"),
            latency_max=Max("generation_time_ms"),
        )
    )
    return {tuple(row.values()) for row in grouped}


def _summed(
    rows, keys: tuple[str, ...], measures: tuple[str, ...], maxima: tuple[str, ...] = ()
) -> set[tuple]:
    """The rollup's groups: its append-only delta rows summed per group (maxima: MAX)."""
    aggregates = {f"m_{name}": Sum(name) for name in measures}
    aggregates.update({f"m_{name}": Max(name) for name in maxima})
    order = [*measures, *maxima]
    grouped = rows.values(*keys).annotate(**aggregates).order_by()
    return {tuple(row[key] for key in keys) + tuple(row[f"m_{name}"] for name in order) for row in grouped}


GENERATION_MEASURES = (
    "requests",
    "successes",
    "partials",
    "failures",
    "cancelled",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "total_tokens",
    "cost_usd",
    "unpriced_requests",
    "cache_hits",
    "retries",
    "retried_requests",
    "latency_ms_sum",
    "latency_count",
)
CALL_MEASURES = (
    "requests",
    "successes",
    "failures",
    "rate_limited",
    "timeouts",
    "total_tokens",
    "cost_usd",
    "unpriced_requests",
    "standalone_requests",
    "standalone_cost_usd",
    "latency_ms_sum",
    "slow_requests",
)


def rollup_generation_groups(organization=None) -> set[tuple]:
    rows = GenerationDailyRollup.objects.all()
    if organization is not None:
        rows = rows.filter(organization=organization)
    return _summed(
        rows,
        ("organization_id", "day", "provider_name", "model_name", "content_type", "user_ref"),
        GENERATION_MEASURES,
        ("latency_ms_max",),
    )


def raw_call_groups() -> set[tuple]:
    grouped = (
        ProviderCall.objects.annotate(
            c_day=TruncDate("occurred_at", tzinfo=UTC),
            c_provider=Coalesce("provider__slug", "provider_name"),
            c_model=Coalesce("model__name", "model_name"),
            c_user=Coalesce("user_ref", Value("")),
        )
        .values(
            "organization_id", "c_day", "c_provider", "c_model", "content_type", "c_user", "key_fingerprint"
        )
        .annotate(
            requests=Count("id"),
            successes=_count(Q(success=True)),
            failures=_count(Q(success=False)),
            rate_limited=_count(Q(error_type="rate_limit")),
            timeouts=_count(Q(error_type="timeout")),
            total_tokens=Sum("total_tokens"),
            cost=Coalesce(Sum("cost_usd"), Value(Decimal(0))),
            unpriced=_count(Q(cost_usd__isnull=True)),
            # What budgets count of the calls themselves: those recorded without a generation.
            standalone=_count(Q(recorded_with_generation=False)),
            standalone_cost=Coalesce(
                Sum("cost_usd", filter=Q(recorded_with_generation=False)), Value(Decimal(0))
            ),
            latency_sum=Coalesce(Sum("api_latency_ms"), Value(0)),
            latency_max=Max("api_latency_ms"),
            slow=_count(Q(api_latency_ms__gt=5000)),
        )
    )
    return {tuple(row.values()) for row in grouped}


def rollup_call_groups() -> set[tuple]:
    return {
        (*row[:-2], row[-1], row[-2])  # the raw side puts the maximum before the slow count
        for row in _summed(
            ProviderCallDailyRollup.objects.all(),
            (
                "organization_id",
                "day",
                "provider_name",
                "model_name",
                "content_type",
                "user_ref",
                "key_fingerprint",
            ),
            CALL_MEASURES,
            ("latency_ms_max",),
        )
    }


def _collapse(groups: set[tuple], *, keys: int, dropped: int, maximum: int) -> set[tuple]:
    """Groups summed over the dimensions after the first ``keys`` (user, key): the per-model
    rollup's groups. ``dropped`` dimensions go; the measure at ``maximum`` is a MAX."""
    merged: dict[tuple, list] = {}
    for group in groups:
        key, measures = group[:keys], list(group[keys + dropped :])
        if key not in merged:
            merged[key] = measures
            continue
        for n, value in enumerate(measures):
            current = merged[key][n]
            if n == maximum % len(measures):
                merged[key][n] = max((v for v in (current, value) if v is not None), default=None)
            else:
                merged[key][n] = current + value
    return {(*key, *measures) for key, measures in merged.items()}


def raw_model_groups(organization=None) -> set[tuple]:
    """The generations' per-model rollup recomputed from raw rows."""
    return _collapse(raw_generation_groups(organization), keys=5, dropped=1, maximum=-1)


def rollup_model_groups(organization=None) -> set[tuple]:
    rows = GenerationModelDailyRollup.objects.all()
    if organization is not None:
        rows = rows.filter(organization=organization)
    return _model_rows(rows)


def _model_rows(rows) -> set[tuple]:
    return _summed(
        rows,
        ("organization_id", "day", "provider_name", "model_name", "content_type"),
        GENERATION_MEASURES,
        ("latency_ms_max",),
    )


def raw_day_groups(organization=None) -> set[tuple]:
    """The generations' per-day rollup recomputed from raw rows (it keeps no latency maximum)."""
    return {
        group[:-1] for group in _collapse(raw_generation_groups(organization), keys=2, dropped=4, maximum=-1)
    }


def rollup_day_groups(organization=None) -> set[tuple]:
    rows = GenerationDayRollup.objects.all()
    if organization is not None:
        rows = rows.filter(organization=organization)
    return _summed(rows, ("organization_id", "day"), GENERATION_MEASURES)


USER_DAY = ("organization_id", "day", "user_ref")


def rollup_user_day_groups() -> tuple[set[tuple], set[tuple]]:
    """The per-day-and-user rollups' groups, every summed column: generations', calls'."""
    return (
        _summed(GenerationUserDailyRollup.objects.all(), USER_DAY, rollups.GENERATION_SUMS),
        _summed(ProviderCallUserDailyRollup.objects.all(), USER_DAY, rollups.PROVIDER_CALL_SUMS),
    )


def full_user_day_groups() -> tuple[set[tuple], set[tuple]]:
    """What :func:`rollup_user_day_groups` must be: the full per-user rollups (which the tests
    hold equal to the raw rows) summed over providers, models, content types and keys."""
    return (
        _summed(GenerationDailyRollup.objects.all(), USER_DAY, rollups.GENERATION_SUMS),
        _summed(ProviderCallDailyRollup.objects.all(), USER_DAY, rollups.PROVIDER_CALL_SUMS),
    )


def raw_call_model_groups() -> set[tuple]:
    return _collapse(raw_call_groups(), keys=5, dropped=2, maximum=-2)


def rollup_call_model_groups() -> set[tuple]:
    return {
        (*row[:-2], row[-1], row[-2])
        for row in _summed(
            ProviderCallModelDailyRollup.objects.all(),
            ("organization_id", "day", "provider_name", "model_name", "content_type"),
            CALL_MEASURES,
            ("latency_ms_max",),
        )
    }


KEY_MEASURES = (
    "requests",
    "successes",
    "failures",
    "rate_limited",
    "total_tokens",
    "cost_usd",
    "unpriced_requests",
    "no_usage_requests",
)


def raw_call_key_groups() -> set[tuple]:
    """The per-key rollup recomputed from raw provider calls with the ORM."""
    grouped = (
        ProviderCall.objects.annotate(c_day=TruncDate("occurred_at", tzinfo=UTC))
        .values("organization_id", "c_day", "key_fingerprint")
        .annotate(
            requests=Count("id"),
            successes=_count(Q(success=True)),
            failures=_count(Q(success=False)),
            rate_limited=_count(Q(error_type="rate_limit")),
            total_tokens=Coalesce(Sum("total_tokens"), Value(0)),
            cost=Coalesce(Sum("cost_usd"), Value(Decimal(0))),
            unpriced=_count(Q(cost_status="unpriced")),
            no_usage=_count(Q(cost_status="no_usage")),
        )
    )
    return {tuple(row.values()) for row in grouped}


def rollup_call_key_groups() -> set[tuple]:
    return _summed(
        ProviderCallKeyDailyRollup.objects.all(), ("organization_id", "day", "key_fingerprint"), KEY_MEASURES
    )


def raw_user_hours() -> set[tuple]:
    grouped = (
        ProviderCall.objects.filter(user_ref__isnull=False)
        .annotate(c_hour=TruncHour("occurred_at", tzinfo=UTC))
        .values("organization_id", "c_hour", "user_ref")
        .annotate(requests=Count("id"), rate_limited=_count(Q(error_type="rate_limit")))
    )
    return {tuple(row.values()) for row in grouped}


def rollup_user_hours() -> set[tuple]:
    return _summed(
        UserHourlyRollup.objects.all(), ("organization_id", "hour", "user_ref"), ("requests", "rate_limited")
    )


def raw_user_days() -> dict[tuple, tuple[int, int, int]]:
    """Per organization, UTC day and user: requests, rate-limited requests and the busiest
    hour's requests, from the raw provider calls."""
    days: dict[tuple, tuple[int, int, int]] = {}
    for organization_id, hour, user_ref, requests, rate_limited in raw_user_hours():
        key = (organization_id, hour.astimezone(UTC).date(), user_ref)
        total, limited, busiest = days.get(key, (0, 0, 0))
        days[key] = (total + requests, limited + rate_limited, max(busiest, requests))
    return days


def rollup_user_days() -> dict[tuple, tuple[int, int, int]]:
    """The per-user daily rollup's groups: (requests, rate-limited, bound on the busiest hour)."""
    summed = _summed(
        UserDailyRollup.objects.all(),
        ("organization_id", "day", "user_ref"),
        ("requests", "rate_limited", "busiest_hour_bound"),
    )
    return {row[:3]: row[3:] for row in summed}


def assert_user_days_bound_the_busiest_hours(*, exact: bool) -> None:
    """Each user-day's requests and rate-limited requests are the raw ones, and its bound is at
    least its busiest hour's requests (``exact``: equal, as after a fold or rebuild)."""
    raw, rolled = raw_user_days(), rollup_user_days()
    assert rolled.keys() == raw.keys()
    for key, (requests, rate_limited, busiest) in raw.items():
        assert rolled[key][:2] == (requests, rate_limited), key
        if exact:
            assert rolled[key][2] == busiest, key
        else:
            assert busiest <= rolled[key][2] <= requests, key


def raw_run_groups() -> set[tuple]:
    grouped = (
        Generation.all_objects.filter(run__isnull=False)
        .annotate(
            g_provider=Coalesce("provider__slug", "provider_name"),
            g_model=Coalesce("model__name", "model_name"),
        )
        .values("organization_id", "run_id", "g_provider", "g_model")
        .annotate(
            requests=Count("id"),
            successes=_count(Q(status="success")),
            items=_count(Q(status__in=["success", "partial"])),
            failures=_count(Q(status="failed")),
            total_tokens=Sum("total_tokens"),
            cost=Coalesce(Sum("cost_usd"), Value(Decimal(0))),
            time_sum=Coalesce(Sum("generation_time_ms"), Value(0)),
            time_max=Max("generation_time_ms"),
        )
    )
    return {tuple(row.values()) for row in grouped}


def rollup_run_groups() -> set[tuple]:
    return set(
        ModelPerformance.objects.values_list(
            "organization_id",
            "run_id",
            "provider_name",
            "model_name",
            "requests",
            "successes",
            "items_generated",
            "failures",
            "total_tokens",
            "cost_usd",
            "response_time_ms_sum",
            "response_time_ms_max",
        )
    )


def test_rollups_equal_a_raw_aggregation_after_random_ingestion(priced_models, at):
    organizations = [OrganizationFactory(slug=f"org-{n}") for n in range(3)]
    rng = random.Random(20260301)

    ingest_random(organizations, rng, at, generations=300, calls=300)

    assert GenerationDailyRollup.objects.count() > 50
    assert rollup_generation_groups() == raw_generation_groups()
    assert rollup_model_groups() == raw_model_groups()
    assert len(rollup_model_groups()) < len(rollup_generation_groups()), "the users fold away"
    assert rollup_day_groups() == raw_day_groups()
    assert len(rollup_day_groups()) < len(rollup_model_groups()), "the models fold away"
    assert rollup_call_groups() == raw_call_groups()
    assert rollup_call_model_groups() == raw_call_model_groups()
    assert rollup_call_key_groups() == raw_call_key_groups()
    assert len(rollup_call_key_groups()) < len(rollup_call_groups()), "models and users fold away"
    assert rollup_user_day_groups() == full_user_day_groups()
    assert len(rollup_user_day_groups()[0]) < len(rollup_generation_groups()), "the models fold away"
    assert rollup_user_hours() == raw_user_hours()
    assert_user_days_bound_the_busiest_hours(exact=False)
    assert rollup_run_groups() == raw_run_groups()
    assert PerformanceMetric.objects.filter(cache_hit=True).exists()
    assert Generation.deleted_objects.exists(), "soft-deleted generations still count: their cost was spent"


def test_a_rebuild_gives_the_same_rollups_and_is_idempotent(priced_models, at):
    organizations = [OrganizationFactory(slug=f"org-{n}") for n in range(2)]
    ingest_random(organizations, random.Random(7), at, generations=120, calls=120)
    incremental = (
        rollup_generation_groups(),
        rollup_call_groups(),
        rollup_run_groups(),
        rollup_user_hours(),
        rollup_model_groups(),
        rollup_day_groups(),
        rollup_call_model_groups(),
        rollup_call_key_groups(),
        rollup_user_day_groups(),
    )
    GenerationDailyRollup.objects.all().delete()
    GenerationModelDailyRollup.objects.all().delete()
    GenerationDayRollup.objects.all().delete()
    GenerationUserDailyRollup.objects.all().delete()
    ProviderCallDailyRollup.objects.all().delete()
    ProviderCallModelDailyRollup.objects.all().delete()
    ProviderCallKeyDailyRollup.objects.all().delete()
    ProviderCallUserDailyRollup.objects.all().delete()
    UserHourlyRollup.objects.all().delete()
    UserDailyRollup.objects.all().delete()
    ModelPerformance.objects.all().delete()

    for _ in range(2):
        rollups.rollup_rebuild(date_from=datetime.date(2026, 1, 25), date_to=datetime.date(2026, 3, 1))

    assert (
        rollup_generation_groups(),
        rollup_call_groups(),
        rollup_run_groups(),
        rollup_user_hours(),
        rollup_model_groups(),
        rollup_day_groups(),
        rollup_call_model_groups(),
        rollup_call_key_groups(),
        rollup_user_day_groups(),
    ) == incremental
    assert rollup_day_groups() == raw_day_groups()
    assert rollup_user_day_groups() == full_user_day_groups()
    assert rollup_call_key_groups() == raw_call_key_groups()
    assert_user_days_bound_the_busiest_hours(exact=True)


def test_a_fold_makes_the_busiest_hour_bounds_exact_and_later_calls_raise_them(
    organization, priced_models, at
):
    def call(n: int, moment: datetime.datetime, user: str = "ana") -> None:
        services.provider_call_record(
            organization=organization,
            values={
                "request_id": f"call-{n}",
                "endpoint": "/v1/chat/completions",
                "provider_name": "openai",
                "model_name": "gpt-4o",
                "status_code": 429 if n % 3 == 0 else 200,
                "occurred_at": moment,
                "user_ref": user,
            },
            fingerprint=f"call-{n}",
        )

    # ana: 3 calls at 09:00, 2 at 10:00, 1 at 23:00; ben: 1 at 09:00.
    for n, hour in enumerate([9, 9, 9, 10, 10, 23]):
        call(n, START + datetime.timedelta(hours=hour, minutes=n))
    call(6, START + datetime.timedelta(hours=9), user="ben")
    assert rollup_user_days()[(organization.pk, START.date(), "ana")][2] == 6, "unfolded: every call"
    assert_user_days_bound_the_busiest_hours(exact=False)

    for _ in range(2):  # idempotent
        folded = rollups.rollups_fold(organization=organization, date_from=START.date(), date_to=START.date())
        assert folded[UserDailyRollup._meta.db_table][1] == 2
        assert_user_days_bound_the_busiest_hours(exact=True)
    assert rollup_user_days()[(organization.pk, START.date(), "ana")] == (6, 2, 3)

    call(7, START + datetime.timedelta(hours=23, minutes=30))  # 23:00 now has 2: still under 09:00
    assert rollup_user_days()[(organization.pk, START.date(), "ana")] == (7, 2, 4)
    assert_user_days_bound_the_busiest_hours(exact=False)
    rollups.rollups_fold(organization=None, date_from=START.date(), date_to=START.date())
    assert rollup_user_days()[(organization.pk, START.date(), "ana")] == (7, 2, 3)


def test_a_rebuild_leaves_other_days_and_organizations_alone(priced_models, at):
    mine, theirs = OrganizationFactory(slug="mine"), OrganizationFactory(slug="theirs")
    ingest_random([mine, theirs], random.Random(11), at, generations=80, calls=0)
    theirs_before = rollup_generation_groups(theirs)
    outside = set(
        GenerationDailyRollup.objects.filter(organization=mine)
        .exclude(day=START.date() + datetime.timedelta(days=3))
        .values_list()
    )
    GenerationDailyRollup.objects.filter(organization=mine).update(requests=999_999)  # corrupt them all

    rollups.rollup_rebuild(
        date_from=START.date() + datetime.timedelta(days=3),
        date_to=START.date() + datetime.timedelta(days=3),
        organizations=[mine],
    )

    rebuilt_day = GenerationDailyRollup.objects.filter(
        organization=mine, day=START.date() + datetime.timedelta(days=3)
    )
    assert rebuilt_day.exists() and not rebuilt_day.filter(requests=999_999).exists()
    assert GenerationDailyRollup.objects.filter(organization=mine, requests=999_999).count() == len(outside)
    assert rollup_generation_groups(theirs) == theirs_before


def test_a_rebuild_keeps_days_whose_raw_rows_retention_archived(organization, priced_models, at):
    at(START)
    generation_services.generation_record(
        organization=organization,
        values={"request_id": "old", "model_name": "gpt-4o", "provider_name": "openai", "status": "success"},
        fingerprint="x",
    )
    Generation.all_objects.filter(request_id="old").hard_delete()  # as retention would, after archiving
    RetentionBatch.objects.create(
        organization=organization,
        target="generations",
        cutoff=START,
        primary_rows=1,
        archived_rows=1,
        oldest_at=START,
        newest_at=START,
    )

    result = rollups.rollup_rebuild(date_from=START.date(), date_to=START.date() + datetime.timedelta(days=1))

    assert result.skipped == {organization.slug: (START.date(), START.date())}
    assert rollup_sums(GenerationDailyRollup, organization=organization, day=START.date()).requests == 1


def test_the_same_generation_posted_twice_through_the_api_counts_once(
    api_client, organization, priced_models
):
    payload = {
        "request_id": "g-1",
        "model": "gpt-4o",
        "provider": "openai",
        "status": "success",
        "input_tokens": 1000,
        "output_tokens": 100,
        "user_ref": "ana",
    }

    first = api_client.post("/api/v1/generations/", payload, format="json")
    second = api_client.post("/api/v1/generations/", payload, format="json")

    assert (first.status_code, second.status_code) == (201, 200)
    rollup = rollup_sums(GenerationDailyRollup, organization=organization)
    assert (rollup.requests, rollup.successes, rollup.input_tokens) == (1, 1, 1000)
    assert rollup.cost_usd == Generation.objects.get().cost_usd > 0


def test_finishing_a_pending_generation_moves_it_in_its_group(api_client, organization, priced_models):
    created = api_client.post(
        "/api/v1/generations/", {"request_id": "g-2", "model": "gpt-4o", "status": "pending"}, format="json"
    ).json()
    rollup = rollup_sums(GenerationDailyRollup, organization=organization)
    assert (rollup.requests, rollup.successes, rollup.unpriced_requests, rollup.latency_count) == (1, 0, 0, 0)

    response = api_client.patch(
        f"/api/v1/generations/{created['id']}/",
        {"status": "success", "input_tokens": 2000, "output_tokens": 300, "generation_time_ms": 4200},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert GenerationDailyRollup.objects.count() == 2, "the edit is one more delta row, no update"
    rollups.rollups_fold(organization=organization, date_from=rollup.day, date_to=rollup.day)
    rollup = rollup_sums(GenerationDailyRollup, organization=organization)
    assert (rollup.requests, rollup.successes, rollup.input_tokens, rollup.output_tokens) == (1, 1, 2000, 300)
    assert (rollup.latency_ms_sum, rollup.latency_count, rollup.latency_ms_max) == (4200, 1, 4200)
    assert rollup.cost_usd == Generation.objects.get().cost_usd > 0
    assert rollup_generation_groups() == raw_generation_groups()


def test_anonymising_a_user_merges_their_groups_into_the_anonymous_ones(organization, priced_models, at):
    at(START)
    for n, user in enumerate(["ana", None, "ana", "ben"]):
        generation_services.generation_record(
            organization=organization,
            values={
                "request_id": f"a-{n}",
                "model_name": "gpt-4o",
                "provider_name": "openai",
                "status": "success",
                "user_ref": user,
                "input_tokens": 100,
            },
            fingerprint=f"a-{n}",
        )
    totals_before = GenerationDailyRollup.objects.aggregate(Sum("requests"), Sum("input_tokens"))

    rollups.rollups_anonymise_user(organization=organization, user_ref="ana")

    assert GenerationDailyRollup.objects.aggregate(Sum("requests"), Sum("input_tokens")) == totals_before
    by_user = GenerationDailyRollup.objects.values("user_ref").annotate(n=Sum("requests")).order_by()
    assert {row["user_ref"]: row["n"] for row in by_user} == {"": 3, "ben": 1}
