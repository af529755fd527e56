"""Retention: a dry run changes nothing; a real run archives and deletes exactly the expired rows
(trees whole, never a live row), each organization by its own shortened policy; a crash between
batches loses nothing and a second run finishes the job."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from analytics import retention
from analytics.models import (
    ArchivedRecord,
    CleanupPreferences,
    GenerationDailyRollup,
    PerformanceMetric,
    ProviderCall,
    RetentionBatch,
)
from analytics.rollups import rollup_rebuild
from generations.models import Generation, GenerationRun
from tests.analytics.factories import PerformanceMetricFactory, ProviderCallFactory
from tests.factories import OrganizationFactory
from tests.generations.factories import GenerationFactory, GenerationRunFactory

pytestmark = pytest.mark.django_db
NOW = timezone.now()


def ago(days: float) -> datetime.datetime:
    return NOW - datetime.timedelta(days=days)


def child_of(parent: Generation, *, created_at, **fields) -> Generation:
    root = parent.root or parent
    root.tree_last_version += 1
    Generation.all_objects.filter(pk=root.pk).update(tree_last_version=root.tree_last_version)
    return GenerationFactory(
        organization=parent.organization,
        parent=parent,
        root=root,
        depth=parent.depth + 1,
        version=root.tree_last_version,
        kind="revision",
        created_at=created_at,
        **fields,
    )


def rows(model, **filters) -> set[int]:
    manager = getattr(model, "all_objects", model.objects)
    return set(manager.filter(**filters).values_list("pk", flat=True))


@pytest.fixture
def world(organization, other_organization):
    """Expired and live rows of every kind; ``world["expired"]`` names the expired ones."""
    expired: dict[str, set[int]] = {"generation": set(), "metric": set(), "call": set(), "run": set()}
    kept: dict[str, set[int]] = {"generation": set(), "metric": set(), "call": set(), "run": set()}

    old_tree = GenerationFactory(organization=organization, created_at=ago(800), content="an old story")
    old_child = child_of(old_tree, created_at=ago(790))
    old_metric = PerformanceMetricFactory(generation=old_child, created_at=ago(790))
    expired["generation"] |= {old_tree.pk, old_child.pk}
    expired["metric"].add(old_metric.pk)

    living_tree = GenerationFactory(organization=organization, created_at=ago(800))
    fresh_child = child_of(living_tree, created_at=ago(3))
    kept["generation"] |= {living_tree.pk, fresh_child.pk}

    failed_leaf = GenerationFactory(organization=organization, status="failed", created_at=ago(45))
    failed_parent = GenerationFactory(organization=organization, status="failed", created_at=ago(45))
    branched = child_of(failed_parent, created_at=ago(44), status="success")
    recent_failure = GenerationFactory(organization=organization, status="failed", created_at=ago(5))
    deleted_old = GenerationFactory(organization=organization, created_at=ago(900), deleted_at=ago(100))
    expired["generation"] |= {failed_leaf.pk, deleted_old.pk}
    kept["generation"] |= {failed_parent.pk, branched.pk, recent_failure.pk}

    recent = GenerationFactory(organization=organization, created_at=ago(200))
    stale_metric = PerformanceMetricFactory(generation=recent, created_at=ago(120))
    fresh_metric = PerformanceMetricFactory(generation=fresh_child, created_at=ago(3))
    kept["generation"].add(recent.pk)
    expired["metric"].add(stale_metric.pk)
    kept["metric"].add(fresh_metric.pk)

    old_call = ProviderCallFactory(organization=organization, occurred_at=ago(400))
    call_of_old_tree = ProviderCallFactory(
        organization=organization, occurred_at=ago(20), generation=old_child
    )
    month_old_call = ProviderCallFactory(organization=organization, occurred_at=ago(20))
    expired["call"].add(old_call.pk)
    kept["call"] |= {call_of_old_tree.pk, month_old_call.pk}

    empty_old_run = GenerationRunFactory(organization=organization, created_at=ago(10))
    empty_new_run = GenerationRunFactory(organization=organization, created_at=ago(2))
    busy_run = GenerationRunFactory(organization=organization, created_at=ago(10))
    GenerationFactory(organization=organization, run=busy_run, created_at=ago(10))
    expired["run"].add(empty_old_run.pk)
    kept["run"] |= {empty_new_run.pk, busy_run.pk}
    kept["generation"] |= rows(Generation, run=busy_run)

    # The other organization keeps provider calls 10 days only; its 20-day-old call expires.
    CleanupPreferences.objects.create(organization=other_organization, provider_calls_days=10)
    their_call = ProviderCallFactory(organization=other_organization, occurred_at=ago(20))
    their_fresh = ProviderCallFactory(organization=other_organization, occurred_at=ago(5))
    expired["call"].add(their_call.pk)
    kept["call"].add(their_fresh.pk)
    return {"expired": expired, "kept": kept}


def everything() -> dict[str, set[int]]:
    return {
        "generation": rows(Generation),
        "metric": rows(PerformanceMetric),
        "call": rows(ProviderCall),
        "run": rows(GenerationRun),
    }


LABELS = {
    "generation": "generations.generation",
    "metric": "analytics.performancemetric",
    "call": "analytics.providercall",
    "run": "generations.generationrun",
}


def archived() -> dict[str, set[int]]:
    return {
        kind: {
            int(pk)
            for pk in ArchivedRecord.objects.filter(model_label=label).values_list("object_id", flat=True)
        }
        for kind, label in LABELS.items()
    }


def test_a_dry_run_counts_the_expired_rows_and_changes_nothing(world):
    before = everything()
    out = io.StringIO()

    call_command("apply_retention", "--dry-run", stdout=out)

    assert everything() == before
    assert not ArchivedRecord.objects.exists() and not RetentionBatch.objects.exists()
    expected_rows = sum(len(ids) for ids in world["expired"].values())
    assert f"Would archive and delete {expected_rows} row(s) (dry run)." in out.getvalue()
    assert "acme: generations: 3 row(s) older than 730 days" in out.getvalue()
    assert "globex: provider_calls: 1 row(s) older than 10 days" in out.getvalue()


# Committed rows: the command's second worker takes the other organization on its own connection.
@pytest.mark.django_db(transaction=True)
def test_a_real_run_archives_and_deletes_exactly_the_expired_rows(world):
    before = everything()
    out = io.StringIO()

    call_command("apply_retention", "--batch-size", "2", stdout=out, stderr=io.StringIO())

    after = everything()
    for kind, ids in world["expired"].items():
        assert not ids & after[kind], f"expired {kind} rows remain"
        assert archived()[kind] == ids, kind
    for kind, ids in world["kept"].items():
        assert ids <= after[kind], f"a live {kind} row was removed"
    assert {kind: after[kind] | archived()[kind] for kind in after} == before
    assert "the archive is the table analytics_archivedrecord" in out.getvalue()
    old_story = ArchivedRecord.objects.get(
        model_label="generations.generation", data__fields__content="an old story"
    )
    assert old_story.data["fields"]["organization"] and old_story.occurred_at < ago(799)
    # The call that pointed at a deleted generation stays, without the link.
    kept_call = ProviderCall.objects.get(pk=min(world["kept"]["call"]))
    assert kept_call.generation_id is None
    assert RetentionBatch.objects.filter(target="generations").exists()


def test_rollups_are_kept_when_raw_rows_go(organization, world):
    rollup_rebuild(date_from=ago(1000).date(), date_to=NOW.date())
    before = list(GenerationDailyRollup.objects.order_by("pk").values())

    retention.retention_apply()

    assert list(GenerationDailyRollup.objects.order_by("pk").values()) == before
    # A rebuild now keeps the days whose rows were archived instead of emptying them.
    result = rollup_rebuild(date_from=ago(1000).date(), date_to=NOW.date())
    assert organization.slug in result.skipped
    old_day = ago(800).date()
    assert GenerationDailyRollup.objects.filter(organization=organization, day=old_day).exists()


class Crash(Exception):
    pass


def test_a_crash_mid_run_loses_nothing_and_a_second_run_finishes(world):
    before = everything()
    batches = []

    def crash_on_the_third_batch(batch):
        batches.append(batch.pk)
        if len(batches) == 3:
            raise Crash("the process died")

    with pytest.raises(Crash):
        retention.retention_apply(batch_size=1, on_batch=crash_on_the_third_batch)

    after, saved = everything(), archived()
    for kind in before:
        assert not after[kind] & saved[kind], f"a {kind} row is both archived and still there"
        assert after[kind] | saved[kind] == before[kind], f"a {kind} row was lost"
    assert RetentionBatch.objects.count() == 2  # the third batch rolled back with its archive
    assert ArchivedRecord.objects.count() > 0

    retention.retention_apply(batch_size=1)

    final = everything()
    for kind, ids in world["expired"].items():
        assert archived()[kind] == ids and not ids & final[kind]
        assert final[kind] | ids == before[kind]


def test_unexpired_rows_are_never_touched_even_when_everything_else_is_old(organization):
    live = [GenerationFactory(organization=organization, created_at=ago(days)) for days in (1, 29, 700)]
    failed_recent = GenerationFactory(organization=organization, status="failed", created_at=ago(29))
    calls = [ProviderCallFactory(organization=organization, occurred_at=ago(days)) for days in (1, 364)]

    done = retention.retention_apply()

    assert sum(outcome.archived for outcome in done) == 0
    assert rows(Generation) == {g.pk for g in [*live, failed_recent]}
    assert rows(ProviderCall) == {c.pk for c in calls}


def test_an_organization_policy_only_applies_to_it(organization, other_organization):
    CleanupPreferences.objects.create(organization=organization, generations_days=100)
    mine = GenerationFactory(organization=organization, created_at=ago(150))
    theirs = GenerationFactory(organization=other_organization, created_at=ago(150))

    retention.retention_apply()

    assert not Generation.all_objects.filter(pk=mine.pk).exists()
    assert Generation.all_objects.filter(pk=theirs.pk).exists()


def test_the_command_refuses_a_nonsense_batch_size(world):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("apply_retention", "--batch-size", "0")
    assert not ArchivedRecord.objects.exists()


def test_other_organizations_rows_are_untouched(world, other_organization):
    outsider = OrganizationFactory(slug="outsider")
    old = GenerationFactory(organization=outsider, created_at=ago(800))

    retention.retention_apply(organizations=[other_organization])

    assert Generation.all_objects.filter(pk=old.pk).exists()
