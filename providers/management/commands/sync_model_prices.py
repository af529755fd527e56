"""``manage.py sync_model_prices [--dry-run]``: providers, text models and versioned prices from
genai-prices' bundled snapshot (see ``providers.price_sync``)."""

from tqdm import tqdm

from background.commands import ExclusiveCommand
from providers.price_sync import SOURCE, price_sync
from tenancy.rls import rls_bypass


class Command(ExclusiveCommand):
    help = "Import our providers' text models and prices from genai-prices; --dry-run prints the diff."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Print what would change; write nothing.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    @rls_bypass(reason="sync_model_prices: global prices")
    def handle(self, *args, dry_run=False, no_progress=False, verbosity=1, **options):
        def progress(items):
            return tqdm(items, desc="models", unit="model", disable=no_progress, file=self.stderr)

        report = price_sync(dry_run=dry_run, progress=progress)
        # A first sync writes thousands of lines; the diff is the point of --dry-run and of -v 2,
        # a summary is enough for `make seed`.
        if dry_run or verbosity >= 2:
            for line in report.lines:
                self.stdout.write(line)
        else:
            for line in report.lines:
                if line.startswith("!"):  # a change dated before this sync: calls to re-price
                    self.stdout.write(self.style.WARNING(line))
        verb = "would change" if dry_run else "changed"
        if not report.changed:
            self.stdout.write(self.style.SUCCESS(f"Prices are in line with {SOURCE}; nothing written."))
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"{SOURCE}: {verb} {report.providers_created} providers, {report.models_created} new models, "
                f"{report.models_updated} updated models, {report.prices_created} new prices, "
                f"{report.prices_closed} closed, {report.prices_deleted} scheduled prices replaced."
            )
        )
