"""Retention in SQL batches: a batch is a bounded number of queries whatever its size, every
expired row and every row its deletion cascades to is archived exactly (each field reads back
to the value the row held), links from kept rows are cleared, a protected reference rolls the
batch back, and a ``kill -9`` in the middle of a run loses nothing."""

from __future__ import annotations

import contextlib
import datetime
import functools
import io
import itertools
import os
import signal
import subprocess
import sys
import threading
import time

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, ProtectedError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from psycopg import IsolationLevel

from analytics import retention
from analytics.models import (
    ArchivedRecord,
    CleanupPreferences,
    ModelPerformance,
    PerformanceMetric,
    ProviderCall,
    RetentionBatch,
)
from generations.models import Generation, GenerationRun, ScheduledPost
from tenancy import rls
from tests.analytics.factories import PerformanceMetricFactory, ProviderCallFactory
from tests.concurrency import second_connection
from tests.factories import OrganizationFactory
from tests.generations.factories import GenerationFactory, GenerationRunFactory
from tests.generations.publishing_factories import webhook_account
from tests.livesite import ROOT, DatabaseRelay, relayed_database_url

pytestmark = pytest.mark.django_db
NOW = timezone.now()
MODELS = (Generation, GenerationRun, PerformanceMetric, ProviderCall, ModelPerformance)


def ago(days: float) -> datetime.datetime:
    return NOW - datetime.timedelta(days=days, microseconds=123_457)  # microseconds must survive


def _ago_spread(days: float, *, extra: float) -> datetime.datetime:
    """``ago(days)``, ``extra`` days older for the rows older than a month: the younger ones sit
    close to their cutoff (runs, the calls that are kept), so they stay as they are."""
    return ago(days + extra) if days > 30 else ago(days)


def manager(model):
    return getattr(model, "all_objects", model._base_manager)


def expired_world(organization, trees: int, *, spread: bool = False) -> dict:
    """``trees`` expired trees (root, revision, a metric on each node, a kept provider call
    pointing at the revision), as many expired failed leaves, an old metric of a kept generation each,
    old provider calls and empty old runs with their model figures. Returns what must be
    archived (``doomed``: model -> rows) and the calls that must lose their link. ``spread``:
    each set of rows a day older than the one before (else the rows of a kind share a moment)."""
    doomed: dict[type, list] = {model: [] for model in MODELS}
    unlinked = []
    for i in range(trees):
        ago = functools.partial(_ago_spread, extra=i if spread else 0)
        root = GenerationFactory(organization=organization, created_at=ago(800), tree_last_version=2)
        child = GenerationFactory(
            organization=organization,
            parent=root,
            root=root,
            depth=1,
            version=2,
            kind="revision",
            created_at=ago(790),
            cost_usd="0.001234",
            cost_status="priced",
        )
        doomed[Generation] += [root, child]
        doomed[PerformanceMetric] += [
            PerformanceMetricFactory(generation=node, created_at=ago(790)) for node in (root, child)
        ]
        unlinked.append(ProviderCallFactory(organization=organization, occurred_at=ago(2), generation=child))
        doomed[Generation].append(
            GenerationFactory(organization=organization, status="failed", created_at=ago(45))
        )
        kept = GenerationFactory(organization=organization, created_at=ago(200))
        doomed[PerformanceMetric].append(PerformanceMetricFactory(generation=kept, created_at=ago(120)))
        doomed[ProviderCall].append(ProviderCallFactory(organization=organization, occurred_at=ago(400)))
        run = GenerationRunFactory(organization=organization, created_at=ago(10))
        doomed[GenerationRun].append(run)
        doomed[ModelPerformance].append(
            ModelPerformance.objects.create(
                organization=organization, run=run, model_name=f"model-{i}", requests=1, cost_usd="0.5"
            )
        )
    return {"doomed": doomed, "unlinked": unlinked}


def snapshot(doomed: dict) -> dict[tuple[str, str], object]:
    """Every doomed row as it is now, read back from the database."""
    return {
        (model._meta.label_lower, str(row.pk)): manager(model).get(pk=row.pk)
        for model, rows in doomed.items()
        for row in rows
    }


def test_a_batch_is_a_bounded_number_of_queries_whatever_its_size(organization, other_organization):
    expired_world(organization, trees=2)
    expired_world(other_organization, trees=20)

    with CaptureQueriesContext(connection) as small:
        small_done = retention.retention_apply(organizations=[organization])
    with CaptureQueriesContext(connection) as large:
        large_done = retention.retention_apply(organizations=[other_organization])

    assert sum(outcome.archived for outcome in small_done) == 2 * 9
    assert sum(outcome.archived for outcome in large_done) == 20 * 9
    assert len(large.captured_queries) == len(small.captured_queries)
    assert len(large.captured_queries) <= 100  # five targets, one batch each


