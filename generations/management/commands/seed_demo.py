"""``manage.py seed_demo``: realistic demo generations, trees, runs, campaigns and cache entries."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from tqdm import tqdm

from generations.demo_seeding import seed_demo
from providers.models import AIModel
from providers.price_sync import price_sync
from tenancy.rls import rls_bypass


class Command(BaseCommand):
    help = (
        "Create demo organizations (demo-1, demo-2 …) each with --generations generations over the "
        "past year: trees with revisions and variants, runs, campaigns, cache entries."
    )

    def add_arguments(self, parser):
        parser.add_argument("--organizations", type=int, default=2)
        parser.add_argument("--generations", type=int, default=5000, help="Per organization.")
        parser.add_argument("--seed", type=int, default=None, help="Random seed, for repeatable data.")
        parser.add_argument("--batch-size", type=int, default=2000)
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would be created; write nothing."
        )

    @rls_bypass(reason="seed_demo")
    def handle(self, *args, organizations, generations, seed, batch_size, dry_run, **options):
        if dry_run:
            self.stdout.write(
                f"Would create {organizations} demo organization(s) with {generations} generations each "
                f"({organizations * generations} in all), {max(1, generations // 60)} runs, "
                f"{max(1, generations // 20)} cache entries and 5 campaigns each (dry run)."
            )
            return
        if not AIModel.objects.exists():
            self.stdout.write("No models in the catalogue: syncing prices from genai-prices first.")
            price_sync()
        quiet = options["verbosity"] == 0
        report = seed_demo(
            organizations=organizations,
            generations=generations,
            seed=seed,
            batch_size=batch_size,
            progress=lambda **kwargs: tqdm(disable=quiet, **kwargs),
        )
        # A kind the run created none of reads 0 (a Counter).
        summary = (
            "Created {generations} generations ({revisions} revisions, {variants} variants, {unpriced} "
            "unpriced) in {organizations} organization(s), {campaigns} campaigns, {runs} runs, "
            "{cache_entries} cache entries."
        ).format_map(report)
        self.stdout.write(self.style.SUCCESS(summary))
