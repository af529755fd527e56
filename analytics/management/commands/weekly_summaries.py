"""``manage.py weekly_summaries``: one summary row per organization and week, from the rollups."""

from __future__ import annotations

import datetime

from django.core.management.base import CommandError
from django.utils import timezone
from tqdm import tqdm

from analytics.services import week_start_of, weekly_summary_write
from background.commands import ExclusiveCommand
from tenancy.management.options import day_option, organizations_option
from tenancy.models import Organization
from tenancy.rls import rls_bypass


class Command(ExclusiveCommand):
    help = (
        "Write the weekly summary (volume, cost, top models, failure rate, change against the "
        "week before) of every organization for the last complete week, or --weeks weeks ending "
        "with the one containing --week. Rewriting a week replaces its row."
    )

    def add_arguments(self, parser):
        parser.add_argument("--week", help="A day (YYYY-MM-DD) of the last week to write; default last week.")
        parser.add_argument("--weeks", type=int, default=1, help="How many weeks back from it (default 1).")
        parser.add_argument("--organization", help="Slug; default every active organization.")
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be written; write nothing."
        )

    @rls_bypass(reason="weekly_summaries")
    def handle(self, *args, week, weeks, organization, dry_run, **options):
        if weeks < 1:
            raise CommandError("--weeks must be at least 1.")
        day = day_option(week) if week else timezone.now().date() - datetime.timedelta(days=7)
        last = week_start_of(day)
        starts = [last - datetime.timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]
        organizations = organizations_option(
            organization, default=Organization.objects.active().order_by("pk")
        )
        if dry_run:
            self.stdout.write(
                f"Would write {len(organizations) * len(starts)} summaries: weeks {starts[0]}…{starts[-1]} "
                f"for {len(organizations)} organization(s) (dry run)."
            )
            return
        written = 0
        with tqdm(
            total=len(organizations) * len(starts), unit="summary", disable=options["verbosity"] == 0
        ) as bar:
            for org in organizations:
                for start in starts:
                    weekly_summary_write(organization=org, week_start=start)
                    written += 1
                    bar.update(1)
        self.stdout.write(self.style.SUCCESS(f"Wrote {written} weekly summaries ({starts[0]}…{starts[-1]})."))
