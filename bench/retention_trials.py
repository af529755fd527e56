"""Retention trials on a kept scale build: one code against another, alternating, on fresh rows.

    .venv/bin/python bench/retention_trials.py --pgdata /tmp/pg10m                     # 3 tenants
    .venv/bin/python bench/retention_trials.py --pgdata /tmp/pg10m --root /tmp/old --root .
    .venv/bin/python bench/retention_trials.py --pgdata /tmp/pg10m --nightly --trials 4 --statements
    .venv/bin/python bench/retention_trials.py --pgdata /tmp/pg10m --root /tmp/old --root . --migrate

End-to-end rates of two ``bench/scale.py`` runs differ by more than most changes do (the box's
speed drifts between runs), so a change is judged by trials on one kept build
(``bench/scale.py --keep`` or ``--build-only --keep``), alternating the codes compared
(``--root``, each a checkout with its own ``.venv`` or this one's), each trial on rows no trial
has touched:

- a tenant's policy (default): the next organization of ``--min-rows``-``--max-rows``
  generations without cleanup preferences, smallest first, has its generations, provider calls
  and metrics shortened to ``--days`` and ``retention_apply(organizations=[it])`` runs;
- ``--nightly``: every organization on the platform's policy (364 days, as the bench's nightly
  phase), the clock set so that one more of the oldest remaining days expires each trial.

Each trial runs in its own process (the code of its ``--root``), after a ``CHECKPOINT``, so
every page's first change writes its full image as in the bench; with ``--migrate``, after
moving the schema to the trial's code's migrations (a change of keys or indexes compared on one
build; the moves read the tables they change, so the trials start from caches those reads
left). It prints rows, seconds, rows/s and WAL, and the mean rate of each code;
``--statements`` adds where each trial's time went, summed over the workers' connections
(``COMMIT`` not included). Rows are deleted for good: a build serves as many trials as it has
tenants (or days).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The bench's own modules come from this checkout, whichever code a trial runs.
sys.path.insert(0, str(ROOT))

from bench._harness import (  # noqa: E402
    RETENTION_NIGHTLY_DAYS,
    RETENTION_TENANT_DAYS,
    RETENTION_TENANT_GENERATIONS,
    StatementTimes,
    nightly_retention_policy,
    production_env,
    shorten_retention,
)

SETTINGS = "bench.scale_settings"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pgdata", required=True, help="a kept build (bench/scale.py --keep); not deleted")
    parser.add_argument("--root", action="append", help="a checkout whose code a trial runs (repeat)")
    parser.add_argument("--trials", type=int, default=3, help="trials of each code")
    parser.add_argument("--nightly", action="store_true", help="every organization's oldest day")
    least, most = RETENTION_TENANT_GENERATIONS
    parser.add_argument("--days", type=int, default=RETENTION_TENANT_DAYS, help="a tenant's shortened policy")
    parser.add_argument("--min-rows", type=int, default=least, help="a tenant's generations, at least")
    parser.add_argument("--max-rows", type=int, default=most, help="a tenant's generations, at most")
    parser.add_argument("--workers", type=int, default=None, help="default: apply_retention's")
    parser.add_argument("--statements", action="store_true", help="where each trial's time went")
    parser.add_argument(
        "--migrate",
        action="store_true",
        help="before each trial, migrate the build to its root's migrations (for a schema change; "
        "this checkout must hold every root's migrations)",
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a trial's JSON, in its own process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(trial(json.loads(args.one))))
        return

    roots = [Path(root).resolve() for root in (args.root or [ROOT])]
    env = {**os.environ, **production_env(Path(args.pgdata), settings=SETTINGS)}
    os.environ.update(env)
    import django

    django.setup()
    # Every root's migrations checked before the first trial, not when its turn comes.
    targets = {root: migration_targets(root) for root in roots} if args.migrate else {}
    plans = plan_trials(args, len(roots) * args.trials)
    rates: dict[Path, list[float]] = {root: [] for root in roots}
    labels = {root: label(root) for root in roots}
    print(f"{'code':<28} {'trial':<34} {'rows':>8} {'s':>6} {'rows/s':>8} {'WAL MB':>7}", flush=True)
    for number, plan in enumerate(plans):
        root = roots[number % len(roots)]  # alternating, so the box's drift falls on every code
        if args.migrate:
            migrate_to(targets[root])
        python = root / ".venv/bin/python"
        command = [str(python if python.exists() else sys.executable), __file__, "--pgdata", args.pgdata]
        command += ["--one", json.dumps({**plan, "root": str(root), "workers": args.workers})]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode:
            raise SystemExit(f"trial {number} ({root}) failed:\n{done.stderr[-3000:]}")
        outcome = json.loads(done.stdout.strip().splitlines()[-1])
        rate = outcome["rows"] / outcome["seconds"]
        rates[root].append(rate)
        print(
            f"{labels[root]:<28} {plan['label']:<34} {outcome['rows']:>8,} {outcome['seconds']:>6.2f} "
            f"{rate:>8,.0f} {outcome['wal'] / 2**20:>7,.0f}",
            flush=True,
        )
        if args.statements:
            for sql, (count, seconds) in outcome["statements"]:
                print(f"      {seconds * 1000:>8,.0f} ms {count:>4} x  {sql}")
    for root, each in rates.items():
        print(f"{labels[root]}: mean {sum(each) / len(each):,.0f} rows/s over {len(each)} trials")


def migration_targets(root: Path) -> list[tuple[str, str]]:
    """Where ``--migrate`` moves the build for ``root``'s trials: each of the project's apps (a
    top-level package of this checkout) to the newest of ``root``'s migrations of it, by this
    checkout's migration graph. Exits when ``root`` holds a migration this checkout does not
    (it could not be unapplied) or an app's newest is not one migration (a merge pending)."""
    from django.apps import apps
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    graph = MigrationLoader(connection, ignore_no_migrations=True).graph
    targets = []
    for config in apps.get_app_configs():
        package = Path(config.path).resolve()
        if package.parent != ROOT or not (package / "migrations").is_dir():
            continue  # Django's and the installed packages' apps: the same in every root
        theirs = {
            path.stem for path in (root / package.name / "migrations").glob("[0-9][0-9][0-9][0-9]_*.py")
        }
        if unknown := sorted(name for name in theirs if (config.label, name) not in graph.nodes):
            raise SystemExit(f"{root} has migrations of {config.label} this checkout lacks: {unknown}")
        nodes = [(config.label, name) for name in theirs]
        newest = [node for node in nodes if set(nodes) <= set(graph.forwards_plan(node))]
        if len(newest) != 1:
            raise SystemExit(f"{root}: no single newest migration of {config.label} ({sorted(theirs)})")
        targets.append(newest[0])
    if not targets:
        raise SystemExit(f"{root}: none of this checkout's apps found")
    return targets


