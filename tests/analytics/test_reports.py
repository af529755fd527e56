"""Every report equals the same question asked of the raw tables in SQL, on a random data set of
thousands of rows over three organizations, and never shows another organization's rows.

The data set is bulk-created once for the module (inside a transaction rolled back at the end),
the rollups are rebuilt from it with ``analytics.rollups.rollup_rebuild``, and each report is
then read through the API and compared, row by row, with a GROUP BY over the raw tables.
"""

from __future__ import annotations

import datetime
import random
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from analytics import services as analytics_services
from analytics.models import GenerationDayRollup, PerformanceMetric, ProviderCall
from analytics.reports import _ratio
from analytics.rollups import rollup_rebuild, rollups_fold
from generations import services as generation_services
from generations.models import Generation
from providers.models import AIModel
from providers.price_sync import price_sync, snapshot_catalogue
from tenancy import services as tenancy_services
from tenancy.rls import rls_bypass
from tests.analytics.factories import fingerprint_of
from tests.conftest import client_for_key
from tests.factories import OrganizationFactory

UTC = datetime.UTC
FIRST_DAY = datetime.date(2026, 1, 1)
DAYS = 120
LAST_DAY = FIRST_DAY + datetime.timedelta(days=DAYS - 1)
GENERATIONS_PER_ORG = 1100
CALLS_PER_ORG = 900
USERS = [None, "ana", "ben", "chloé", "dev-42"]
KEYS = ["", fingerprint_of("k1"), fingerprint_of("k2"), fingerprint_of("k3")]
UNKNOWN_MODELS = ["homegrown-7b", "ft:gpt-4o:acme"]
STATUSES = ["success"] * 7 + ["failed", "failed", "partial", "cancelled", "pending"]
CONTENT_TYPES = ["blog", "social", "amazon", "name", "chat"]


def _moment(rng: random.Random) -> datetime.datetime:
    return datetime.datetime.combine(FIRST_DAY, datetime.time.min, tzinfo=UTC) + datetime.timedelta(
        seconds=rng.randrange(DAYS * 86400)
    )


def _build(rng: random.Random, organization, models, only_theirs: str | None) -> tuple[int, int, int]:
    generations = []
    for n in range(GENERATIONS_PER_ORG):
        model = rng.choice([*models, None, None])
        name = model.name if model else rng.choice(UNKNOWN_MODELS)
        if only_theirs and n % 50 == 0:
            model, name = None, only_theirs
        priced = model is not None and rng.random() < 0.95
        input_tokens = rng.randrange(0, 30_000)
        cache_read = rng.randrange(0, input_tokens + 1) if rng.random() < 0.3 else 0
        generations.append(
            Generation(
                organization=organization,
                request_id=f"{organization.slug}-g{n}",
                created_at=_moment(rng),
                model=model,
                provider=model.provider if model else None,
                model_name=name if not model or rng.random() < 0.8 else name.upper(),  # aliases in the wild
                provider_name=model.provider.slug if model else rng.choice(["", "acme-ai"]),
                content_type=rng.choice(CONTENT_TYPES),
                user_ref=rng.choice(USERS),
                status=rng.choice(STATUSES),
                input_tokens=input_tokens,
                output_tokens=rng.randrange(0, 4_000),
                cache_read_tokens=cache_read,
                total_tokens=input_tokens + 1,
                cost_usd=Decimal(rng.randrange(0, 10**8)) / Decimal(10**10) if priced else None,
                cost_status="priced" if priced else "unpriced",
                generation_time_ms=rng.choice([None, rng.randrange(50, 20_000)]),
            )
        )
    Generation.all_objects.bulk_create(generations, batch_size=1000)
    metrics = [
        PerformanceMetric(
            organization=organization,
            generation=generation,
            cache_hit=rng.random() < 0.25,
            retry_count=rng.choice([0, 0, 0, 1, 2, 5]),
            total_duration_ms=rng.randrange(100, 30_000),
        )
        for generation in generations
        if rng.random() < 0.6
    ]
    PerformanceMetric.objects.bulk_create(metrics, batch_size=1000)
    calls = []
    for n in range(CALLS_PER_ORG):
        model = rng.choice([*models, None])
        status_code = rng.choice([200] * 12 + [400, 401, 429, 429, 500, 503, None])
        success = status_code == 200
        priced = model is not None and success
        calls.append(
            ProviderCall(
                organization=organization,
                request_id=f"{organization.slug}-c{n}",
                endpoint="/v1/chat/completions",
                occurred_at=_moment(rng)
                if n % 4
                else datetime.datetime(2026, 3, 3, 14, rng.randrange(60), tzinfo=UTC),
                model=model,
                provider=model.provider if model else None,
                model_name=model.name if model else rng.choice(UNKNOWN_MODELS),
                provider_name=model.provider.slug if model else "acme-ai",
                content_type=rng.choice(["", *CONTENT_TYPES]),
                input_tokens=rng.randrange(0, 9_000),
                output_tokens=rng.randrange(0, 900),
                total_tokens=rng.randrange(0, 10_000),
                cost_usd=Decimal(rng.randrange(0, 10**7)) / Decimal(10**10) if priced else None,
                cost_status="priced" if priced else "unpriced",
                status_code=status_code,
                success=success,
                error_type=""
                if success
                else {400: "invalid_request", 401: "auth", 429: "rate_limit", None: "timeout"}.get(
                    status_code, "server_error"
                ),
                api_latency_ms=rng.choice([None, rng.randrange(30, 15_000)]),
                user_ref=rng.choice(USERS),
                key_fingerprint=rng.choice(KEYS),
            )
        )
    ProviderCall.objects.bulk_create(calls, batch_size=1000)
    return len(generations), len(metrics), len(calls)


