"""``manage.py purge_user --user-ref …``: the GDPR erasure of one user, across apps."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from analytics.purge import user_purge
from tenancy.management.options import organizations_option
from tenancy.rls import rls_bypass


class Command(BaseCommand):
    help = (
        "Erase one user's content and personal fields (generations, runs, provider calls, metrics, "
        "budgets, AI preferences, archived copies, audit mentions) while keeping their costs as "
        "anonymous totals; writes one audit event per organization."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user-ref", required=True, help="The client's user id to erase.")
        parser.add_argument("--organization", help="Slug; default every organization where it appears.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be erased; change nothing."
        )

    @rls_bypass(reason="purge_user: personal data purge")
    def handle(self, *args, user_ref, organization, dry_run, **options):
        if not user_ref.strip():
            raise CommandError("--user-ref cannot be empty.")
        organizations = organizations_option(organization)
        outcomes = user_purge(user_ref=user_ref, organizations=organizations, dry_run=dry_run)
        if not outcomes:
            self.stdout.write("That user reference appears in no organization; nothing to erase.")
            return
        for outcome in outcomes:
            counts = ", ".join(f"{name} {count}" for name, count in outcome.counts.items())
            self.stdout.write(f"{outcome.organization}: {counts}")
        verb = "Would erase" if dry_run else "Erased"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} the user in {len(outcomes)} organization(s){' (dry run)' if dry_run else ''}."
            )
        )
