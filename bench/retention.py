"""Retention throughput and bloat: archive and delete a year of expired rows, then measure what
VACUUM gives back.

    .venv/bin/python bench/retention.py                       # 200,000 generations, 30-day policy
    .venv/bin/python bench/retention.py --rows 50000 --compact
    .venv/bin/python bench/retention.py --root /work/main --seconds 60   # another checkout's code

Starts a throwaway embedded PostgreSQL (``--pgdata``, deleted first), migrates it and builds
``--rows`` generations and as many provider calls (with metrics, trees, runs) over
``--organizations`` tenants and a year of dates with ``bench/scale_data.py`` (SQL, not the
API). Every organization then shortens its retention of generations, failed generations,
provider calls and metrics to ``--days``, and ``retention_apply`` runs over all of them, timed
(at most ``--seconds``: a batch is counted only when it commits). It prints the rows archived
per second and the size of each table (with indexes) before, after ``VACUUM`` and, with
``--compact``, after ``retention_compact`` (``apply_retention --compact``: ``VACUUM (FULL)``).

``--root`` imports the project from another checkout (e.g. main, to measure the code before a
change on the same data); the bench's own modules come from there too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

TABLES = (
    "generations_generation",
    "analytics_providercall",
    "analytics_performancemetric",
    "generations_generationrun",
    "analytics_archivedrecord",
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000, help="generations (and provider calls)")
    parser.add_argument("--organizations", type=int, default=10)
    parser.add_argument("--days", type=int, default=30, help="the shortened retention of every tenant")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the code's")
    parser.add_argument("--workers", type=int, default=None, help="default: apply_retention's")
    parser.add_argument("--seconds", type=float, default=600, help="time box of the retention run")
    parser.add_argument("--compact", action="store_true", help="also measure VACUUM (FULL)")
    parser.add_argument("--profile", action="store_true", help="slowest statements, all workers'")
    parser.add_argument("--root", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--pgdata", default=str(Path(tempfile.gettempdir()) / "inkwell-retention-pg"))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    sys.path.insert(0, args.root)
    os.chdir(args.root)
    from bench._harness import StatementTimes, production_env

    pgdata = Path(args.pgdata)
    shutil.rmtree(pgdata, ignore_errors=True)
    os.environ.update(production_env(pgdata, settings="config.settings.production"))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections

    from analytics import retention
    from analytics.models import CleanupPreferences
    from bench.scale import set_build_mode
    from bench.scale_data import Builder
    from config.embedded_postgres import stop_embedded_database
    from providers.price_sync import price_sync
    from tenancy.models import Organization
    from tenancy.rls import database_owner, rls_bypass

    def sizes() -> dict[str, int]:
        with connection.cursor() as cursor:
            found = {}
            for table in TABLES:
                cursor.execute("SELECT pg_total_relation_size(%s)", [table])
                found[table] = cursor.fetchone()[0]
            return found

    def vacuum() -> None:
        # As the tables' owner: the app role's VACUUM skips them with only a warning.
        with database_owner(), connection.cursor() as cursor:
            for table in TABLES[:4]:
                cursor.execute(f"VACUUM {table}")

    statements = StatementTimes(width=90)

    try:
        call_command("migrate", verbosity=0)
        with rls_bypass(reason="bench set-up"):
            price_sync()
        # Build mode (ALTER SYSTEM) and the bulk build need the tables' owner, as migrate does.
        with database_owner():
            set_build_mode(True)
            print(f"building {args.rows:,} generations and provider calls …", flush=True)
            began = time.perf_counter()
            Builder(rows=args.rows, organizations=args.organizations, parallel=2, seed=args.seed).build()
            set_build_mode(False)
            vacuum()
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            print(f"built in {time.perf_counter() - began:.0f} s", flush=True)
        # Retention runs as the nightly job does: outside any request, across organizations.
        with rls_bypass(reason="bench retention"):
            for organization in Organization.objects.all():
                CleanupPreferences.objects.update_or_create(
                    organization=organization,
                    defaults={
                        "generations_days": args.days,
                        "failed_generations_days": args.days,
                        "provider_calls_days": args.days,
                        "performance_metrics_days": args.days,
                    },
                )
            plan = retention.retention_plan()
            expected = sum(outcome.rows for outcome in plan)
            before = sizes()
            committed = {"rows": 0, "batches": 0}
            counting = threading.Lock()  # on_batch runs in each worker's thread
            began = time.perf_counter()

            class TimeUp(Exception):
                pass

            def on_batch(batch):
                # Raising rolls this batch back, so it is counted only when it commits.
                if time.perf_counter() - began > args.seconds:
                    raise TimeUp
                with counting:
                    committed["rows"] += batch.archived_rows
                    committed["batches"] += 1

            workers = args.workers or retention.DEFAULT_WORKERS
            options = {"on_batch": on_batch, "workers": workers}
            if args.batch_size:
                options["batch_size"] = args.batch_size
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                backend = cursor.fetchone()[0]
            cpu_before = cpu_seconds(backend) + time.process_time()
            stopped = False
            try:
                if args.profile:
                    with statements.on_every_connection():
                        retention.retention_apply(**options)
                else:
                    retention.retention_apply(**options)
            except TimeUp:
                stopped = True
            elapsed = time.perf_counter() - began
            cpu = cpu_seconds(backend) + time.process_time() - cpu_before
            rows = committed["rows"]
            after = sizes()
            began = time.perf_counter()
            vacuum()
            vacuumed, vacuum_s = sizes(), time.perf_counter() - began
            compacted = compact_s = None
            if args.compact:
                began = time.perf_counter()
                retention.retention_compact()
                compacted, compact_s = sizes(), time.perf_counter() - began

        print(
            f"code: {args.root} (git {git_head(args.root)}); CPU cores: {os.cpu_count()}; "
            f"load {os.getloadavg()[0]:.1f}"
        )
        print(
            f"retention: {rows:,} rows archived ({expected:,} of the targets' tables in the plan, the "
            f"rest what cascades from them: metrics, run figures) in {elapsed:.1f} s "
            f"({committed['batches']} batches, {workers} worker(s)) = {rows / elapsed:,.0f} rows/s"
            f"{' (time box hit)' if stopped else ''}; CPU (this process + its first PostgreSQL backend"
            f"{', the other workers not counted' if workers > 1 else ''}) "
            f"{cpu:.1f} s = {rows / cpu:,.0f} rows per CPU second"
        )
        mb = 2**20
        header = f"{'table (with indexes)':<32} {'before':>9} {'after':>9} {'VACUUM':>9}"
        print(header + (f" {'FULL':>9}" if compacted else "") + "   (MB)")
        for table in TABLES:
            line = (
                f"{table:<32} {before[table] / mb:>9,.1f} {after[table] / mb:>9,.1f} "
                f"{vacuumed[table] / mb:>9,.1f}"
            )
            print(line + (f" {compacted[table] / mb:>9,.1f}" if compacted else ""))
        print(f"VACUUM {vacuum_s:.1f} s" + (f"; VACUUM (FULL) {compact_s:.1f} s" if compacted else ""))
        for sql, (count, seconds) in statements.top(12):
            print(f"statement {seconds:.2f} s {count} x  {sql}")
    finally:
        connections.close_all()
        stop_embedded_database(pgdata)
        shutil.rmtree(pgdata, ignore_errors=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a local process (the PostgreSQL backend): unlike wall time,
    not inflated by other work on a shared machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def git_head(root: str) -> str:
    import subprocess

    command = ["git", "-C", root, "rev-parse", "--short", "HEAD"]
    return subprocess.run(command, capture_output=True, text=True).stdout.strip()  # noqa: S603


if __name__ == "__main__":
    main()
