"""``manage.py purge_expired_cache``: delete expired response-cache entries in batches."""

from __future__ import annotations

import datetime

from django.utils import timezone
from tqdm import tqdm

from background.commands import ExclusiveCommand
from generations.models import CacheEntry
from generations.services import cache_purge_expired
from tenancy.rls import rls_bypass


class Command(ExclusiveCommand):
    help = "Delete response-cache entries that expired (optionally: more than --older-than-hours ago)."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=5000, help="Rows per DELETE (default 5000).")
        parser.add_argument(
            "--older-than-hours", type=int, default=0, help="Keep entries expired less than this long ago."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted; delete nothing."
        )

    @rls_bypass(reason="purge_expired_cache")
    def handle(self, *args, batch_size, older_than_hours, dry_run, **options):
        before = timezone.now() - datetime.timedelta(hours=older_than_hours)
        expired = CacheEntry.objects.filter(expires_at__lte=before).count()
        if dry_run:
            self.stdout.write(f"Would delete {expired} expired cache entries (dry run).")
            return
        deleted = 0
        with tqdm(total=expired, unit="entry", disable=options["verbosity"] == 0) as progress:
            for count in cache_purge_expired(before=before, batch_size=batch_size):
                deleted += count
                progress.update(count)
        self.stdout.write(self.style.SUCCESS(f"Deleted {deleted} expired cache entries."))