def test_a_batch_writes_its_organizations_batch_rows_in_two_statements(organization, other_organization):
    """However many organizations a batch spans, their ``RetentionBatch`` rows are opened by one
    INSERT and completed by one UPDATE, the values passed as arrays: no statement written row by
    row (``bulk_update``'s ``CASE`` of one branch per row and field cost a nightly batch of
    ~1,000 organizations ~0.45 s at 10M)."""
    third = OrganizationFactory()
    for each in (organization, other_organization, third):
        ProviderCallFactory(organization=each, occurred_at=ago(400))

    with CaptureQueriesContext(connection) as run:
        done = retention.retention_apply(organizations=[organization, other_organization, third])

    archived = {o.organization: o.archived for o in done if o.target == "provider_calls"}
    assert archived == {organization.slug: 1, other_organization.slug: 1, third.slug: 1}
    writes = [
        q["sql"]
        for q in run.captured_queries
        if q["sql"].startswith(("INSERT INTO", "UPDATE"))
        and '"analytics_retentionbatch"' in q["sql"].split("(")[0]
    ]
    assert [sql.split()[0] for sql in writes] == ["INSERT", "UPDATE"]  # the one batch of the calls
    assert not any("CASE" in sql for sql in writes)
    batches = RetentionBatch.objects.filter(target="provider_calls")
    assert sorted(batches.values_list("organization_id", "primary_rows", "archived_rows")) == sorted(
        (each.pk, 1, 1) for each in (organization, other_organization, third)
    )


def test_a_target_whose_first_batch_is_short_is_not_scanned_again(organization):
    """A batch smaller than ``batch_size`` exhausted the scan: no second, empty batch query."""
    expired_world(organization, trees=2)

    with CaptureQueriesContext(connection) as run:
        retention.retention_apply(organizations=[organization])

    batch_queries = [q["sql"] for q in run.captured_queries if "SKIP LOCKED" in q["sql"]]
    assert len(batch_queries) == 5  # one per target


def test_the_organizations_retention_preferences_are_read_by_one_query(organization, other_organization):
    """However many organizations a run goes through, their cleanup preferences cost one query."""
    CleanupPreferences.objects.create(organization=other_organization, provider_calls_days=10)
    third = OrganizationFactory(slug="third")
    ProviderCallFactory(organization=other_organization, occurred_at=ago(20))
    ProviderCallFactory(organization=third, occurred_at=ago(20))  # kept: the platform keeps a year

    with CaptureQueriesContext(connection) as run:
        done = retention.retention_apply()

    preference_queries = [q for q in run.captured_queries if "analytics_cleanuppreferences" in q["sql"]]
    assert len(preference_queries) == 1
    archived = {o.organization: o.archived for o in done if o.target == "provider_calls"}
    assert archived == {organization.slug: 0, other_organization.slug: 1, "third": 0}


def test_every_expired_row_and_its_dependents_are_archived_exactly(organization):
    assert_archived_exactly(expired_world(organization, trees=3), batch_size=2)


def test_a_target_is_split_into_equal_windows_of_fewer_than_a_batch_each(organization):
    calls = [ProviderCallFactory(organization=organization, occurred_at=ago(400 + day)) for day in range(7)]
    ProviderCallFactory(organization=organization, occurred_at=ago(10))  # kept: in no window's rows
    primary = retention.expired_rows(organizations=[organization], target="provider_calls", cutoff=ago(365))
    moments = sorted(call.occurred_at for call in calls)

    # Seven rows in batches of three: four windows of fewer than three (so each window's first
    # batch comes back short and ends it), oldest first; the first starts at the oldest row (the
    # rows earlier runs deleted, dead until vacuumed, lie before it) and the last is open.
    assert retention._windows(primary, "occurred_at", 3) == [
        (moments[0], moments[2], 2),
        (moments[2], moments[4], 2),
        (moments[4], moments[6], 2),
        (moments[6], None, 1),
    ]
    # Batches of five for two workers: two windows (not four rows and three), one each.
    assert retention._windows(primary, "occurred_at", 5, workers=2) == [
        (moments[0], moments[4], 4),
        (moments[4], None, 3),
    ]
    # Batches of three for three workers: six windows, a multiple of the workers, of one or two.
    windows = retention._windows(primary, "occurred_at", 3, workers=3)
    assert [(w.since, w.until) for w in windows] == list(itertools.pairwise([moments[0], *moments[2:], None]))
    assert [w.rows for w in windows] == [2, 1, 1, 1, 1, 1]
    assert retention._windows(primary, "occurred_at", 10) == [(moments[0], None, 7)]
    assert retention._windows(primary.filter(occurred_at__lt=ago(500)), "occurred_at", 2) == []