@pytest.fixture(scope="module")
def dataset(django_db_setup, django_db_blocker):
    """Three organizations' random generations, metrics and provider calls, rollups rebuilt."""
    with (
        django_db_blocker.unblock(),
        transaction.atomic(),
        rls_bypass(reason="test fixtures: three organizations' data"),
    ):
        price_sync(
            catalogue=[
                entry
                for entry in snapshot_catalogue(("openai", "anthropic"))
                if entry.name in {"gpt-4o", "gpt-4o-mini", "claude-sonnet-4-0"}
            ]
        )
        models = list(AIModel.objects.select_related("provider"))
        rng = random.Random(424242)
        organizations = [OrganizationFactory(slug=slug, name=slug) for slug in ("acme", "globex", "initech")]
        counts = [
            _build(
                rng,
                organization,
                models,
                only_theirs="only-globex-model" if organization.slug == "globex" else None,
            )
            for organization in organizations
        ]
        rollup_rebuild(date_from=FIRST_DAY, date_to=LAST_DAY)
        _, key = tenancy_services.api_key_create(organization=organizations[0], name="reports", role="viewer")
        yield {"organizations": organizations, "key": key, "rows": sum(sum(c) for c in counts)}
        transaction.set_rollback(True)


@pytest.fixture
def client(dataset, db):
    return client_for_key(dataset["key"])


@pytest.fixture
def acme(dataset):
    return dataset["organizations"][0]


# --- the raw side ---------------------------------------------------------------------------

GENERATION_DIMENSIONS = {
    "model": "COALESCE(m.name, g.model_name)",
    "provider": "COALESCE(p.slug, g.provider_name)",
    "content_type": "g.content_type",
    "user_ref": "g.user_ref",
    "day": "(g.created_at AT TIME ZONE 'UTC')::date",
    "month": "date_trunc('month', g.created_at AT TIME ZONE 'UTC')::date",
}
CALL_DIMENSIONS = {
    "model": "COALESCE(m.name, c.model_name)",
    "provider": "COALESCE(p.slug, c.provider_name)",
    "content_type": "c.content_type",
    "user_ref": "c.user_ref",
    "key_fingerprint": "NULLIF(c.key_fingerprint, '')",
    "day": "(c.occurred_at AT TIME ZONE 'UTC')::date",
    "month": "date_trunc('month', c.occurred_at AT TIME ZONE 'UTC')::date",
}


