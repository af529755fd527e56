"""Time and profile one report in-process, on a database ``bench/scale.py`` built and kept.

    .venv/bin/python bench/scale.py --rows 1000000 --build-only --keep --pgdata /tmp/pg-1m
    .venv/bin/python bench/profile_report.py --pgdata /tmp/pg-1m                  # failures, 365 d
    .venv/bin/python bench/profile_report.py --pgdata /tmp/pg-1m --report volume --days 30 --top 30

For the biggest tenant of the dataset (the one the bench times), over the last ``--days`` days
of its data, it times (p50 and p95 of ``--repeat`` runs, wall time):

- ``report_run``: the report engine alone (SQL and shaping), in the tenant's row scope, as the
  API runs it;
- the same split: its SQL alone (the statement the engine sends, through a cursor) and the
  Python around it (the difference);
- the HTTP answer through Django's WSGI application without sockets (authentication, the row
  scope, the query serializer, the report, DRF's JSON rendering), as gunicorn's worker calls it;

then profiles the WSGI call under cProfile (CPU time: waiting for PostgreSQL counts nothing).
The server is the kept one (attached to, never stopped or deleted); it writes one API key.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import attach_kept_build, percentile, wsgi_call  # noqa: E402


def timed(call, repeat: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each call (CPU: this process's only; PostgreSQL's work is not in
    it, so on a shared box it is the steadier measure of the Python cost)."""
    wall, cpu = [], []
    for _ in range(repeat):
        began, began_cpu = time.perf_counter(), time.process_time()
        call()
        cpu.append(time.process_time() - began_cpu)
        wall.append(time.perf_counter() - began)
    return wall, cpu


def show(label: str, samples: tuple[list[float], list[float]]) -> None:
    wall, cpu = samples
    print(
        f"  {label:<38} wall p50 {statistics.median(wall) * 1000:7.2f} ms, "
        f"p95 {percentile(wall, 0.95) * 1000:7.2f} ms, min {min(wall) * 1000:6.2f} ms; "
        f"Python CPU p50 {statistics.median(cpu) * 1000:6.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pgdata", required=True, help="data directory of a kept bench database")
    parser.add_argument("--report", default="failures")
    parser.add_argument("--group-by", default=None, help="comma-separated; default the report's own")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--sort", default="cumulative", help="pstats sort key (cumulative, tottime …)")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()

    attach_kept_build(parser, Path(args.pgdata))
    from django.core.wsgi import get_wsgi_application
    from django.db import connection
    from django.db.models import Sum
    from django.test.utils import CaptureQueriesContext

    from analytics.models import GenerationModelDailyRollup
    from analytics.reports import report_run
    from bench.scale import make_key
    from tenancy import rls
    from tenancy.models import Organization

    with rls.database_owner():
        biggest = (
            GenerationModelDailyRollup.objects.values("organization_id")
            .annotate(n=Sum("requests"))
            .order_by("-n")
            .first()
        )
        organization = Organization.objects.get(pk=biggest["organization_id"])
        last = GenerationModelDailyRollup.objects.filter(organization=organization).latest("day").day
        api_key = make_key(organization.pk)
    first = last - datetime.timedelta(days=args.days - 1)
    group_by = args.group_by.split(",") if args.group_by is not None else None
    print(
        f"{args.report} of organization {organization.pk} ({biggest['n']:,} generations), "
        f"{first}…{last}, group_by {group_by or 'default'}, {args.repeat} runs each"
    )

    def in_process():
        with rls.rls_organizations([organization.pk]):
            return report_run(
                organization=organization,
                report=args.report,
                date_from=first,
                date_to=last,
                group_by=group_by,
            )

    result = in_process()
    print(f"  {len(result.rows)} rows, truncated {result.truncated}")
    with CaptureQueriesContext(connection) as queries:
        in_process()
    statements = [query["sql"] for query in queries.captured_queries]

    def sql_only():
        with rls.rls_organizations([organization.pk]), connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
                if cursor.description:
                    cursor.fetchall()

    application = get_wsgi_application()
    query = f"from={first}&to={last}" + (f"&group_by={args.group_by}" if args.group_by is not None else "")
    path = f"/api/v1/reports/{args.report}/"
    statuses: list[str] = []

    def http():
        status, body = wsgi_call(application, "GET", path, api_key=api_key, query=query)
        statuses.append(status)
        return body

    body = http()
    if not statuses[-1].startswith("200"):
        raise SystemExit(f"HTTP {statuses[-1]}: {body[:300]!r}")
    print(f"  HTTP body {len(body):,} bytes")
    for call in (in_process, sql_only, http):  # warm: plans, caches
        timed(call, 20)
    engine, sql, wsgi = timed(in_process, args.repeat), timed(sql_only, args.repeat), timed(http, args.repeat)
    show("report_run (SQL + shaping)", engine)
    show(f"its SQL alone ({len(statements)} statement(s))", sql)
    show("HTTP through the WSGI app (no sockets)", wsgi)

    if args.no_profile:
        return
    profiler = cProfile.Profile(time.process_time_ns, 1e-9)
    profiler.enable()
    for _ in range(args.repeat):
        http()
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