def test_a_window_of_rows_sharing_a_moment_is_drained_by_as_many_workers_as_it_has_batches(organization):
    """Rows sharing a moment share a window, whatever its size: the workers' queue holds it once
    for each batch it needs, up to one per worker, so that many workers take batches from it."""
    moment = ago(400)
    for _ in range(5):
        ProviderCallFactory(organization=organization, occurred_at=moment)
    primary = retention.expired_rows(organizations=[organization], target="provider_calls", cutoff=ago(365))

    [window] = retention._windows(primary, "occurred_at", 2, workers=3)

    assert window == (moment, None, 5)
    later = retention.Window(ago(300), None, 1)
    todo = retention._queue([window, later], batch_size=2, workers=3)
    assert [todo.get_nowait() for _ in range(4)] == [window] * 3 + [later]
    assert todo.empty()


def test_a_target_with_nothing_expired_takes_no_batch(organization):
    """Only provider calls expired: the other four targets cost their windows' query, no batch
    (no transaction, no locking scan)."""
    old_call = ProviderCallFactory(organization=organization, occurred_at=ago(400))
    GenerationFactory(organization=organization, created_at=ago(10))  # kept

    with CaptureQueriesContext(connection) as run:
        done = retention.retention_apply(organizations=[organization])

    batch_queries = [q["sql"] for q in run.captured_queries if "SKIP LOCKED" in q["sql"]]
    assert len(batch_queries) == 1 and "analytics_providercall" in batch_queries[0]
    assert {o.target: o.archived for o in done} == {
        "provider_calls": 1,
        "failed_generations": 0,
        "generations": 0,
        "performance_metrics": 0,
        "empty_runs": 0,
    }
    assert not ProviderCall.objects.filter(pk=old_call.pk).exists()
    assert RetentionBatch.objects.get().target == "provider_calls"


def test_each_batch_reads_its_window_and_every_row_is_archived_exactly(organization):
    world = expired_world(organization, trees=5, spread=True)

    with CaptureQueriesContext(connection) as run:
        assert_archived_exactly(world, batch_size=2)

    # The provider calls (five, a day apart) come in several windows; every batch query names its
    # window's lower bound (the first window's too: the oldest expired row), so it reads that
    # window's rows only.
    call_batches = [
        q["sql"]
        for q in run.captured_queries
        if "SKIP LOCKED" in q["sql"] and "analytics_providercall" in q["sql"]
    ]
    assert len(call_batches) >= 3
    assert all('"occurred_at" >= ' in sql for sql in call_batches)


def test_windows_cut_from_candidates_that_do_not_expire_still_archive_every_expired_tree(organization):
    """Given a living tree (three nodes older than any cutoff, one made last week), whose old
    nodes are window candidates but never expire, then with batches of two the windows holding
    only its nodes archive nothing, and every expired tree, failed leaf and their dependents in
    the later windows are archived exactly; the living tree stays whole."""
    world = expired_world(organization, trees=3, spread=True)
    root = GenerationFactory(organization=organization, created_at=ago(900), tree_last_version=4)
    living = [root]
    for version, days in ((2, 899), (3, 898), (4, 5)):
        living.append(
            GenerationFactory(
                organization=organization,
                parent=living[-1],
                root=root,
                depth=version - 1,
                version=version,
                kind="revision",
                created_at=ago(days),
            )
        )
    question = {"organizations": [organization], "target": "generations", "cutoff": ago(365)}
    candidates = retention.window_candidates(**question)
    expired = retention.expired_rows(**question)
    assert set(expired) < set(candidates) and root in set(candidates) - set(expired)

    assert_archived_exactly(world, batch_size=2)

    tree = Generation.all_objects.filter(pk=root.pk) | Generation.all_objects.filter(root=root)
    assert set(tree) == set(living)


@pytest.mark.django_db(transaction=True)  # the other workers' connections see committed rows only
def test_workers_side_by_side_archive_every_row_exactly_once(organization):
    """Three connections taking batches of two: every expired row is archived once (the batches
    are disjoint: SKIP LOCKED), with its dependents, and every batch is recorded."""
    world = expired_world(organization, trees=12)
    together = threading.Barrier(3, timeout=30)  # each worker holds its first batch until all do
    threads = set()

    def on_batch(batch):
        if threading.current_thread().name not in threads:
            threads.add(threading.current_thread().name)
            together.wait()

    done = assert_archived_exactly(world, batch_size=2, workers=3, on_batch=on_batch)

    assert len(threads) == 3  # three batches were in flight at once, and disjoint

    by_target = {outcome.target: outcome for outcome in done}
    assert by_target["provider_calls"].expired == 12
    assert by_target["generations"].expired == 12 and by_target["generations"].rows == 24
    assert sum(outcome.batches for outcome in done) == RetentionBatch.objects.count()
    assert max(outcome.batches for outcome in done) >= 6