def _count(condition: str) -> str:
    return f"count(*) FILTER (WHERE {condition})"


GENERATION_MEASURES = {
    "requests": "count(*)",
    "successes": _count("g.status = 'success'"),
    "partials": _count("g.status = 'partial'"),
    "failures": _count("g.status = 'failed'"),
    "cancelled": _count("g.status = 'cancelled'"),
    **{
        name: f"sum(g.{name})"
        for name in (
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "total_tokens",
        )
    },
    "cost_usd": "COALESCE(sum(g.cost_usd), 0)",
    "unpriced_requests": _count("g.cost_status = 'unpriced'"),
    "no_usage_requests": _count("g.cost_status = 'no_usage'"),
    "reported_cache_hits": _count("pm.cache_hit"),
    "retries": "COALESCE(sum(pm.retry_count), 0)",
    "retried_requests": _count("pm.retry_count > 0"),
    "latency_ms_sum": "COALESCE(sum(g.generation_time_ms), 0)",
    "latency_count": "count(g.generation_time_ms)",
    "latency_ms_max": "max(g.generation_time_ms)",
}
CALL_MEASURES = {
    "requests": "count(*)",
    "successes": _count("c.success"),
    "failures": _count("NOT c.success"),
    **{
        column: _count(f"c.error_type = '{kind}'")
        for column, kind in (
            ("timeouts", "timeout"),
            ("rate_limited", "rate_limit"),
            ("server_errors", "server_error"),
            ("auth_errors", "auth"),
            ("invalid_requests", "invalid_request"),
            ("other_errors", "other"),
        )
    },
    **{
        name: f"sum(c.{name})"
        for name in (
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "total_tokens",
        )
    },
    "cost_usd": "COALESCE(sum(c.cost_usd), 0)",
    "unpriced_requests": _count("c.cost_status = 'unpriced'"),
    "no_usage_requests": _count("c.cost_status = 'no_usage'"),
    "latency_ms_sum": "COALESCE(sum(c.api_latency_ms), 0)",
    "latency_count": "count(c.api_latency_ms)",
    "latency_ms_max": "max(c.api_latency_ms)",
}
DERIVED = {
    "failure_rate": "round({failures}::numeric / NULLIF({requests}, 0), 4)",
    "success_rate": "round({successes}::numeric / NULLIF({requests}, 0), 4)",
    "reported_cache_hit_rate": "round({reported_cache_hits}::numeric / NULLIF({requests}, 0), 4)",
    "cache_read_share": "round({cache_read_tokens}::numeric / NULLIF({input_tokens}, 0), 4)",
    "retry_rate": "round({retried_requests}::numeric / NULLIF({requests}, 0), 4)",
    "retries_per_request": "round({retries}::numeric / NULLIF({requests}, 0), 4)",
    "average_latency_ms": "round({latency_ms_sum}::numeric / NULLIF({latency_count}, 0), 2)",
    "cost_per_priced_request": (
        "round({cost_usd} / NULLIF({requests} - {unpriced_requests} - {no_usage_requests}, 0), 10)"
    ),
}


