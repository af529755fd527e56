"""``reports/rate-limits/`` over a grid of ranges and thresholds, on a kept scale build.

    .venv/bin/python bench/rate_limits.py --pgdata /tmp/pg10m
    .venv/bin/python bench/rate_limits.py --pgdata /tmp/pg10m --threshold 0 --days 365 --explain

``bench/scale.py`` times the report at its default threshold (100), where no user-day of the
bench's tenants comes near it and the report reads almost nothing. A low threshold makes most of
a tenant's user-days candidates and the report reads their hourly rows: the cost that grid
shows. For the biggest tenant and the median one (as ``bench/search_plans.py`` picks them), each
``--days`` (ending at the tenant's newest rollup day) and each ``--threshold``: the p50 of
``--repeat`` calls of ``analytics.reports.rate_limit_report`` (the statement and its shaping,
in-process, in the tenant's row scope), the users over the threshold, and a digest of the answer
(to compare two codes' answers on one build). ``--explain`` prints the statement's plan.

Nothing is written. The server is the kept one (attached to, never stopped or deleted).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import attach_kept_build, kept_build_tenants  # noqa: E402


def timed_report(organization, since, until, threshold: int, repeat: int):
    """The report ``repeat`` times: its last result, the p50 in seconds and its statement."""
    from django.db import connection

    from analytics.reports import rate_limit_report

    statements, seconds, result = [], [], None

    def keep(execute, sql, params, many, context):
        statements.append((sql, params))
        return execute(sql, params, many, context)

    for _ in range(repeat):
        started = time.perf_counter()
        with connection.execute_wrapper(keep):
            result = rate_limit_report(
                organization=organization, since=since, until=until, threshold=threshold
            )
        seconds.append(time.perf_counter() - started)
    return result, statistics.median(seconds), statements[-1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pgdata", required=True, help="data directory of a kept bench database")
    parser.add_argument("--days", type=int, action="append", help="days (repeatable; default 1, 30, 90, 365)")
    parser.add_argument("--threshold", type=int, action="append", help="(repeatable; default 100, 20, 5, 0)")
    parser.add_argument("--repeat", type=int, default=3, help="timed calls of each report")
    parser.add_argument("--explain", action="store_true", help="print each statement's plan")
    args = parser.parse_args()

    attach_kept_build(parser, Path(args.pgdata))
    from django.db import connection

    from analytics.models import UserDailyRollup
    from tenancy import rls
    from tenancy.models import Organization

    for label, pk, generations in kept_build_tenants():
        with rls.rls_organizations([pk]):
            organization = Organization.objects.get(pk=pk)
            days_of = UserDailyRollup.objects.filter(organization=organization).order_by("-day")
            newest = days_of.values_list("day", flat=True)[:1]
            if not newest:
                print(f"{label}: organization {pk} has no per-user rollup rows")
                continue
            until = datetime.datetime.combine(newest[0], datetime.time(23), tzinfo=datetime.UTC)
            print(f"{label}: organization {pk}, {generations:,} generations, to {until:%Y-%m-%d %H:00}")
            for days in args.days or [1, 30, 90, 365]:
                # Five hours into the first day: partial days at the start, as a caller's range has.
                since = until - datetime.timedelta(days=days, hours=5)
                for threshold in args.threshold or [100, 20, 5, 0]:
                    timed = timed_report(organization, since, until, threshold, args.repeat)
                    result, p50, (sql, params) = timed
                    answer = json.dumps([result.rows, result.totals], default=str, sort_keys=True)
                    print(
                        f"  {days:>3} days  threshold {threshold:>3}  p50 {p50 * 1000:8.1f} ms  "
                        f"users over {result.totals['users_over_threshold']:>4}  "
                        f"answer {hashlib.sha256(answer.encode()).hexdigest()[:10]}"
                    )
                    if args.explain:
                        with connection.cursor() as cursor:
                            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
                            print("\n".join(f"      {row[0]}" for row in cursor.fetchall()))


if __name__ == "__main__":
    main()