@pytest.mark.django_db(transaction=True)  # as apply_retention runs: each batch its own transaction
def test_a_batch_raises_work_mem_for_its_own_transaction_only(organization):
    """Each batch's transaction runs with ``BATCH_WORK_MEM`` (its deleted rows stay in memory
    for the archive INSERT instead of spilling to a temporary file); the session's own setting
    is untouched afterwards."""
    for _ in range(3):
        GenerationFactory(organization=organization, created_at=ago(800))
    with connection.cursor() as cursor:
        cursor.execute("SHOW work_mem")
        (session,) = cursor.fetchone()
    seen = []

    def on_batch(batch):  # runs inside the batch's transaction, on this connection (one worker)
        with connection.cursor() as cursor:
            cursor.execute("SHOW work_mem")
            seen.append(cursor.fetchone()[0])

    retention.retention_apply(organizations=[organization], on_batch=on_batch)

    assert seen and set(seen) == {retention.BATCH_WORK_MEM}
    assert not Generation.all_objects.filter(organization=organization).exists()
    with connection.cursor() as cursor:
        cursor.execute("SHOW work_mem")
        assert cursor.fetchone()[0] == session != retention.BATCH_WORK_MEM


def merged(*worlds: dict) -> dict:
    """One world of several organizations' (``expired_world``)."""
    return {
        "doomed": {model: [row for world in worlds for row in world["doomed"][model]] for model in MODELS},
        "unlinked": [call for world in worlds for call in world["unlinked"]],
    }


def test_organizations_sharing_a_cutoff_are_archived_together(organization, other_organization):
    """Organizations whose retention gives the same cutoff share each target's windows' query and
    its batches: one query a target for all of them, one transaction for their rows, each
    organization's rows archived in its own batch row with its own counts and time range. An
    organization whose preferences give another cutoff is asked on its own for that target."""
    third = OrganizationFactory()
    world = merged(
        expired_world(organization, trees=3),
        expired_world(other_organization, trees=2),
        expired_world(third, trees=2),
    )
    CleanupPreferences.objects.create(organization=third, provider_calls_days=200)

    with CaptureQueriesContext(connection) as queries:
        done = assert_archived_exactly(world)

    windows = [q["sql"] for q in queries.captured_queries if "array_agg" in q["sql"]]
    # One a target for the three, and one more for the third's calls (a cutoff of its own).
    assert len(windows) == len(retention.TARGET_ORDER) + 1
    trees = RetentionBatch.objects.filter(target="generations")
    # Each tree: a root and a revision, and a metric on each.
    assert sorted(trees.values_list("organization_id", "primary_rows", "archived_rows")) == sorted(
        [(organization.pk, 3, 12), (other_organization.pk, 2, 8), (third.pk, 2, 8)]
    )
    assert len({batch.created_at for batch in trees}) == 1  # one transaction for the three
    for batch in trees:
        nodes = [
            g.created_at
            for g in world["doomed"][Generation]
            if g.organization_id == batch.organization_id and g.status != "failed"
        ]
        assert (batch.oldest_at, batch.newest_at) == (min(nodes), max(nodes))
    records = ArchivedRecord.objects.select_related("batch")
    assert all(record.batch.organization_id == record.organization_id for record in records)
    outcomes = {(o.organization, o.target): o for o in done}
    assert (
        outcomes[(organization.slug, "generations")].expired,
        outcomes[(organization.slug, "generations")].rows,
    ) == (3, 6)
    assert outcomes[(third.slug, "generations")].expired == 2
    assert (
        outcomes[(third.slug, "provider_calls")].cutoff
        != outcomes[(organization.slug, "provider_calls")].cutoff
    )
    # One outcome per organization and target, in the run's order (organizations by key).
    by_key = sorted([organization, other_organization, third], key=lambda o: o.pk)
    assert [(o.organization, o.target) for o in done] == [
        (each.slug, target) for each in by_key for target in retention.TARGET_ORDER
    ]


