"""``manage.py rollup --from --to``: rebuild the rollups of a range of days from raw rows."""

from __future__ import annotations

from django.core.management.base import CommandError
from tqdm import tqdm

from analytics.rollups import rollup_rebuild
from background.commands import ExclusiveCommand
from tenancy.management.options import day_option, organizations_option
from tenancy.models import Organization
from tenancy.rls import rls_bypass


class Command(ExclusiveCommand):
    help = (
        "Rebuild the daily (generations), hourly (provider calls) and per-run rollups of the UTC "
        "days --from … --to (both included) from the raw rows: one transaction per organization, "
        "idempotent. Days whose raw rows retention already archived keep their rollups."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="date_from", required=True, type=day_option)
        parser.add_argument("--to", dest="date_to", required=True, type=day_option)
        parser.add_argument("--organization", help="Slug; default every organization.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would be rebuilt; write nothing."
        )

    @rls_bypass(reason="rollup: analytics rollups")
    def handle(self, *args, date_from, date_to, organization, dry_run, **options):
        if date_to < date_from:
            raise CommandError("--to is before --from.")
        organizations = organizations_option(organization, default=Organization.objects.order_by("pk"))
        if dry_run:
            self.stdout.write(
                f"Would rebuild {date_from}…{date_to} for {len(organizations)} organization(s) (dry run)."
            )
            return
        with tqdm(total=len(organizations), unit="org", disable=options["verbosity"] == 0) as progress:
            result = rollup_rebuild(
                date_from=date_from, date_to=date_to, organizations=organizations, progress=progress.update
            )
        for slug, (first, last) in result.skipped.items():
            self.stdout.write(f"{slug}: kept {first}…{last} as is (raw rows already archived by retention).")
        self.stdout.write(
            self.style.SUCCESS(
                f"Rebuilt {date_from}…{date_to} for {result.organizations} organization(s): "
                f"{result.generation_groups} daily, {result.provider_call_groups} hourly and "
                f"{result.run_groups} run/model groups."
            )
        )