def raw_report(
    source: str, organization, dimensions: list[str], columns: list[str], first, last
) -> list[dict]:
    """The report's question asked of the raw tables: one GROUP BY, no rollups."""
    if source == "generations":
        dims, measures = GENERATION_DIMENSIONS, GENERATION_MEASURES
        table = (
            "generations_generation g LEFT JOIN providers_aimodel m ON m.id = g.model_id "
            "LEFT JOIN providers_provider p ON p.id = g.provider_id "
            "LEFT JOIN analytics_performancemetric pm ON pm.generation_id = g.id"
        )
        where = "g.organization_id = %s AND g.created_at >= %s AND g.created_at < %s"
    else:
        dims, measures = CALL_DIMENSIONS, CALL_MEASURES
        table = (
            "analytics_providercall c LEFT JOIN providers_aimodel m ON m.id = c.model_id "
            "LEFT JOIN providers_provider p ON p.id = c.provider_id"
        )
        where = "c.organization_id = %s AND c.occurred_at >= %s AND c.occurred_at < %s"
    select = [f"{dims[d]} AS {d}" for d in dimensions]
    for column in columns:
        expression = DERIVED[column].format(**measures) if column in DERIVED else measures[column]
        select.append(f"{expression} AS {column}")
    sql = f"SELECT {', '.join(select)} FROM {table} WHERE {where}"
    if dimensions:
        sql += f" GROUP BY {', '.join(str(n + 1) for n in range(len(dimensions)))}"
    start = datetime.datetime.combine(first, datetime.time.min, tzinfo=UTC)
    end = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time.min, tzinfo=UTC)
    with connection.cursor() as cursor:
        cursor.execute(sql, [organization.pk, start, end])
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def normalised(rows: list[dict], dimensions: list[str]) -> dict[tuple, dict]:
    """Rows keyed by their dimensions, values made comparable (numbers as Decimal, dates as
    ISO text, no user / no key as None)."""
    keyed = {}
    for row in rows:
        clean = {}
        for name, value in row.items():
            if isinstance(value, datetime.date):
                value = value.isoformat()
            elif name in ("user_ref", "key_fingerprint") and value == "":
                value = None
            elif (isinstance(value, str) and name not in dimensions) or isinstance(value, int | Decimal):
                value = Decimal(value)
            clean[name] = value
        keyed[tuple(clean[d] for d in dimensions)] = clean
    return keyed


CASES = [
    pytest.param("cost", {}, id="cost-by-model-per-month"),
    pytest.param("cost", {"group_by": "content_type"}, id="cost-per-content-type"),
    pytest.param("cost", {"group_by": "user"}, id="top-users-by-cost"),
    pytest.param("cost", {"group_by": "provider,day"}, id="cost-per-provider-per-day"),
    pytest.param("cost", {"source": "provider_calls", "group_by": "model,month"}, id="call-cost-by-model"),
    pytest.param("volume", {}, id="daily-volume-and-tokens"),
    pytest.param("volume", {"source": "provider_calls", "group_by": "day,provider"}, id="daily-call-volume"),
    pytest.param("failures", {}, id="failed-generations-per-day"),
    pytest.param("failures", {"group_by": "model,content_type"}, id="failures-per-model-and-type"),
    pytest.param("failures", {"source": "provider_calls", "group_by": "model"}, id="call-errors-by-type"),
    pytest.param("cache", {}, id="cache-per-day"),
    pytest.param("cache", {"group_by": "model,month"}, id="cache-per-model"),
    pytest.param("retries", {}, id="retries-per-model"),
    pytest.param("retries", {"group_by": "user,content_type"}, id="retries-per-user"),
    pytest.param("keys", {}, id="key-usage"),
    pytest.param("keys", {"group_by": "month"}, id="key-usage-per-month"),
    pytest.param("keys", {"group_by": "day"}, id="key-usage-per-day"),
    pytest.param("keys", {"group_by": "user"}, id="key-usage-per-user"),
    pytest.param("keys", {"group_by": "model,month"}, id="key-usage-per-model"),
    pytest.param("models", {}, id="model-performance"),
    pytest.param("models", {"group_by": "provider,model"}, id="model-performance-by-provider"),
    pytest.param("models", {"source": "provider_calls"}, id="call-model-performance"),
    pytest.param("cost", {"group_by": ""}, id="totals-only"),
    # By time alone: the generations' per-day rollup (analytics 0019) answers these.
    pytest.param("cost", {"group_by": "day"}, id="cost-per-day"),
    pytest.param("failures", {"group_by": "month"}, id="failures-per-month"),
    pytest.param("cache", {"group_by": ""}, id="cache-totals"),
    pytest.param("retries", {"group_by": "day"}, id="retries-per-day"),
    pytest.param("volume", {"group_by": "month"}, id="volume-per-month"),
]