def test_the_plan_counts_organizations_sharing_a_cutoff_together(organization, other_organization):
    """The plan (``apply_retention`` prints it before every run) counts each target once for the
    organizations sharing its cutoff, grouped by organization, not once per organization: its
    queries do not grow with them, and each organization's counts are its own."""
    third = OrganizationFactory()
    for each, trees in ((organization, 3), (other_organization, 2), (third, 1)):
        expired_world(each, trees=trees)
    CleanupPreferences.objects.create(organization=third, provider_calls_days=200)
    alone = {
        (o.organization, o.target): (o.expired, o.rows)
        for each in (organization, other_organization, third)
        for o in retention.retention_plan(organizations=[each], now=NOW)
    }

    with CaptureQueriesContext(connection) as counting:
        plan = retention.retention_plan(now=NOW)

    assert {(o.organization, o.target): (o.expired, o.rows) for o in plan} == alone
    assert alone[(organization.slug, "generations")] == (3, 6)  # three trees of two nodes
    assert alone[(third.slug, "provider_calls")] == (1, 1)
    # Organizations and preferences, a count a target and cutoff (the third's calls have their
    # own), and the trees' nodes.
    assert len(counting.captured_queries) == 2 + len(retention.TARGET_ORDER) + 1 + 1


@pytest.mark.django_db(transaction=True)
def test_a_failing_worker_over_two_organizations_stops_the_run_and_loses_nothing(
    organization, other_organization
):
    """Workers on two organizations' batches: one batch fails. The other stops after the batch it is
    in, the error reaches the caller, every row is archived or still there, the next run ends it."""
    world = merged(expired_world(organization, trees=3), expired_world(other_organization, trees=3))

    before, archived = run_with_a_failing_worker(world, batch_size=2)

    # The run stopped early: the caller's first batch, and perhaps one more taken before it saw
    # the failure (the failing worker signals it, then rolls back, then stops the run), not all.
    assert archived and archived < before

    retention.retention_apply(workers=2)

    assert set(ArchivedRecord.objects.values_list("model_label", "object_id")) == before


def assert_archived_exactly(world: dict, **options) -> list:
    """Run retention with ``options``; assert every doomed row of ``world`` was archived once, as
    it was, and deleted, and nothing else; return the outcomes."""
    before = snapshot(world["doomed"])
    kept_rows = {model: set(manager(model).values_list("pk", flat=True)) for model in MODELS}
    for model, rows in world["doomed"].items():
        kept_rows[model] -= {row.pk for row in rows}

    done = retention.retention_apply(**options)

    records = {(r.model_label, r.object_id): r for r in ArchivedRecord.objects.all()}
    assert records.keys() == before.keys()  # every doomed row once, nothing else
    for key, instance in before.items():
        record = records[key]
        model = type(instance)
        assert set(record.data) == {"model", "pk", "fields"}  # Django's serializer layout
        assert record.data["model"] == key[0] and str(record.data["pk"]) == key[1]
        assert record.organization_id == instance.organization_id
        expected_moment = getattr(instance, "occurred_at", None) or getattr(instance, "created_at", None)
        assert record.occurred_at == expected_moment
        fields = record.data["fields"]
        for field in model._meta.concrete_fields:
            if field.primary_key:
                continue
            assert field.to_python(fields[field.name]) == field.value_from_object(instance), (key, field.name)
        assert not manager(model).filter(pk=instance.pk).exists()
    for model, pks in kept_rows.items():
        assert set(manager(model).values_list("pk", flat=True)) == pks, model
    for call in world["unlinked"]:
        call.refresh_from_db()
        assert call.generation_id is None
    batches = RetentionBatch.objects.all()
    assert sum(b.archived_rows for b in batches) == len(before) == sum(o.archived for o in done)
    assert {r.batch_id for r in records.values()} == {b.pk for b in batches}
    tree_batches = batches.filter(target="generations")
    assert min(b.oldest_at for b in tree_batches) == min(
        i.created_at for i in world["doomed"][Generation] if i.status != "failed"
    )
    return done


def run_with_a_failing_worker(world: dict, **options) -> tuple[set, set]:
    """Run retention on two workers (with ``options``) where the other worker's first batch fails
    (its on_batch raises, as a crash would) while the caller holds its own first batch, rows
    locked and uncommitted, until then: the failure always happens mid-run, whatever the timing.
    Asserts the error reached the caller, every doomed row of ``world`` is either archived or
    still there (never both, never neither), and no worker thread is left. Returns the doomed
    rows and the archived ones, as ``(model label, key)``."""
    before = set(snapshot(world["doomed"]))
    failed = threading.Event()

    def on_batch(batch):
        if threading.current_thread() is threading.main_thread():
            assert failed.wait(timeout=30)
        else:
            failed.set()
            raise RuntimeError("worker down")

    with pytest.raises(RuntimeError, match="worker down"):
        retention.retention_apply(workers=2, on_batch=on_batch, **options)

    assert failed.is_set()
    archived = set(ArchivedRecord.objects.values_list("model_label", "object_id"))
    present = {
        (model._meta.label_lower, str(pk))
        for model in MODELS
        for pk in manager(model).values_list("pk", flat=True)
    }
    assert not archived & present and before <= archived | present
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("retention-")]
    return before, archived


