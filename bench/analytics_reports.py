"""Reports from rollups vs the same questions asked of the raw tables, and provider-call ingestion.

    .venv/bin/python bench/analytics_reports.py              # 300,000 of each over 60 days
    .venv/bin/python bench/analytics_reports.py --rows 1000000 --days 90 --users 200 --models 12

Starts a throwaway embedded PostgreSQL (``--pgdata``, deleted first), migrates it, syncs model
prices, and bulk-loads ``--rows`` generations (a fifth with performance metrics) and ``--rows``
provider calls for one organization over ``--days`` days, ``--users`` users and ``--models``
models, plus a tenth as many for two others. Then:

1. rebuilds the rollups of the period (``analytics.rollups.rollup_rebuild``) and times it;
2. times each report question answered from the rollups (``analytics.reports``) against the same
   GROUP BY over the raw tables, median of ``--repeat`` runs, and checks the totals agree;
3. times ``--calls`` single provider-call ingestions through the service (lookup, pricing,
   INSERT, audit, rollup delta rows, one transaction each).
"""

from __future__ import annotations

import argparse
import atexit
import datetime
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
UTC = datetime.UTC
START = datetime.datetime(2025, 1, 1, tzinfo=UTC)
TYPES = ["blog", "social", "amazon", "name", "chat"]

RAW = {
    "cost by model per month": (
        "SELECT COALESCE(m.name, g.model_name), date_trunc('month', g.created_at AT TIME ZONE 'UTC'), "
        "count(*), sum(g.cost_usd) FROM generations_generation g "
        "LEFT JOIN providers_aimodel m ON m.id = g.model_id WHERE g.organization_id = %s "
        "AND g.created_at >= %s AND g.created_at < %s GROUP BY 1, 2"
    ),
    "daily volume and tokens": (
        "SELECT (g.created_at AT TIME ZONE 'UTC')::date, count(*), sum(g.total_tokens) "
        "FROM generations_generation g WHERE g.organization_id = %s "
        "AND g.created_at >= %s AND g.created_at < %s GROUP BY 1"
    ),
    "top users by cost": (
        "SELECT g.user_ref, count(*), sum(g.cost_usd) FROM generations_generation g "
        "WHERE g.organization_id = %s AND g.created_at >= %s AND g.created_at < %s "
        "GROUP BY 1 ORDER BY 3 DESC NULLS LAST LIMIT 10"
    ),
    "cache effectiveness per day": (
        "SELECT (g.created_at AT TIME ZONE 'UTC')::date, count(*), count(*) FILTER (WHERE pm.cache_hit) "
        "FROM generations_generation g LEFT JOIN analytics_performancemetric pm ON pm.generation_id = g.id "
        "WHERE g.organization_id = %s AND g.created_at >= %s AND g.created_at < %s GROUP BY 1"
    ),
    "key usage": (
        "SELECT c.key_fingerprint, count(*), sum(c.cost_usd) FROM analytics_providercall c "
        "WHERE c.organization_id = %s AND c.occurred_at >= %s AND c.occurred_at < %s GROUP BY 1"
    ),
}
REPORTS = {
    "cost by model per month": ("cost", ["model", "month"], None),
    "daily volume and tokens": ("volume", ["day"], None),
    "top users by cost": ("cost", ["user"], 10),
    "cache effectiveness per day": ("cache", ["day"], None),
    "key usage": ("keys", [], None),
}


def load(organization, models, rows: int, rng: random.Random, *, days: int, users: list) -> None:
    from tqdm import tqdm

    from analytics.models import PerformanceMetric, ProviderCall
    from generations.models import Generation

    batch = 5000
    for start in tqdm(range(0, rows, batch), desc=f"{organization.slug} rows", unit="batch"):
        count = min(batch, rows - start)
        generations = []
        for n in range(start, start + count):
            model = rng.choice(models)
            priced = rng.random() < 0.95
            generations.append(
                Generation(
                    organization=organization,
                    request_id=f"g{n}",
                    created_at=START + datetime.timedelta(seconds=rng.randrange(days * 86400)),
                    model=model,
                    provider=model.provider,
                    model_name=model.name,
                    provider_name=model.provider.slug,
                    content_type=rng.choice(TYPES),
                    user_ref=rng.choice(users),
                    status=rng.choice(["success"] * 9 + ["failed"]),
                    input_tokens=rng.randrange(100, 9000),
                    output_tokens=rng.randrange(10, 900),
                    total_tokens=5000,
                    cost_usd=Decimal(rng.randrange(1, 10**6)) / Decimal(10**8) if priced else None,
                    cost_status="priced" if priced else "unpriced",
                    generation_time_ms=rng.randrange(200, 9000),
                )
            )
        Generation.all_objects.bulk_create(generations)
        PerformanceMetric.objects.bulk_create(
            PerformanceMetric(organization=organization, generation=g, cache_hit=rng.random() < 0.3)
            for g in generations[::5]
        )
        ProviderCall.objects.bulk_create(
            ProviderCall(
                organization=organization,
                request_id=f"c{n}",
                endpoint="/v1/chat/completions",
                occurred_at=START + datetime.timedelta(seconds=rng.randrange(days * 86400)),
                model_name=rng.choice(models).name,
                provider_name="openai",
                total_tokens=rng.randrange(100, 9000),
                cost_usd=Decimal(rng.randrange(1, 10**6)) / Decimal(10**8),
                cost_status="priced",
                status_code=200,
                success=True,
                api_latency_ms=rng.randrange(100, 9000),
                user_ref=rng.choice(users),
                key_fingerprint=rng.choice(["", "a" * 64, "b" * 64, "c" * 64]),
            )
            for n in range(start, start + count)
        )