def assert_report_equals_raw(client, organization, report: str, params: dict, first, last) -> dict:
    """The report through the API equals its question asked of the raw tables, rows and totals."""
    response = client.get(
        f"/api/v1/reports/{report}/", {"from": first.isoformat(), "to": last.isoformat(), **params}
    )

    assert response.status_code == 200, response.content
    answer = response.json()
    dimensions = answer["group_by"]
    assert answer["rows"], "the data set answers every question"
    columns = [name for name in answer["rows"][0] if name not in dimensions]
    raw = raw_report(answer["source"], organization, dimensions, columns, first, last)
    assert normalised(answer["rows"], dimensions) == normalised(raw, dimensions)
    assert not answer["truncated"]
    totals = raw_report(answer["source"], organization, [], columns, first, last)[0]
    assert normalised([answer["totals"]], []) == normalised([totals], [])
    return answer


@pytest.mark.parametrize(("report", "params"), CASES)
def test_each_report_equals_the_raw_sql_answer(client, acme, dataset, report, params):
    assert dataset["rows"] >= 5000
    first, last = FIRST_DAY + datetime.timedelta(days=3), LAST_DAY - datetime.timedelta(days=2)

    assert_report_equals_raw(client, acme, report, params, first, last)


BY_TIME_ALONE = [
    ("failures", {}),
    ("volume", {"group_by": "month"}),
    ("cost", {"group_by": "day"}),
    ("cache", {"group_by": ""}),
]


def _record_gpt_4o(organization, request_id: str, **values) -> Generation:
    """A generation of gpt-4o recorded through the service now (rollup deltas, not folded)."""
    return generation_services.generation_record(
        organization=organization,
        values={"request_id": request_id, "model_name": "gpt-4o", "provider_name": "openai", **values},
        fingerprint=request_id,
    ).instance


def test_reports_by_time_alone_stay_exact_over_unfolded_deltas_and_after_a_fold(client, acme, at):
    """The rebuilt days hold one folded per-day row each; generations recorded since (and an edit
    of one) add delta rows to some of them, which the reports sum with the folded rows; folding
    the days again changes no answer."""
    busy = FIRST_DAY + datetime.timedelta(days=10)
    at(datetime.datetime.combine(busy, datetime.time(12), tzinfo=UTC))
    recorded = [
        _record_gpt_4o(acme, f"tail-{n}", status=status, input_tokens=1000 * n, output_tokens=10)
        for n, status in enumerate(["failed", "success", "failed", "pending"])
    ]
    generation_services.generation_update(
        organization=acme, generation=recorded[3], values={"status": "failed"}
    )
    assert GenerationDayRollup.objects.filter(organization=acme, day=busy).count() == 6, "1 folded + 5 deltas"
    first, last = FIRST_DAY, LAST_DAY

    before = [
        assert_report_equals_raw(client, acme, report, params, first, last)
        for report, params in BY_TIME_ALONE
    ]
    failures = next(row for row in before[0]["rows"] if row["day"] == busy.isoformat())
    assert failures["failures"] >= 3

    rollups_fold(organization=acme, date_from=first, date_to=last)

    assert GenerationDayRollup.objects.filter(organization=acme, day=busy).count() == 1
    after = [
        assert_report_equals_raw(client, acme, report, params, first, last)
        for report, params in BY_TIME_ALONE
    ]
    assert after == before


def test_reports_never_include_another_organizations_rows(client, acme, dataset):
    response = client.get("/api/v1/reports/cost/", {"from": FIRST_DAY, "to": LAST_DAY, "group_by": "model"})

    models = {row["model"] for row in response.json()["rows"]}
    assert "only-globex-model" not in models
    other = dataset["organizations"][1]
    theirs = Generation.all_objects.filter(organization=other, model_name="only-globex-model")
    assert theirs.exists()
    mine = Generation.all_objects.filter(organization=acme, created_at__date__gte=FIRST_DAY).count()
    assert response.json()["totals"]["requests"] == mine