@pytest.mark.django_db(transaction=True)
def test_a_failing_worker_stops_the_others_and_loses_nothing(organization):
    """One worker's batch fails (its on_batch raises, as a crash would): that batch rolls back,
    the other workers stop after the batch they are in, the error reaches the caller, and every
    row is either archived or still there; the next run finishes."""
    world = expired_world(organization, trees=12)

    before, archived = run_with_a_failing_worker(world, batch_size=2)

    # The run stopped in its first target: no generation was reached.
    assert not any(label == "generations.generation" for label, _ in archived)

    retention.retention_apply(workers=2)

    assert set(ArchivedRecord.objects.values_list("model_label", "object_id")) == before


def test_workers_must_be_at_least_one(organization):
    expired_world(organization, trees=1)

    with pytest.raises(ValueError, match="workers"):
        retention.retention_apply(workers=0)
    with pytest.raises(CommandError, match="--workers"):
        call_command("apply_retention", "--workers", "0")
    assert not ArchivedRecord.objects.exists() and not RetentionBatch.objects.exists()


def test_a_protected_reference_rolls_the_batch_back(organization):
    old = GenerationFactory(organization=organization, created_at=ago(800))
    metric = PerformanceMetricFactory(generation=old, created_at=ago(800))
    account = webhook_account(organization, "https://hooks.example.com/in")
    ScheduledPost.objects.create(organization=organization, account=account, generation=old, publish_at=NOW)

    with pytest.raises(ProtectedError):
        retention.retention_apply()

    assert Generation.all_objects.filter(pk=old.pk).exists()
    assert PerformanceMetric.objects.filter(pk=metric.pk).exists()
    assert not ArchivedRecord.objects.exists() and not RetentionBatch.objects.exists()


def test_a_batch_deletes_the_rows_it_locked_by_version_and_their_cascade_by_key(organization):
    """The rows a batch locked are deleted by the version the lock holds (a TID scan, no probe
    of the primary key per row); what their deletion cascades to (a tree's revisions) by key,
    in the same statement. Every row is still archived exactly."""
    world = expired_world(organization, trees=2)

    with CaptureQueriesContext(connection) as run:
        assert_archived_exactly(world)

    deletes = {
        table: [q["sql"] for q in run.captured_queries if f'DELETE FROM "{table}"' in q["sql"]]
        for table in ("analytics_providercall", "generations_generation")
    }
    [calls] = deletes["analytics_providercall"]
    assert 'DELETE FROM "analytics_providercall" WHERE ctid = ANY' in calls
    assert '"id" = ANY' not in calls.split("RETURNING")[0]
    trees = [sql for sql in deletes["generations_generation"] if "by_key AS" in sql]
    assert len(trees) == 1  # the roots by version, their revisions by key
    assert "WHERE ctid = ANY" in trees[0] and 'WHERE "id" = ANY' in trees[0]


def test_a_locked_row_given_a_new_version_within_the_batch_rolls_the_batch_back(organization, monkeypatch):
    """A row whose version changed after the batch locked it is not deleted by its old version:
    the batch's count check rolls the whole batch back, and nothing is lost."""
    calls = [ProviderCallFactory(organization=organization, occurred_at=ago(400)) for _ in range(3)]

    class Rewritten(retention._Doomed):
        def __init__(self, cursor, model, keys):
            super().__init__(cursor, model, keys)
            cursor.execute(
                "UPDATE analytics_providercall SET updated_at = updated_at WHERE id = %s", [keys[0]]
            )

    monkeypatch.setattr(retention, "_Doomed", Rewritten)
    with pytest.raises(retention.ArchiveMismatch):
        retention.retention_apply(organizations=[organization])

    assert set(ProviderCall.objects.values_list("pk", flat=True)) == {call.pk for call in calls}
    assert not ArchivedRecord.objects.exists() and not RetentionBatch.objects.exists()