def migrate_to(targets: list[tuple[str, str]]) -> None:
    """Move the build's schema to ``targets`` (:func:`migration_targets`), with this checkout's
    code (it can unapply what an older root does not know), as the project's ``migrate`` command
    does (the tables' owner)."""
    from django.core.management import call_command

    for app_label, name in targets:
        call_command("migrate", app_label, name, verbosity=0)


def plan_trials(args, count: int) -> list[dict]:
    """What each trial archives: a tenant not yet shortened (``organization``), or the moment
    that expires the next oldest day of every organization (``now``)."""
    from django.db import connection
    from django.db.models import Count

    from analytics.models import CleanupPreferences
    from generations.models import Generation
    from tenancy.rls import database_owner

    with database_owner():
        if args.nightly:
            # The oldest provider call left, by each organization's (organization, occurred_at)
            # index: where the last nightly run stopped. Calls expire by their time alone; the
            # oldest generation may be a node of a tree kept for a newer one.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT min(first.occurred_at) FROM tenancy_organization AS o, LATERAL ("
                    "SELECT c.occurred_at FROM analytics_providercall AS c WHERE c.organization_id = o.id "
                    "ORDER BY c.occurred_at LIMIT 1) AS first"
                )
                oldest = cursor.fetchone()[0]
            # The nightly policy from a clock a day more than it past the oldest: the oldest day
            # expires, and one more day each trial.
            day = datetime.timedelta(days=1)
            return [
                {
                    "now": (oldest + (RETENTION_NIGHTLY_DAYS + 1 + number) * day).isoformat(),
                    "label": f"nightly, cutoff {oldest + (1 + number) * day:%Y-%m-%d %H:%M}",
                }
                for number in range(count)
            ]
        shortened = set(CleanupPreferences.objects.values_list("organization_id", flat=True))
        sizes = (
            Generation.all_objects.order_by()
            .values("organization_id")
            .annotate(n=Count("id"))
            .filter(n__gte=args.min_rows, n__lte=args.max_rows)
            .order_by("n")
        )
        fresh = [size for size in sizes if size["organization_id"] not in shortened][:count]
    if len(fresh) < count:
        raise SystemExit(f"{len(fresh)} tenants of {args.min_rows:,}-{args.max_rows:,} generations left")
    return [
        {
            "organization": size["organization_id"],
            "days": args.days,
            "label": f"organization {size['organization_id']} ({size['n']:,} generations)",
        }
        for size in fresh
    ]


def trial(plan: dict) -> dict:
    """One retention run of ``plan`` with the code of ``plan['root']``: rows archived, seconds,
    WAL bytes and the statements that took longest."""
    sys.path.insert(0, plan["root"])  # the product's code from the root's checkout
    os.chdir(plan["root"])
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import override_settings

    from analytics import retention
    from tenancy.models import Organization
    from tenancy.rls import database_owner

    statements = StatementTimes()
    options = {"workers": plan["workers"] or retention.DEFAULT_WORKERS}
    policy = dict(settings.RETENTION_POLICY)
    with database_owner():
        if "organization" in plan:
            organization = Organization.objects.get(pk=plan["organization"])
            shorten_retention(organization, plan["days"])
            options["organizations"] = [organization]
        else:
            policy = nightly_retention_policy()
            options["now"] = datetime.datetime.fromisoformat(plan["now"])
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
            cursor.execute("SELECT pg_current_wal_insert_lsn()")
            start = cursor.fetchone()[0]
        began = time.perf_counter()
        with override_settings(RETENTION_POLICY=policy), statements.on_every_connection():
            outcomes = retention.retention_apply(**options)
        seconds = time.perf_counter() - began
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s)", [start])
            wal = int(cursor.fetchone()[0])
    return {
        "rows": sum(outcome.archived for outcome in outcomes),
        "seconds": seconds,
        "wal": wal,
        "statements": statements.top(14),
    }


def label(root: Path) -> str:
    command = ["git", "-C", str(root), "rev-parse", "--short", "HEAD"]
    head = subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()  # noqa: S603
    return f"{root.name} ({head or 'no git'})"


if __name__ == "__main__":
    main()