def test_top_users_come_out_costliest_first_and_respect_the_limit(client, acme):
    response = client.get(
        "/api/v1/reports/cost/", {"from": FIRST_DAY, "to": LAST_DAY, "group_by": "user", "limit": 3}
    )

    rows = response.json()["rows"]
    costs = [Decimal(row["cost_usd"]) for row in rows]
    assert len(rows) == 3 and costs == sorted(costs, reverse=True)
    assert response.json()["truncated"] is True


# Answers cut at ``limit``: the totals come from a second statement, over the narrowest rollup
# that holds the report's measures (the per-day one; the per-model one where a maximum is asked
# for; the per-key one for the keys report), whatever rollup the groups were read from.
TRUNCATED = [
    pytest.param("cost", {"group_by": "model,user", "limit": 3}, "analytics_generationdayrollup", id="cost"),
    pytest.param(
        "volume",
        {"source": "provider_calls", "group_by": "content_type,user", "limit": 2},
        "analytics_providercallmodeldailyrollup",
        id="call-volume",
    ),
    pytest.param(
        "models", {"group_by": "user", "limit": 2}, "analytics_generationmodeldailyrollup", id="models-max"
    ),
    pytest.param(
        "keys", {"group_by": "model", "limit": 1}, "analytics_providercallkeydailyrollup", id="keys"
    ),
    pytest.param("failures", {"group_by": "day", "limit": 5}, "analytics_generationdayrollup", id="by-day"),
]


@pytest.mark.parametrize(("report", "params", "totals_table"), TRUNCATED)
def test_a_truncated_answers_totals_are_every_rows_read_from_the_narrowest_rollup(
    client, acme, at, report, params, totals_table
):
    """Generations recorded since the rebuild are delta rows in every generations rollup (the
    longest generation time yet among them), so the totals are exact over unfolded deltas too."""
    at(datetime.datetime.combine(FIRST_DAY + datetime.timedelta(days=5), datetime.time(9), tzinfo=UTC))
    for n in range(3):
        _record_gpt_4o(
            acme,
            f"cut-{n}",
            status="failed" if n else "success",
            input_tokens=700 * n,
            output_tokens=11,
            user_ref=f"late-{n}",
            generation_time_ms=90_000 + n,
        )
    first, last = FIRST_DAY, LAST_DAY

    with CaptureQueriesContext(connection) as queries:
        response = client.get(
            f"/api/v1/reports/{report}/", {"from": first.isoformat(), "to": last.isoformat(), **params}
        )

    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["truncated"] is True and len(answer["rows"]) == params["limit"]
    columns = [name for name in answer["rows"][0] if name not in answer["group_by"]]
    raw_totals = raw_report(answer["source"], acme, [], columns, first, last)[0]
    assert normalised([answer["totals"]], []) == normalised([raw_totals], [])
    assert f'FROM "{totals_table}" WHERE' in queries.captured_queries[-1]["sql"]


def test_time_groups_come_out_in_order(client):
    response = client.get("/api/v1/reports/volume/", {"from": FIRST_DAY, "to": LAST_DAY, "group_by": "day"})

    days = [row["day"] for row in response.json()["rows"]]
    assert days == sorted(days) and len(days) == DAYS


def raw_rate_limits(organization, since: str, until: str, threshold: int) -> dict[str, list]:
    """The rate-limit report's answer from the raw provider calls of the clock hours from
    ``since``'s to ``until``'s: per user over the threshold, [busiest hour's requests, requests,
    rate-limited, hours over the threshold, busiest hour (the earliest of equals)]."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH hourly AS (
                SELECT c.user_ref, date_trunc('hour', c.occurred_at) AS hour, count(*) AS requests,
                       count(*) FILTER (WHERE c.error_type = 'rate_limit') AS rate_limited
                  FROM analytics_providercall c
                 WHERE c.organization_id = %s AND c.user_ref IS NOT NULL
                   AND c.occurred_at >= date_trunc('hour', %s::timestamptz)
                   AND c.occurred_at < date_trunc('hour', %s::timestamptz) + interval '1 hour'
                 GROUP BY 1, 2
            ), ranked AS (
                SELECT *, row_number() OVER (PARTITION BY user_ref ORDER BY requests DESC, hour) AS rank
                  FROM hourly
            )
            SELECT user_ref, max(requests), sum(requests), sum(rate_limited),
                   count(*) FILTER (WHERE requests > %s), min(hour) FILTER (WHERE rank = 1)
              FROM ranked GROUP BY user_ref HAVING max(requests) > %s
            """,
            [organization.pk, since, until, threshold, threshold],
        )
        return {row[0]: [*row[1:5], row[5].astimezone(UTC).isoformat()] for row in cursor.fetchall()}