def test_rows_a_batch_may_rewrite_before_deleting_them_are_deleted_by_key(organization, monkeypatch):
    """When the batch clears a link within the model it archives (a ``SET_NULL`` from the model to
    itself: none today), that UPDATE would give its locked rows new versions, so they are deleted
    by key instead, and every row is still archived."""
    calls = [ProviderCallFactory(organization=organization, occurred_at=ago(400)) for _ in range(3)]

    class SelfLinked(retention._Doomed):
        def __init__(self, cursor, model, keys):
            super().__init__(cursor, model, keys)
            self.set_null.append((model, model._meta.get_field("generation"), set()))

    monkeypatch.setattr(retention, "_Doomed", SelfLinked)
    with CaptureQueriesContext(connection) as run:
        done = retention.retention_apply(organizations=[organization])

    [delete] = [q["sql"] for q in run.captured_queries if 'DELETE FROM "analytics_providercall"' in q["sql"]]
    assert 'WHERE "id" = ANY' in delete and "ctid" not in delete
    assert {o.target: o.archived for o in done}["provider_calls"] == 3
    assert not ProviderCall.objects.filter(pk__in=[call.pk for call in calls]).exists()
    assert ArchivedRecord.objects.filter(model_label="analytics.providercall").count() == 3


def test_windows_are_read_before_the_first_batch_and_a_run_this_run_empties_is_archived(organization):
    """Every target's windows, the empty runs' included, are read before any batch (on every
    worker at once): the runs' are cut from every run created before the cutoff, so a run that
    still had a generation when its windows were read, and that this run's generations empty,
    is archived by this run."""
    old = GenerationFactory(organization=organization, created_at=ago(800))
    run_of_old = GenerationRunFactory(organization=organization, created_at=ago(800))
    Generation.all_objects.filter(pk=old.pk).update(run=run_of_old)
    ProviderCallFactory(organization=organization, occurred_at=ago(400))

    with CaptureQueriesContext(connection) as run:
        done = retention.retention_apply(organizations=[organization])

    order = [
        "windows" if "array_agg(DISTINCT" in q["sql"] else "batch"
        for q in run.captured_queries
        if "array_agg(DISTINCT" in q["sql"] or "SKIP LOCKED" in q["sql"]
    ]
    assert order == ["windows"] * 5 + ["batch", "batch", "batch"]
    assert {o.target: o.archived for o in done} == {
        "provider_calls": 1,
        "failed_generations": 0,
        "generations": 1,
        "performance_metrics": 0,
        "empty_runs": 1,
    }
    assert not GenerationRun.all_objects.filter(pk=run_of_old.pk).exists()


