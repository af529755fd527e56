"""Every report, source and grouping, timed through the WSGI application on a kept scale build.

    .venv/bin/python bench/report_groupings.py --pgdata /tmp/pg10m              # a year, biggest tenant
    .venv/bin/python bench/report_groupings.py --pgdata /tmp/pg10m --days 30 --report keys --report models

``bench/scale.py`` times each report with its default grouping. A client may ask any grouping
(``group_by`` of up to two dimensions, day and month not together) and source; each reads the
narrowest rollup that holds its columns (``analytics.reports.rollup_for``), so questions by user
with a model, provider or content type, or the keys report by anything but time, read the finest
rollups. For the tenant ``--tenant`` (the bench's biggest, or its median, as ``bench/scale.py``
picks them), over the last ``--days`` days of its data, this sends every such question (totals
alone, each dimension, each pair) as ``GET reports/<name>/`` through Django's WSGI application
without sockets, as gunicorn's worker calls it, and prints the best of ``--repeat`` wall times,
the rows answered and whether the answer was cut at the limit, flagging those over ``--target``
ms; then how many questions are over it.

Nothing is written but one API key. The server is the kept one (attached to, never stopped).
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import attach_kept_build, kept_build_tenants, wsgi_call  # noqa: E402


def questions(reports: list[str]) -> list[tuple[str, str | None, list[str]]]:
    """(report, source or None for a report of one source, group_by) for every grouping."""
    from analytics.choices import GroupBy
    from analytics.reports import REPORTS

    dimensions = [choice.value for choice in GroupBy]
    time_pair = {GroupBy.DAY.value, GroupBy.MONTH.value}
    groupings = [[], *([d] for d in dimensions)]
    groupings += [list(pair) for pair in itertools.combinations(dimensions, 2) if set(pair) != time_pair]
    asked = []
    for name in reports:
        spec = REPORTS[name]
        for source in spec.sources if len(spec.sources) > 1 else [None]:
            asked += [(name, source, grouping) for grouping in groupings]
    return asked


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pgdata", required=True, help="data directory of a kept bench database")
    parser.add_argument("--tenant", choices=["biggest", "median"], default="biggest")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--report", action="append", help="a report to time (repeatable; default all)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each question (the best is shown)")
    parser.add_argument("--target", type=float, default=50.0, help="ms; questions slower are flagged")
    args = parser.parse_args()

    attach_kept_build(parser, Path(args.pgdata))
    from django.core.wsgi import get_wsgi_application

    from analytics.models import GenerationDayRollup
    from analytics.reports import REPORTS
    from bench.scale import make_key
    from tenancy import rls

    reports = args.report or list(REPORTS)
    unknown = sorted(set(reports) - set(REPORTS))
    if unknown:
        parser.error(f"no report {', '.join(unknown)}; the reports are {', '.join(REPORTS)}")
    tenant = {label: (organization, count) for label, organization, count in kept_build_tenants()}
    organization, generations = tenant[args.tenant]
    with rls.database_owner():
        last = GenerationDayRollup.objects.filter(organization_id=organization).latest("day").day
        api_key = make_key(organization)
    first = last - datetime.timedelta(days=args.days - 1)
    print(
        f"{args.tenant} tenant: organization {organization}, {generations:,} generations; "
        f"{first}…{last}; best of {args.repeat}"
    )
    application = get_wsgi_application()
    slow = 0
    asked = questions(reports)
    for report, source, grouping in asked:
        query = f"from={first}&to={last}&group_by={','.join(grouping)}"
        query += f"&source={source}" if source else ""
        path = f"/api/v1/reports/{report}/"
        best, status, body = float("inf"), "", b""
        for _ in range(args.repeat):
            began = time.perf_counter()
            status, body = wsgi_call(application, "GET", path, api_key=api_key, query=query)
            best = min(best, time.perf_counter() - began)
            if not status.startswith("200"):
                break
        label = f"{report:9} {source or '':15} {','.join(grouping) or '(totals)':22}"
        if not status.startswith("200"):
            raise SystemExit(f"{label} answered {status}: {body[:300]!r}")
        answer = json.loads(body)
        over = best * 1000 > args.target
        slow += over
        print(
            f"{label} {best * 1000:8.1f} ms  {len(answer['rows']):5} rows"
            f"{' (cut)' if answer['truncated'] else '      '}{'  OVER' if over else ''}",
            flush=True,
        )
    print(f"{slow} of {len(asked)} questions over {args.target:g} ms")


if __name__ == "__main__":
    main()