def assert_rate_limits_equal_raw(client, organization, since: str, until: str, threshold: int) -> dict:
    """Ask the report through the API and compare it with :func:`raw_rate_limits`."""
    response = client.get(
        "/api/v1/reports/rate-limits/", {"from": since, "to": until, "threshold": threshold}
    )
    assert response.status_code == 200, response.content
    expected = raw_rate_limits(organization, since, until, threshold)
    got = {
        row["user_ref"]: [
            row["busiest_hour_requests"],
            row["requests"],
            row["rate_limited"],
            row["hours_over_threshold"],
            row["busiest_hour"],
        ]
        for row in response.json()["rows"]
    }
    assert got == expected
    assert response.json()["totals"] == {"users_over_threshold": len(expected)}
    busiest = [row["busiest_hour_requests"] for row in response.json()["rows"]]
    assert busiest == sorted(busiest, reverse=True)
    return expected


# Ranges: within one day; whole days only; partial days at both ends around whole days; from an
# hour to the next midnight's hour; the data set's 120 days.
RATE_LIMIT_RANGES = [
    pytest.param("2026-03-03T13:30:00Z", "2026-03-03T15:10:00Z", id="hours-of-one-day"),
    pytest.param("2026-03-01T00:00:00Z", "2026-03-04T23:00:00Z", id="whole-days"),
    pytest.param("2026-02-27T05:00:00Z", "2026-03-05T18:59:00Z", id="partial-days-around-whole-ones"),
    pytest.param("2026-03-03T14:00:00Z", "2026-03-04T00:00:00Z", id="to-the-next-midnight"),
    pytest.param("2026-01-01T00:00:00Z", "2026-04-30T23:59:00Z", id="all-120-days"),
]


@pytest.mark.parametrize(("since", "until"), RATE_LIMIT_RANGES)
@pytest.mark.parametrize("threshold", [0, 1, 3, 10, 40])
def test_the_rate_limit_report_equals_the_raw_sql_answer(client, acme, since, until, threshold):
    expected = assert_rate_limits_equal_raw(client, acme, since, until, threshold)

    if threshold in (3, 10) and since.startswith("2026-03-03T13"):
        assert expected, "a low threshold finds the busy users of the 14:00 burst"


@pytest.mark.parametrize(("since", "until"), RATE_LIMIT_RANGES)
def test_the_rate_limit_report_is_exact_at_the_busiest_hours_boundary(client, acme, since, until):
    busiest = max(row[0] for row in raw_rate_limits(acme, since, until, 0).values())

    assert assert_rate_limits_equal_raw(client, acme, since, until, busiest - 1), "just under: reported"
    assert not assert_rate_limits_equal_raw(client, acme, since, until, busiest), "at it: not over it"


def test_the_rate_limit_report_counts_calls_not_yet_folded_and_after_a_fold(client, acme):
    """Calls recorded after the rebuild are delta rows: the per-day bound counts every one of
    them, and the report still equals the raw answer, unfolded and folded."""
    quiet_day = datetime.datetime(2026, 2, 10, tzinfo=UTC)
    for n, (hour, user) in enumerate([(7, "ana")] * 4 + [(8, "ana")] * 3 + [(7, "ben")] * 2 + [(23, "ben")]):
        record_provider_call(acme, n, quiet_day + datetime.timedelta(hours=hour, minutes=n), user)
    ranges = [
        ("2026-02-10T00:00:00Z", "2026-02-10T23:00:00Z"),
        ("2026-02-09T12:00:00Z", "2026-02-11T03:00:00Z"),
        ("2026-02-10T08:00:00Z", "2026-02-10T23:00:00Z"),
    ]
    for threshold in (1, 2, 3, 4):
        for since, until in ranges:
            assert_rate_limits_equal_raw(client, acme, since, until, threshold)

    rollups_fold(organization=acme, date_from=quiet_day.date(), date_to=quiet_day.date())

    for threshold in (1, 2, 3, 4):
        for since, until in ranges:
            assert_rate_limits_equal_raw(client, acme, since, until, threshold)


