"""``manage.py seed_demo``: realistic, consistent demo data, written in batches."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count, Max
from django.utils import timezone

from generations.models import CacheEntry, Campaign, Generation, GenerationRun
from generations.signals import generations_recorded
from providers.price_sync import price_sync, snapshot_catalogue
from tests.generations.factories import vertical

pytestmark = pytest.mark.django_db
FOUR = ("openai", "anthropic", "google", "perplexity")


@pytest.fixture
def catalogue(db):
    wanted = {"gpt-4o", "gpt-4o-mini", "claude-sonnet-4-0", "gemini-2.5-flash"}
    price_sync(catalogue=[entry for entry in snapshot_catalogue(FOUR) if entry.name in wanted])
    for slug in ("hospitality", "healthcare", "tech", "athletics"):
        vertical(slug)


def test_seed_demo_makes_consistent_trees_runs_campaigns_and_cache(catalogue):
    batches = []
    generations_recorded.connect(
        receiver := lambda sender, **kw: batches.append(len(kw["generations"])), weak=False
    )
    out = StringIO()
    try:
        call_command(
            "seed_demo", organizations=2, generations=600, seed=3, batch_size=250, verbosity=0, stdout=out
        )
    finally:
        generations_recorded.disconnect(receiver)

    assert "Created 1200 generations" in out.getvalue()
    assert batches == [250, 250, 100] * 2
    assert Generation.objects.values("organization").distinct().count() == 2
    kinds = dict(Generation.objects.values_list("kind").annotate(n=Count("id")))
    assert kinds["original"] > 0 and kinds["revision"] > 0 and kinds["variant"] > 0
    assert set(Generation.objects.values_list("status", flat=True)) >= {"success", "failed"}
    assert Generation.objects.filter(cost_status="unpriced").exists()
    assert Generation.objects.filter(cost_status="priced", cost_usd__gt=0).exists()
    oldest = Generation.objects.order_by("created_at").first().created_at
    assert oldest > timezone.now() - datetime.timedelta(days=366)
    assert oldest < timezone.now() - datetime.timedelta(days=200)
    # Every tree is consistent: children share their parent's organization and root, versions
    # are unique per tree and the root's counter is the highest version handed out.
    for child in Generation.objects.filter(parent__isnull=False).select_related("parent"):
        assert child.organization_id == child.parent.organization_id
        assert child.root_id == (child.parent.root_id or child.parent_id)
        assert child.depth == child.parent.depth + 1
        if child.kind == "variant":
            assert child.vertical_id != child.parent.vertical_id
    tops = Generation.objects.filter(root__isnull=False).values("root").annotate(top=Max("version"))
    for row in tops:
        assert Generation.objects.get(pk=row["root"]).tree_last_version == row["top"]
    assert Campaign.objects.count() == 10
    assert GenerationRun.objects.count() == 20
    assert Generation.objects.filter(run__isnull=False).exists()
    assert CacheEntry.objects.count() == 60


def test_seed_demo_dry_run_writes_nothing(catalogue):
    out = StringIO()
    call_command("seed_demo", "--dry-run", organizations=3, generations=100, stdout=out)
    assert "Would create 3 demo organization(s)" in out.getvalue()
    assert Generation.objects.count() == 0