def median_seconds(repeat: int, call) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=300_000, help="generations and provider calls (each)")
    parser.add_argument("--days", type=int, default=60, help="spread over this many days")
    parser.add_argument("--users", type=int, default=20, help="distinct user references")
    parser.add_argument("--models", type=int, default=4, help="distinct models in use")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--calls", type=int, default=500, help="single provider-call ingestions to time")
    parser.add_argument("--pgdata", default=str(Path(tempfile.gettempdir()) / "inkwell-bench-analytics-pg"))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    shutil.rmtree(args.pgdata, ignore_errors=True)
    from config.embedded_postgres import remove_embedded_database

    # Stop and delete the throwaway server however the run ends (figures printed or not).
    atexit.register(remove_embedded_database, Path(args.pgdata))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.development",
            "EMBEDDED_PGDATA": args.pgdata,
            "EMBEDDED_PGDATA_THROWAWAY": "true",
        }
    )
    import django

    django.setup()
    from tenancy.rls import rls_bypass

    # Maintenance work outside any request: one named bypass of row-level security (README).
    with rls_bypass(reason="bench: analytics reports"):
        run(args)


def run(args) -> None:
    """Load the data, rebuild, time the questions and the ingestion (see the module docstring)."""
    from django.core.management import call_command
    from django.db import connection

    from analytics import reports, services
    from analytics.rollups import rollup_rebuild
    from providers.models import AIModel
    from providers.price_sync import price_sync
    from tenancy import services as tenancy_services

    call_command("migrate", verbosity=0)
    price_sync()
    models = list(
        AIModel.objects.select_related("provider").filter(provider__slug__in=["openai", "anthropic"])[
            : args.models
        ]
    )
    users = [None, *(f"user-{n}" for n in range(args.users))]
    rng = random.Random(args.seed)
    bench = tenancy_services.organization_create(name="Bench", slug="bench")
    load(bench, models, args.rows, rng, days=args.days, users=users)
    for slug in ("other-1", "other-2"):
        other = tenancy_services.organization_create(name=slug, slug=slug)
        load(other, models, args.rows // 10, rng, days=args.days, users=users)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    first, last = START.date(), START.date() + datetime.timedelta(days=args.days - 1)
    began = time.perf_counter()
    rollup_rebuild(date_from=first, date_to=last)
    print(f"\nrollup rebuild of {args.days} days, 3 organizations: {time.perf_counter() - began:.2f} s")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        cursor.execute(
            "SELECT count(*) FROM analytics_generationdailyrollup WHERE organization_id = %s", [bench.pk]
        )
        daily_rows = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM analytics_providercalldailyrollup WHERE organization_id = %s", [bench.pk]
        )
        call_rows = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM analytics_userhourlyrollup WHERE organization_id = %s", [bench.pk]
        )
        hourly_rows = cursor.fetchone()[0]
        model_rows = call_model_rows = 0
        cursor.execute("SELECT to_regclass('analytics_generationmodeldailyrollup') IS NOT NULL")
        if cursor.fetchone()[0]:  # the per-model rollups (absent before they were introduced)
            cursor.execute(
                "SELECT (SELECT count(*) FROM analytics_generationmodeldailyrollup "
                "WHERE organization_id = %s), (SELECT count(*) FROM "
                "analytics_providercallmodeldailyrollup WHERE organization_id = %s)",
                [bench.pk, bench.pk],
            )
            model_rows, call_model_rows = cursor.fetchone()
    print(
        f"rollup rows of the bench organization: {daily_rows:,} generation-days per user "
        f"({model_rows:,} per model), {call_rows:,} provider-call-days per user and key "
        f"({call_model_rows:,} per model), {hourly_rows:,} user-hours\n"
    )

    start = datetime.datetime.combine(first, datetime.time.min, tzinfo=UTC)
    end = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time.min, tzinfo=UTC)
    print(
        f"{f'question ({args.days} days, {args.rows:,} rows)':<46} "
        f"{'rollups':>10} {'raw SQL':>10} {'ratio':>7}"
    )
    for question, (report, group_by, limit) in REPORTS.items():

        def from_rollups(report=report, group_by=group_by, limit=limit):
            return reports.report_run(
                organization=bench,
                report=report,
                date_from=first,
                date_to=last,
                group_by=group_by,
                limit=limit or reports.DEFAULT_LIMIT,
            )

        def from_raw(sql=RAW[question]):
            with connection.cursor() as cursor:
                cursor.execute(sql, [bench.pk, start, end])
                return cursor.fetchall()

        answer, raw = from_rollups(), from_raw()
        assert len(answer.rows) == len(raw), (question, len(answer.rows), len(raw))
        rollup_time = median_seconds(args.repeat, from_rollups)
        raw_time = median_seconds(args.repeat, from_raw)
        print(
            f"{question:<46} {rollup_time * 1000:>8.1f}ms {raw_time * 1000:>8.1f}ms "
            f"{raw_time / rollup_time:>6.0f}x"
        )

    began = time.perf_counter()
    for n in range(args.calls):
        services.provider_call_record(
            organization=bench,
            values={
                "request_id": f"bench-call-{n}",
                "endpoint": "/v1/chat/completions",
                "provider_name": "openai",
                "model_name": "gpt-4o",
                "input_tokens": 1200,
                "output_tokens": 300,
                "status_code": 200,
                "api_latency_ms": 900,
                "user_ref": rng.choice(users),
            },
            fingerprint=f"bench-call-{n}",
        )
    elapsed = time.perf_counter() - began
    print(
        "\nprovider-call ingestion (service, in-process, one transaction each): "
        f"{args.calls / elapsed:.0f} calls/s"
    )


if __name__ == "__main__":
    main()