def record_provider_call(organization, n: int, moment: datetime.datetime, user: str) -> None:
    """One provider call through the ingestion service (its rollup deltas included)."""
    with rls_bypass(reason="test: a provider call recorded after the data set"):
        analytics_services.provider_call_record(
            organization=organization,
            values={
                "request_id": f"late-{n}",
                "endpoint": "/v1/chat/completions",
                "provider_name": "openai",
                "model_name": "gpt-4o",
                "status_code": 429 if n % 2 else 200,
                "occurred_at": moment,
                "user_ref": user,
            },
            fingerprint=f"late-{n}",
        )


BAD_QUERIES = [
    pytest.param("cost", {"from": "2026-03-01", "to": "2026-02-01"}, "to", id="to-before-from"),
    pytest.param("cost", {"from": "2025-01-01", "to": "2026-02-05"}, "to", id="over-400-days"),
    pytest.param("cost", {"group_by": "colour"}, "group_by", id="unknown-group-by"),
    pytest.param("cost", {"group_by": "model,model"}, "group_by", id="repeated-group-by"),
    pytest.param("cost", {"group_by": "day,month"}, "group_by", id="day-and-month"),
    pytest.param("cache", {"source": "provider_calls"}, "source", id="source-without-that-data"),
    pytest.param("volume", {"from": "yesterday"}, "from", id="not-a-date"),
    pytest.param("volume", {"limit": 0}, "limit", id="limit-0"),
    pytest.param(
        "rate-limits", {"from": "2026-03-03T15:00:00Z", "to": "2026-03-03T10:00:00Z"}, "to", id="rl-backwards"
    ),
    pytest.param("rate-limits", {"group_by": "model"}, "group_by", id="rl-by-model"),
    pytest.param("rate-limits", {"threshold": -1}, "threshold", id="rl-negative-threshold"),
]


@pytest.mark.parametrize(("report", "params", "attr"), BAD_QUERIES)
def test_a_bad_question_is_a_clear_400(client, report, params, attr):
    response = client.get(f"/api/v1/reports/{report}/", params)

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["type"] == "validation_error"
    assert [error["attr"] for error in body["errors"]] == [attr], body


def test_a_400_day_range_is_accepted(client):
    response = client.get("/api/v1/reports/cost/", {"from": "2025-12-01", "to": "2027-01-04"})

    assert response.status_code == 200, response.content


def test_derived_figures_in_integers_equal_decimal_division_rounded_half_up():
    """``_ratio`` computes counts' rates in integers: the same text as Decimal division
    quantized half up, ties and all; Decimals (money) and negative sums take the Decimal route."""
    rng = random.Random(12)
    pairs = [(part, whole) for whole in (1, 2, 8, 16, 200, 20_000) for part in range(0, 3 * whole + 1, 1)]
    pairs += [(rng.randrange(0, 10**15), rng.randrange(1, 10**12)) for _ in range(20_000)]
    pairs += [(-1, 3), (7, -2), (Decimal("1.5"), 7), (Decimal("0E-10"), 3)]
    for places in (4, 2, 10):
        quantum = Decimal(1).scaleb(-places)
        for part, whole in pairs:
            expected = format((Decimal(part) / Decimal(whole)).quantize(quantum, rounding=ROUND_HALF_UP), "f")
            assert _ratio(part, whole, places) == expected, (part, whole, places)
    assert _ratio(5, 0) is None
