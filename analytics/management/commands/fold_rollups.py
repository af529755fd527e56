"""``manage.py fold_rollups``: compact the append-only rollups' delta rows, one row per group."""

from __future__ import annotations

import datetime

from django.core.management.base import CommandError
from django.utils import timezone
from tqdm import tqdm

from analytics.rollups import rollups_fold, rollups_unfolded
from background.commands import ExclusiveCommand
from tenancy.management.options import day_option
from tenancy.models import Organization
from tenancy.rls import rls_bypass


class Command(ExclusiveCommand):
    help = (
        "Fold the daily and hourly rollups (and the cache's daily stats) of the UTC days --from … "
        "--to (both included; default yesterday and today) into one row per group, one statement "
        "per table (and organization, with --per-organization). Reports read the same figures "
        "before and after; safe while ingestion runs."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="date_from", type=day_option, help="Default: yesterday (UTC).")
        parser.add_argument("--to", dest="date_to", type=day_option, help="Default: today.")
        parser.add_argument(
            "--organization", help="Slug; default every organization, all in one statement per table."
        )
        parser.add_argument(
            "--per-organization", action="store_true", help="One transaction per organization."
        )
        parser.add_argument("--dry-run", action="store_true", help="Count the rows a fold would remove.")

    @rls_bypass(reason="fold_rollups: analytics rollups")
    def handle(self, *args, date_from, date_to, organization, per_organization, dry_run, **options):
        today = timezone.now().astimezone(datetime.UTC).date()
        # Default yesterday and today: the rows written since the last run before midnight too.
        date_from = date_from or today - datetime.timedelta(days=1)
        date_to = date_to or max(date_from, today)
        if date_to < date_from:
            raise CommandError("--to is before --from.")
        found = None
        if organization:
            found = Organization.objects.filter(slug=organization).first()
            if found is None:
                raise CommandError(f"No organization {organization!r}.")
        if dry_run:
            counts = rollups_unfolded(date_from=date_from, date_to=date_to, organization=found)
            for table, count in counts.items():
                self.stdout.write(f"{table}: would fold away {count} row(s) (dry run).")
            return
        if found is not None:
            targets: list[Organization | None] = [found]
        elif per_organization:
            targets = list(Organization.objects.order_by("pk"))
        else:
            targets = [None]
        before = after = 0
        with tqdm(total=len(targets), unit="org", disable=options["verbosity"] == 0) as progress:
            for target in targets:
                for rows_before, rows_after in rollups_fold(
                    organization=target, date_from=date_from, date_to=date_to
                ).values():
                    before += rows_before
                    after += rows_after
                progress.update(1)
        self.stdout.write(self.style.SUCCESS(f"Folded {date_from}…{date_to}: {before} row(s) into {after}."))
