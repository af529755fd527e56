"""Plans and times of ``?search=`` on a kept scale build, for the biggest tenant and a median one.

    .venv/bin/python bench/search_plans.py --pgdata /tmp/pg10m
    .venv/bin/python bench/search_plans.py --pgdata /tmp/pg10m --term "breakfast terrace" --term breakfa

``bench/scale.py`` times one search value, which every row's content holds. A search's plan
depends on how many of the tenant's rows the words match (every row, ~1 %, none) and on what the
planner expects: for each tenant (the biggest, and the median of the organizations with rows, as
the bench picks them) and each ``--term``, this sends the generation list's selector with the
search and the list's order, its first page (the rows the API's page then reads by key), in the
tenant's row scope,
and prints the rows the planner expected and found, the index it searched, ``EXPLAIN ANALYZE``'s
execution time, and the p50 of ``--repeat`` runs. The defaults are the bench's value, a word
every row holds, words that end ~1 % of the rows (the bench's content is one paragraph cut at a
random length) and a word no row holds. ``--explain`` prints each plan whole.

Nothing is written. The server is the kept one (attached to, never stopped or deleted).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import attach_kept_build, kept_build_tenants  # noqa: E402

DEFAULT_TERMS = ["breakfast terrace", "atlantic or zebra", "breakfa", "sea-vi", "clif", "zebra"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pgdata", required=True, help="data directory of a kept bench database")
    parser.add_argument("--term", action="append", help="a search value (repeatable; default: a set)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each statement")
    parser.add_argument("--explain", action="store_true", help="print each plan whole")
    args = parser.parse_args()

    attach_kept_build(parser, Path(args.pgdata))
    from django.db import connection

    from generations.selectors import generation_list
    from tenancy import rls
    from tenancy.models import Organization

    for label, pk, generations in kept_build_tenants():
        with rls.rls_organizations([pk]):
            organization = Organization.objects.get(pk=pk)
        print(f"{label}: organization {pk}, {generations:,} generations")
        for term in args.term or DEFAULT_TERMS:
            with rls.rls_organizations([pk]):
                queryset = generation_list(organization=organization).search(term, organization_ids=[pk])
                sql, params = queryset.order_by("-created_at", "-id")[:51].query.sql_with_params()
                with connection.cursor() as cursor:
                    cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
                    plan = [row[0] for row in cursor.fetchall()]
                    seconds = []
                    for _ in range(args.repeat):
                        started = time.perf_counter()
                        cursor.execute(sql, params)
                        found = len(cursor.fetchall())
                        seconds.append(time.perf_counter() - started)
            scan = next((line for line in plan if "generation_tenant_search_idx" in line), None)
            path = "content index" if scan else "the tenant's newest rows"
            expected = plan[0].split("rows=")[1].split()[0]
            executed = plan[-1].split(":")[1].strip()
            print(
                f"  {term!r:22} {found:>3} rows  expected {expected:>6}  through {path:24} "
                f"EXPLAIN {executed:>12}  p50 {statistics.median(seconds) * 1000:8.1f} ms"
            )
            if args.explain:
                print("\n".join(f"      {line}" for line in plan))


if __name__ == "__main__":
    main()