def _other_sessions() -> set[int]:
    """The pids of the other client sessions of this database (read as the owner: the app role
    is not shown other roles' sessions)."""
    with rls.database_owner(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        return {pid for (pid,) in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("workers", "batch_size", "together"),
    [("1", "1", False), ("2", "1", False), ("2", "2", True)],
    ids=["one worker", "two workers", "two organizations in each batch"],
)
def test_killed_midway_then_run_again_loses_nothing(
    organization, other_organization, workers, batch_size, together
):
    """kill -9 of ``apply_retention`` in another process between (or inside) batches, with one
    worker or several, and with batches holding two organizations' rows (``together``: each
    tree of one has a twin in the other at the same moment, so each window and batch holds
    both): every row is either still there or archived, never both, never neither; the next run
    finishes."""
    if together:
        world = merged(
            expired_world(organization, trees=30, spread=True),
            expired_world(other_organization, trees=30, spread=True),
        )
    else:
        world = expired_world(organization, trees=60)
    before = set(snapshot(world["doomed"]))
    relay = DatabaseRelay(connection.settings_dict)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": relayed_database_url(relay.port),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "apply_retention",
            "--batch-size",
            batch_size,
            "--workers",
            workers,
            "--verbosity",
            "0",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while RetentionBatch.objects.count() < 5:
            assert process.poll() is None, "retention ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)  # polling for progress, not timing an assertion
        killed = _other_sessions()
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
        relay.cut()
    # The server ends a dead client's session (rolling its batch back and releasing its row
    # locks) only once it notices the socket closed; until then the next run would skip the
    # rows it holds (SKIP LOCKED), as retention means to.
    deadline = time.monotonic() + 60
    while killed & _other_sessions():
        assert time.monotonic() < deadline, "the killed run's session outlived its socket"
        time.sleep(0.01)  # polling for the server to notice, not timing an assertion

    def present() -> set[tuple[str, str]]:
        return {
            (model._meta.label_lower, str(pk))
            for model in MODELS
            for pk in manager(model).values_list("pk", flat=True)
        }

    archived = set(ArchivedRecord.objects.values_list("model_label", "object_id"))
    assert archived and archived < before
    assert not archived & present()
    assert before <= archived | present()

    retention.retention_apply()

    assert set(ArchivedRecord.objects.values_list("model_label", "object_id")) == before
    assert not before & present()
    assert ArchivedRecord.objects.count() == len(before)
    if together:  # the batches did hold both organizations' rows (one transaction, one moment)
        per_transaction = RetentionBatch.objects.values("created_at").annotate(n=Count("organization"))
        assert per_transaction.filter(n=2).exists()


@pytest.fixture
def no_autoanalyze():
    """Autovacuum off for the generations table during the test: an autoanalyze of the rows it
    just wrote holds a snapshot, and VACUUM FULL keeps every row a snapshot may still see, so the
    table would not shrink (seen on a server with autovacuum on)."""

    def autovacuum(enabled: bool) -> None:
        with rls.database_owner(), connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE generations_generation SET (autovacuum_enabled = {enabled})")

    autovacuum(False)
    yield
    autovacuum(True)


def _generations_size() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_relation_size('generations_generation')")
        return cursor.fetchone()[0]


def _older_than_now() -> list[int]:
    """Sessions of the server holding a transaction or snapshot older than now (as the owner:
    the app role is not shown other roles' sessions)."""
    with rls.database_owner(), connection.cursor() as cursor:
        return retention._wait_for_older_snapshots(cursor, timeout=0)


@pytest.fixture
def bulky_expired_generations(organization, no_autoanalyze):
    """300 generations of ~1.5 KB each, past every retention period: 75 pages to give back.
    Then the table is compacted, so it holds only live rows: an earlier test's rolled-back
    rows (the test database is reused) would otherwise leave pages that any VACUUM FULL gives
    back, and a size compared before and after would count them (that made the snapshot test
    fail whenever such a test ran first in its worker)."""
    for _ in range(300):
        GenerationFactory(organization=organization, created_at=ago(800), content="x" * 1500)
    with rls.database_owner(), connection.cursor() as cursor:
        cursor.execute("VACUUM FULL generations_generation")


@pytest.mark.django_db(transaction=True)
def test_compact_gives_the_space_of_archived_rows_back(organization, bulky_expired_generations):
    """Plain VACUUM leaves a table its size when retention deleted its oldest rows; ``--compact``
    rewrites it: the generations table ends smaller than it was."""
    GenerationFactory(organization=organization, created_at=ago(1), content="a live one")
    before = _generations_size()
    out = io.StringIO()
    call_command("apply_retention", "--compact", "--verbosity", "0", stdout=out)

    assert "generations_generation: " in out.getvalue()
    assert Generation.all_objects.count() == 1
    assert ArchivedRecord.objects.filter(model_label="generations.generation").count() == 300
    assert _generations_size() < before, f"sessions holding older snapshots: {_older_than_now()}"


@contextlib.contextmanager
def _snapshot_held_elsewhere():
    """Another session of this database in a REPEATABLE READ transaction that has taken its
    snapshot (as a long report would); yields its pid and ends the transaction on exit."""
    options = {**connection.settings_dict["OPTIONS"], "isolation_level": IsolationLevel.REPEATABLE_READ}
    with second_connection("snapshot_holder", OPTIONS=options) as holder:
        holder.set_autocommit(False)
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")  # the transaction's snapshot is taken here
            yield cursor.fetchone()[0]
        holder.rollback()


@contextlib.contextmanager
def _transaction_in_another_database():
    """A transaction with a transaction id, open in another database of the same server (as a
    second tenant database's long write would be); yields its pid, rolled back on exit. VACUUM
    FULL's horizon counts every transaction of the server, whatever its database."""
    with psycopg.connect(**{**connection.get_connection_params(), "dbname": "postgres"}) as other:
        pid = other.execute("SELECT pg_backend_pid()").fetchone()[0]
        other.execute("SELECT pg_current_xact_id()")  # takes a transaction id
        yield pid
        other.rollback()


@pytest.mark.parametrize("held", [_snapshot_held_elsewhere, _transaction_in_another_database])
@pytest.mark.django_db(transaction=True)
def test_compact_waits_for_what_is_older_than_the_deletes(bulky_expired_generations, caplog, held):
    """A snapshot or transaction that began before retention deleted rows keeps them through
    VACUUM FULL: compacting waits for it (bounded by ``snapshot_wait``) and says when one
    outlived the wait."""
    before = _generations_size()
    with held() as holder:
        retention.retention_apply()
        assert Generation.all_objects.count() == 0
        assert holder in _older_than_now()
        with caplog.at_level("WARNING", logger="analytics.retention"):
            retention.retention_compact(snapshot_wait=0)
        assert str(holder) in caplog.text
        assert _generations_size() == before  # the holder may still read every deleted row

    assert holder not in _older_than_now()
    retention.retention_compact()
    assert _generations_size() < before


def test_compact_refuses_one_organization(organization):
    with pytest.raises(CommandError, match="without --organization"):
        call_command("apply_retention", "--compact", "--organization", organization.slug)
    assert not RetentionBatch.objects.exists()
