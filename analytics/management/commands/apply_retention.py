"""``manage.py apply_retention``: archive, then delete, the raw rows the retention policy expired."""

from __future__ import annotations

from django.core.management.base import CommandError
from tqdm import tqdm

from analytics.models import ArchivedRecord
from analytics.retention import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_WORKERS,
    retention_apply,
    retention_compact,
    retention_plan,
)
from background.commands import ExclusiveCommand
from tenancy.management.options import organizations_option
from tenancy.rls import rls_bypass


class Command(ExclusiveCommand):
    help = (
        "Archive expired rows (generations, failed generations, provider calls, performance "
        "metrics, empty runs; per settings.RETENTION_POLICY and each organization's cleanup "
        "preferences) into the analytics archive table, then delete them: in batches, one "
        "transaction per batch, so a crash loses nothing. Rollups are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
        parser.add_argument(
            "--workers",
            type=int,
            default=DEFAULT_WORKERS,
            help="Database connections archiving side by side (default %(default)s): each takes its "
            "own batches of each target (organizations sharing a cutoff share batches), so a crash "
            "still rolls back only the batches in flight.",
        )
        parser.add_argument("--organization", help="Slug; default every organization.")
        parser.add_argument("--dry-run", action="store_true", help="Count what has expired; change nothing.")
        parser.add_argument(
            "--compact",
            action="store_true",
            help="Afterwards, VACUUM (FULL) the tables retention deletes from, so the disk space comes "
            "back (plain VACUUM only makes it reusable). Locks each table while it is rewritten: "
            "ingestion waits; run it in a quiet window.",
        )

    @rls_bypass(reason="apply_retention: retention across organizations")
    def handle(self, *args, batch_size, workers, organization, dry_run, compact, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        if workers < 1:
            raise CommandError("--workers must be at least 1.")
        if compact and organization:
            raise CommandError("--compact rewrites whole tables: run it without --organization.")
        organizations = organizations_option(organization)
        plan = retention_plan(organizations=organizations)
        for outcome in plan:
            if outcome.rows:
                self.stdout.write(
                    f"{outcome.organization}: {outcome.target}: {outcome.rows} row(s) older than "
                    f"{outcome.days} days (before {outcome.cutoff:%Y-%m-%d %H:%M} UTC)"
                )
        expired = sum(outcome.expired for outcome in plan)
        if dry_run:
            self.stdout.write(f"Would archive and delete {sum(o.rows for o in plan)} row(s) (dry run).")
            return
        with tqdm(total=expired, unit="row", disable=options["verbosity"] == 0) as progress:
            done = retention_apply(
                organizations=organizations,
                batch_size=batch_size,
                workers=workers,
                on_batch=lambda batch: progress.update(batch.primary_rows),
            )
        archived = sum(outcome.archived for outcome in done)
        table = ArchivedRecord._meta.db_table
        self.stdout.write(
            self.style.SUCCESS(
                f"Archived and deleted {archived} row(s) in {sum(o.batches for o in done)} batch(es); "
                f"the archive is the table {table}."
            )
        )
        if compact:
            for table, (before, after) in retention_compact().items():
                self.stdout.write(f"{table}: {before / 2**20:,.1f} MB -> {after / 2**20:,.1f} MB")
