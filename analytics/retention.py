"""Retention: which raw rows have expired, and archiving then deleting them without losing one.

The policy is ``settings.RETENTION_POLICY`` (days per target), shortened per organization by its
:class:`~analytics.models.CleanupPreferences`. Rollups and weekly summaries are never expired.

What expires (``cutoff`` = now - the target's days):

- failed generations created before the cutoff that have no children (a failed node someone
  branched from stays while its tree does);
- generation trees whose every node was created before the cutoff, removed whole (a tree is
  history: an old root is kept as long as any node of its tree is);
- performance metrics and provider calls older than the cutoff (``created_at``, ``occurred_at``);
- runs created before the cutoff that have no generation left.

Organizations whose retention gives a target the same cutoff (every organization on the
platform's policy) are archived together: a target's expired rows in all of them are first split
by time into equal windows of fewer than ``batch_size`` rows, as many as a multiple of the
workers (one index read of the rows they may be, :func:`window_candidates`; every target's read
side by side on the workers before the first batch), each worker drains whole windows, and each
batch takes its rows from one window, so it reads that window, not every expired row again.

Each batch is one transaction: lock up to ``batch_size`` expired rows, find everything their
deletion cascades to by the models' ``on_delete`` rules, as Django's ``Collector`` would (a
tree's nodes, their metrics; provider calls lose their link), but set-based: one query per
relation, never one per row. Each table's rows are then deleted (the locked rows by the
version the lock holds, their ``ctid``: no primary-key probe per row) and copied into
:class:`~analytics.models.ArchivedRecord` by one statement (``WITH doomed AS (DELETE … RETURNING
*) INSERT INTO archive SELECT … FROM doomed``, the JSON built in SQL by one ``to_jsonb`` per row),
so exactly the deleted rows are archived; the batch checks that it removed every row it found,
records a :class:`~analytics.models.RetentionBatch` for each organization whose rows it archived
and commits. A crash
at any point rolls back the batch in flight; the batches before it are complete. Rows not
expired are never selected, and a row is never both deleted and unarchived.
"""

from __future__ import annotations

import datetime
import functools
import itertools
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from django.db import connection, connections, models, transaction
from django.db.models import Count, F, ProtectedError, RestrictedError
from django.db.models.deletion import get_candidate_relations_to_delete
from django.db.models.expressions import RawSQL
from django.utils import timezone

from analytics.choices import RetentionTarget
from analytics.models import (
    ArchivedRecord,
    CleanupPreferences,
    ModelPerformance,
    PerformanceMetric,
    ProviderCall,
    RetentionBatch,
    retention_default_days,
)
from generations.models import Generation, GenerationRun
from generations.services import retention as generation_retention
from tenancy import rls
from tenancy.bulk import rows_update
from tenancy.foreign_keys import has_concrete_field
from tenancy.models import Organization

logger = logging.getLogger(__name__)

# Order matters: provider calls go first, so an expired call is archived with its link to its
# generation instead of being unlinked (an UPDATE of every index of the table) just before it is
# deleted anyway; generations go before the runs they may leave empty, and metrics of deleted
# generations are archived with them.
TARGET_ORDER = (
    RetentionTarget.PROVIDER_CALLS,
    RetentionTarget.FAILED_GENERATIONS,
    RetentionTarget.GENERATIONS,
    RetentionTarget.PERFORMANCE_METRICS,
    RetentionTarget.EMPTY_RUNS,
)
# The column each target's expiry is decided on (``expired_rows``' ``… < cutoff``), which its
# windows split (:func:`_windows`): on it a window is one range of each organization's time index.
TARGET_MOMENT = {
    RetentionTarget.PROVIDER_CALLS: "occurred_at",
    RetentionTarget.FAILED_GENERATIONS: "created_at",
    RetentionTarget.GENERATIONS: "created_at",
    RetentionTarget.PERFORMANCE_METRICS: "created_at",
    RetentionTarget.EMPTY_RUNS: "created_at",
}
# Rows a batch locks, archives and deletes in one transaction. At 10M (bench/retention_trials.py,
# alternating on one build, docs/scale-plan.md) a tenant's policy ran 6-12 % faster at 2,500
# than at 10,000 (won 9 of 10 pairs; 5,000 in between, 1,000 no better than 10,000): a tenant's
# target of ~20,000 rows is then ~8 windows, not 2, so the two workers pipeline batches and
# finish together instead of running one batch each in lockstep and waiting on the slower.
# Tenants of 100k rows and the nightly run: the same within the trials' spread.
DEFAULT_BATCH_SIZE = 2_500
# A batch transaction's work_mem: room for a batch's deleted rows (see _archive_batch).
BATCH_WORK_MEM = "64MB"
# apply_retention's connections: the nightly run uses two cores of the database server.
DEFAULT_WORKERS = 2


def qn(name: str) -> str:
    return connection.ops.quote_name(name)


class ArchiveMismatch(RuntimeError):
    """The delete removed other rows than were archived: the batch is rolled back."""


def _days_of(preferences: CleanupPreferences | None) -> dict[str, int]:
    """Days each target is kept for an organization: its ``preferences``, else the platform's."""
    if preferences is None:
        return {target: retention_default_days(target) for target in TARGET_ORDER}
    return {target: preferences.days(target) for target in TARGET_ORDER}


def expired_rows(
    *, organizations: Iterable[Organization], target: str, cutoff: datetime.datetime
) -> models.QuerySet:
    """The expired primary rows of ``target`` in ``organizations`` (those sharing ``cutoff``;
    see the module docstring)."""
    if target == RetentionTarget.FAILED_GENERATIONS:
        return generation_retention.expired_failed_generations(organizations=organizations, cutoff=cutoff)
    if target == RetentionTarget.GENERATIONS:
        return generation_retention.expired_generation_trees(organizations=organizations, cutoff=cutoff)
    if target == RetentionTarget.PERFORMANCE_METRICS:
        return PerformanceMetric.objects.filter(organization__in=organizations, created_at__lt=cutoff)
    if target == RetentionTarget.PROVIDER_CALLS:
        return ProviderCall.objects.filter(organization__in=organizations, occurred_at__lt=cutoff)
    if target == RetentionTarget.EMPTY_RUNS:
        return generation_retention.expired_empty_runs(organizations=organizations, cutoff=cutoff)
    raise ValueError(f"Unknown retention target {target!r}.")


def window_candidates(
    *, organizations: Iterable[Organization], target: str, cutoff: datetime.datetime
) -> models.QuerySet:
    """What a target's windows are cut from (:func:`_windows`): a superset of its expired rows
    that one index answers alone. For the generation targets, every generation (every failed
    one) created before the cutoff: the conditions that make a row expire (a tree's nodes all
    older, no child branching from it) read each candidate root's heap page and probe the
    tree's nodes, and windows need only the moments. For a tenant of 20,373 expired roots at 2M
    (cold) the trees' windows took 343 ms that way and 9 ms from the (organization, created_at)
    index. Each window then holds fewer than ``batch_size`` candidates (unless they share a
    moment), so fewer expired rows. For the empty runs, every run created before the cutoff:
    their condition (no generation left) probes the ``run_id`` index per run, over the entries of
    the generations this run has just deleted (131 ms of a 10M tenant's 4.8 s, read while the
    other worker waited), and the candidates do not grow as generations go, so their windows are
    read with the others' before the first batch. The other targets' expired rows are such a read already."""
    if target in (RetentionTarget.GENERATIONS, RetentionTarget.FAILED_GENERATIONS):
        return generation_retention.generations_created_before(
            organizations=organizations,
            cutoff=cutoff,
            failed=target == RetentionTarget.FAILED_GENERATIONS,
        )
    if target == RetentionTarget.EMPTY_RUNS:
        return generation_retention.runs_created_before(organizations=organizations, cutoff=cutoff)
    return expired_rows(organizations=organizations, target=target, cutoff=cutoff)


def _count_by_organization(rows: models.QuerySet) -> dict[int, int]:
    """How many of ``rows`` each organization has, by one ``GROUP BY``."""
    return dict(
        rows.order_by().values("organization_id").annotate(n=Count("pk")).values_list("organization_id", "n")
    )


@dataclass
class TargetOutcome:
    """What retention found (dry run) or did for one organization and target."""

    organization: str
    target: str
    days: int
    cutoff: datetime.datetime
    expired: int  # primary rows (trees for generations)
    rows: int  # rows of the target's table (a tree's nodes counted)
    archived: int = 0  # rows archived and deleted, cascades included
    batches: int = 0

    def add(self, batch: RetentionBatch, rows: int) -> None:
        """Count a committed batch of this organization and target (``rows``: of the target's
        table, a tree's nodes counted)."""
        self.expired += batch.primary_rows
        self.rows += rows
        self.archived += batch.archived_rows
        self.batches += 1


def _targets(organizations: Iterable[Organization] | None, now: datetime.datetime):
    """Each (organization, target, days, cutoff) a run goes through, in ``TARGET_ORDER``. The
    organizations' preferences are read by one query, not one per organization."""
    if organizations is None:
        organizations = Organization.objects.order_by("pk")
    organizations = list(organizations)
    preferences = {
        each.organization_id: each
        for each in CleanupPreferences.objects.filter(organization__in=[o.pk for o in organizations])
    }
    platform = _days_of(None)  # most organizations have no preferences: read the policy once
    for organization in organizations:
        days_of = _days_of(preferences[organization.pk]) if organization.pk in preferences else platform
        for target, days in days_of.items():
            yield organization, target, days, now - datetime.timedelta(days=days)


Together = dict[int, tuple[Organization, TargetOutcome]]


def _by_cutoff(
    organizations: Iterable[Organization] | None, now: datetime.datetime
) -> tuple[list[TargetOutcome], dict[tuple[str, datetime.datetime], Together]]:
    """One outcome per organization and target, nothing counted yet, in the order of
    :func:`_targets`; and the same outcomes grouped by (target, cutoff), ``TARGET_ORDER`` first:
    the organizations a run asks together, by key."""
    outcomes: list[TargetOutcome] = []
    groups: dict[tuple[str, datetime.datetime], Together] = {}
    for organization, target, days, cutoff in _targets(organizations, now):
        outcome = TargetOutcome(organization.slug, target, days, cutoff, expired=0, rows=0)
        outcomes.append(outcome)
        groups.setdefault((target, cutoff), {})[organization.pk] = (organization, outcome)
    return outcomes, dict(sorted(groups.items(), key=lambda group: TARGET_ORDER.index(group[0][0])))


def retention_plan(
    *, organizations: Iterable[Organization] | None = None, now: datetime.datetime | None = None
) -> list[TargetOutcome]:
    """What a run would expire now, per organization and target. Reads only: a count by
    organization for each target and cutoff (two for trees: roots, then the nodes under them),
    however many organizations share it."""
    outcomes, groups = _by_cutoff(organizations, now or timezone.now())
    for (target, cutoff), members in groups.items():
        primary = expired_rows(
            organizations=[organization for organization, _ in members.values()], target=target, cutoff=cutoff
        )
        expired = _count_by_organization(primary)
        # The rows of the target's table that go: a tree's nodes with its root.
        nodes = (
            _count_by_organization(Generation.all_objects.filter(root__in=primary.values("pk")))
            if target == RetentionTarget.GENERATIONS
            else {}
        )
        for pk, (_, outcome) in members.items():
            outcome.expired = expired.get(pk, 0)
            outcome.rows = outcome.expired + nodes.get(pk, 0)
    return outcomes


class _Doomed:
    """What one batch removes, found the way Django's ``Collector`` would, but set-based: one
    query per relation and cascade level, never one per row.

    ``rows`` maps each model to the primary keys to archive and delete (the expired rows and
    everything their deletion cascades to); ``set_null`` lists the ``(model, field, keys)``
    links to clear; a ``PROTECT`` reference raises ``ProtectedError`` and a ``RESTRICT`` one
    that the batch does not remove raises ``RestrictedError``, as ``Model.delete()`` would.
    """

    def __init__(self, cursor, model: type[models.Model], keys: list):
        self.cursor = cursor
        self.rows: dict[type[models.Model], set] = {}
        self.set_null: list[tuple[type[models.Model], models.Field, set]] = []
        restricted: list[tuple[type[models.Model], models.Field, set]] = []
        pending = [(model, set(keys))]
        while pending:
            model, keys = pending.pop()
            keys -= self.rows.setdefault(model, set())
            if not keys:
                continue
            self.rows[model] |= keys
            for relation in get_candidate_relations_to_delete(model._meta):
                field, related = relation.field, relation.related_model
                if not field.target_field.primary_key:
                    raise NotImplementedError(f"{field} does not point at a primary key.")
                on_delete = field.remote_field.on_delete
                if on_delete is models.CASCADE:
                    pending.append((related, set(self._referencing(related, field, keys))))
                elif on_delete is models.SET_NULL:
                    self.set_null.append((related, field, keys))
                elif on_delete in (models.PROTECT, models.RESTRICT):
                    restricted.append((related, field, keys))
                elif on_delete is not models.DO_NOTHING:
                    raise NotImplementedError(f"Retention does not handle {on_delete.__name__} ({field}).")
        for related, field, keys in restricted:
            referencing = set(self._referencing(related, field, keys))
            if field.remote_field.on_delete is models.RESTRICT:
                referencing -= self.rows.get(related, set())
            if referencing:
                error = ProtectedError if field.remote_field.on_delete is models.PROTECT else RestrictedError
                raise error(
                    f"{len(referencing)} {related._meta.label} row(s) reference expired rows through "
                    f"{field.name} ({field.remote_field.on_delete.__name__}); the batch is rolled back.",
                    set(),
                )

    def _referencing(self, related: type[models.Model], field: models.Field, keys: set) -> list:
        pk = related._meta.pk.column
        self.cursor.execute(
            f"SELECT {qn(pk)} FROM {qn(related._meta.db_table)} "  # noqa: S608 - quoted model names
            f"WHERE {qn(field.column)} = ANY(%s)",
            [list(keys)],
        )
        return [row[0] for row in self.cursor.fetchall()]

    @property
    def count(self) -> int:
        return sum(len(keys) for keys in self.rows.values())


def _moment_sql(model: type[models.Model], alias: str) -> str:
    """When a row happened, in SQL: ``occurred_at``, else ``created_at``, else NULL."""
    names = [name for name in ("occurred_at", "created_at") if has_concrete_field(model, name)]
    columns = [f"{alias}.{qn(model._meta.get_field(name).column)}" for name in names]
    if not columns:
        return "NULL::timestamptz"
    return columns[0] if len(columns) == 1 else f"COALESCE({', '.join(columns)})"


def _archive_fields_sql(model: type[models.Model], alias: str) -> str:
    """A ``LATERAL`` subquery naming ``fields``: one column per concrete field of ``alias``'s row
    but the key, named by the field's name, so in ``to_jsonb`` it is the ``fields`` object of
    Django's serializer layout (foreign keys by field name, decimals as strings so no digit is
    lost, secret fields replaced).

    One ``to_jsonb`` of a named row, not ``jsonb_build_object`` of ~40 name/value pairs merged
    in chunks: the same JSON (compared row by row at 1M) at about half the CPU for generations.
    """
    secrets = set(getattr(model, "audit_secret_fields", ()))
    columns = []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        column = f"{alias}.{qn(field.column)}"
        if field.name in secrets:
            value = "'[secret]'::text"  # never copy a secret out of its encrypted column
        elif isinstance(field, models.DecimalField):
            value = f"{column}::text"
        else:
            value = column
        columns.append(f"{value} AS {qn(field.name)}")
    return f"LATERAL (SELECT {', '.join(columns)}) AS fields"


def _archive_and_delete(
    cursor,
    model: type[models.Model],
    keys: set,
    *,
    versions: Sequence[str] = (),
    batches: dict[int, RetentionBatch],
    archived_at,
) -> dict[int, tuple[int, datetime.datetime | None, datetime.datetime | None]]:
    """Delete ``keys`` of ``model`` and the rows at ``versions`` (the ``ctid`` of rows
    this transaction has locked) and archive exactly the deleted rows, in one statement:
    ``WITH doomed AS (DELETE … RETURNING *) INSERT INTO archive SELECT … FROM doomed``, each
    row in the batch of its own organization (``batches``). Returns, per organization, the rows
    archived (= deleted) and the oldest and newest of their moments. A version that is no longer
    the row's deletes nothing, and the batch's count check then rolls it back."""
    archive = ArchivedRecord._meta.db_table
    table, pk = qn(model._meta.db_table), qn(model._meta.pk.column)
    organization = qn(model._meta.get_field("organization").column)
    # By version: a TID scan. By key: the primary key's index. Two DELETEs of disjoint rows
    # in one statement, when a batch has both (a tree's nodes cascaded from its root).
    deletes, where = [], []
    if versions:
        deletes.append(f"DELETE FROM {table} WHERE ctid = ANY(%s::tid[]) RETURNING *")  # noqa: S608
        where.append(list(versions))
    if keys or not versions:
        deletes.append(f"DELETE FROM {table} WHERE {pk} = ANY(%s) RETURNING *")  # noqa: S608
        where.append(list(keys))
    if len(deletes) == 1:
        doomed_sql = f"doomed AS ({deletes[0]})"
    else:
        doomed_sql = (
            f"by_version AS ({deletes[0]}), by_key AS ({deletes[1]}), "  # noqa: S608 - quoted names
            "doomed AS (SELECT * FROM by_version UNION ALL SELECT * FROM by_key)"
        )
    cursor.execute(
        f"""
        WITH {doomed_sql}, archived AS (
            INSERT INTO {qn(archive)}
                (batch_id, organization_id, model_label, object_id, occurred_at, data, archived_at)
            SELECT batch.id, doomed.{organization}, %s, doomed.{pk}::text, {_moment_sql(model, "doomed")},
                   to_jsonb(document), %s
            FROM doomed
            -- A row of an organization without a batch gets none: batch_id NOT NULL refuses it
            -- and the batch rolls back (no deleted row goes unarchived).
            LEFT JOIN unnest(%s::bigint[], %s::bigint[]) AS batch(organization_id, id)
                ON batch.organization_id = doomed.{organization},
            {_archive_fields_sql(model, "doomed")},
            -- The whole document as one row, so one to_jsonb builds it: jsonb_build_object of
            -- to_jsonb(fields) built the fields' JSON and then copied it into the outer one.
            LATERAL (SELECT %s::text AS model, doomed.{pk} AS pk, fields) AS document
            RETURNING organization_id, occurred_at
        )
        SELECT organization_id, count(*), min(occurred_at), max(occurred_at) FROM archived
        GROUP BY organization_id
        """,  # noqa: S608 - quoted model names and fields
        [
            *where,
            model._meta.label_lower,
            archived_at,
            list(batches),
            [batch.pk for batch in batches.values()],
            model._meta.label_lower,
        ],
    )
    return {organization_id: rest for organization_id, *rest in cursor.fetchall()}


def _open_batches(
    cursor, primary_rows: dict[int, int], *, target: str, cutoff: datetime.datetime, created_at
) -> dict[int, RetentionBatch]:
    """One :class:`~analytics.models.RetentionBatch` per organization of ``primary_rows``
    (organization key: its expired rows in this batch), nothing archived yet, inserted by one
    statement; returned by organization key. For a nightly batch of ~1,000 organizations
    ``bulk_create`` took ~35 ms (the instances built, their parameters prepared, the INSERT);
    this takes ~18 ms (one-worker profile at 10M)."""
    table, fields = qn(RetentionBatch._meta.db_table), RetentionBatch._meta.concrete_fields
    cursor.execute(
        f"INSERT INTO {table} (organization_id, target, cutoff, primary_rows, archived_rows, created_at) "  # noqa: S608
        "SELECT organization_id, %s, %s, primary_rows, 0, %s "
        "FROM unnest(%s::bigint[], %s::integer[]) AS opened(organization_id, primary_rows) "
        f"RETURNING {', '.join(qn(field.column) for field in fields)}",
        [target, cutoff, created_at, list(primary_rows), list(primary_rows.values())],
    )
    names = [field.attname for field in fields]
    return {
        batch.organization_id: batch
        for batch in (RetentionBatch.from_db(cursor.db.alias, names, row) for row in cursor.fetchall())
    }


def _complete_batches(batches: Iterable[RetentionBatch]) -> None:
    """Write each batch row's counts and time range, all of them in one statement
    (``tenancy.bulk.rows_update``). ``bulk_update`` writes a ``CASE`` of one branch per row for
    each field: over the ~1,000 organizations of a nightly batch, building it took ~0.2 s of
    Python and running it ~0.24 s (each row searched the branches), 42 % of a one-worker nightly
    run at 10M."""
    rows_update(model=RetentionBatch, rows=list(batches), fields=["archived_rows", "oldest_at", "newest_at"])


def _archive_batch(
    organizations: list[Organization],
    target: str,
    cutoff: datetime.datetime,
    *,
    batch_size: int,
    on_batch,
    window: Window,
    after=None,
) -> tuple[list, dict[int, RetentionBatch], dict[int, int]]:
    """One batch in one transaction, over ``organizations`` (those sharing ``cutoff``); returns
    the primary keys expired, each organization's batch row and its rows of the target's table
    (a tree's nodes counted) by organization key (``[], {}, {}``: none left).
    ``window``: the ``[since, until)`` of the target's moment the batch takes its rows from (no
    ``until``: open; :func:`_windows`), so its scan reads that window's rows, not every expired
    row again. ``after``: the last key of this worker's previous batch in the same window; the
    scan starts past it instead of over the dead index entries of the rows already deleted (a
    row it skipped because it was locked is left for the next run, as SKIP LOCKED intends).

    Its rows may belong to several organizations: each gets its own
    :class:`~analytics.models.RetentionBatch` (written by one statement, completed by one
    more), and each archived row goes into its own organization's. A bounded number of queries
    whatever the batch size and however many organizations: the batch's ``work_mem``, the expired
    keys, one query per relation and cascade level, one update per ``SET_NULL`` link, one
    statement per model that deletes and archives, the batch rows and their counts and time
    ranges.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        # The delete-and-archive statement keeps the deleted rows (~1 kB each) for its INSERT:
        # with the default 4 MB a batch of 10,000 spilled them to a temporary file (~10 MB
        # written and read back). At 10M the generations' statement ran ~11 % faster with room
        # for them (docs/scale-plan.md); a tree's cascaded nodes can make a batch of 2,500 as
        # big. SET LOCAL: until the batch's transaction ends (a caller's, when the batch runs
        # inside one).
        cursor.execute("SET LOCAL work_mem = %s", [BATCH_WORK_MEM])
        primary = expired_rows(organizations=organizations, target=target, cutoff=cutoff)
        model = primary.model
        primary = primary.filter(**{f"{TARGET_MOMENT[target]}__gte": window.since})
        if window.until is not None:
            primary = primary.filter(**{f"{TARGET_MOMENT[target]}__lt": window.until})
        if after is not None:
            primary = primary.filter(pk__gt=after)
        # SKIP LOCKED: a row an ingest is writing right now is left for the next run. Ordered by
        # ``pk + 0``, the key's order but not its index's: over many organizations the planner
        # otherwise walked the primary key for the first rows in the window (2.6 s, 9.5M rows
        # filtered out, at 10M) instead of reading the window by (organization, time) and sorting
        # its ~batch_size rows (13 ms).
        # With each row's ``ctid``: the row version this lock holds, which no one else can
        # update or delete until the batch ends, so the DELETE finds the rows by a TID scan
        # instead of a probe of the primary key per row (at 10M a tenant's keys are ~1 a leaf
        # page apart: about a third of the pages a batch read were primary-key pages).
        expired = list(
            primary.order_by((F("pk") + 0).asc())
            .select_for_update(skip_locked=True, of=("self",))
            .annotate(row_version=RawSQL(f"{qn(model._meta.db_table)}.ctid", ()))  # noqa: S611 - a quoted name
            .values_list("pk", "organization_id", "row_version")[:batch_size]
        )
        if not expired:
            return [], {}, {}
        ids = [pk for pk, _, _ in expired]
        doomed = _Doomed(cursor, model, ids)
        # Only while nothing in the batch rewrites these rows first (a SET_NULL link within
        # the model would give them new versions): then by key, as the cascaded rows are.
        versions = (
            {pk: version for pk, _, version in expired}
            if not any(related is model for related, _, _ in doomed.set_null)
            else {}
        )
        archived_at = timezone.now()
        batches = _open_batches(
            cursor,
            Counter(organization_id for _, organization_id, _ in expired),
            target=target,
            cutoff=cutoff,
            created_at=archived_at,
        )
        for related, field, keys in doomed.set_null:
            table, column = qn(related._meta.db_table), qn(field.column)
            sql = f"UPDATE {table} SET {column} = NULL WHERE {column} = ANY(%s)"  # noqa: S608 - quoted names
            params = [list(keys)]
            if doomed.rows.get(related):  # rows this batch deletes anyway are archived as they are
                sql += f" AND NOT ({qn(related._meta.pk.column)} = ANY(%s))"
                params.append(list(doomed.rows[related]))
            cursor.execute(sql, params)
        rows: dict[int, int] = {}
        # Dependents first (cascaded rows were found after the rows they depend on).
        for each, keys in reversed(list(doomed.rows.items())):
            if not keys:
                continue
            located = {pk: versions[pk] for pk in keys if pk in versions} if each is model else {}
            done = _archive_and_delete(
                cursor,
                each,
                keys - located.keys(),
                versions=list(located.values()),
                batches=batches,
                archived_at=archived_at,
            )
            for organization_id, (count, oldest_at, newest_at) in done.items():
                batch = batches[organization_id]
                batch.archived_rows += count
                if each is model:  # a batch's time range is its target's rows' (tree nodes included)
                    batch.oldest_at, batch.newest_at = oldest_at, newest_at
                    rows[organization_id] = count
        archived = sum(batch.archived_rows for batch in batches.values())
        if archived != doomed.count:
            raise ArchiveMismatch(
                f"Found {doomed.count} rows but archived and deleted {archived}; rolled back."
            )
        _complete_batches(batches.values())
        if on_batch is not None:
            for batch in batches.values():
                on_batch(batch)  # inside the transaction: a failure here rolls this batch back too
    return ids, batches, rows


class Window(NamedTuple):
    """``[since, until)`` of a target's moment (no ``until``: open, the last window) and how many
    candidates it held when it was cut (:func:`_windows`)."""

    since: datetime.datetime
    until: datetime.datetime | None
    rows: int


def _windows(candidates: models.QuerySet, moment: str, batch_size: int, workers: int = 1) -> list[Window]:
    """Windows of ``moment`` that split ``candidates`` (a target's expired rows or a superset of
    them, :func:`window_candidates`) into windows of equal size, fewer than ``batch_size`` rows
    each and as many as a multiple of ``workers`` (fewer when there are fewer rows), from one
    read of the rows, in order. The first window starts at the oldest candidate and the last has
    no upper bound (``candidates`` already stop at the cutoff), so every expired row is in
    exactly one window; a row written since that is older than every candidate, or one expiring
    meanwhile, waits for the next run. No window when there is no candidate. Rows sharing a
    moment share a window, which may then hold more than ``batch_size``: it is drained in
    several batches, by several workers (:func:`_queue`).

    The first window is bounded below because the rows earlier runs deleted lie before it, dead
    until vacuumed (on a 10M table autovacuum comes after ~2M dead rows, a month of nightly
    runs): open, the first batch's scan read them all again every night (at 10M after eight
    nightly trials without a vacuum, one batch took 7.5 s where the others took 0.8).

    Equal windows, a multiple of the workers: each worker drains whole windows (:func:`_drain`),
    so they finish a target about together.

    Without windows, every batch read all the target's expired rows again (the rows it
    deleted included, dead until vacuumed) to keep the first ``batch_size`` by key: a tenant of
    N expired rows cost N/batch_size scans of N rows.
    """
    sql, params = candidates.order_by().values_list(moment).query.sql_with_params()
    with connection.cursor() as cursor:
        # k windows, k = workers * ceil(rows / (workers * (batch_size - 1))): each holds fewer than
        # batch_size rows, so its first batch comes back short and ends it, where a window of
        # exactly batch_size cost a second, empty scan to find out. The n-th row (from 1) is in
        # window floor((n - 1) * k / rows); a row starting a window other than the first is a
        # bound, unless it shares the first row's moment (the first window would be empty; this
        # also leaves the first row out). Then each window's rows: width_bucket counts the bounds
        # at or before a moment.
        numbered = (
            "SELECT e.moment, row_number() OVER (ORDER BY e.moment) AS n, "  # noqa: S608 - Django's SQL
            f"min(e.moment) OVER () AS first, count(*) OVER ()::numeric AS rows FROM ({sql}) AS e(moment)"
        )
        cursor.execute(
            f"WITH numbered AS ({numbered}), "  # noqa: S608 - Django's SQL
            "cut AS (SELECT min(w.first) AS first, coalesce(array_agg(DISTINCT w.moment ORDER BY w.moment) "
            "FILTER (WHERE w.moment > w.first "
            "AND floor((w.n - 1) * w.k / w.rows) > floor((w.n - 2) * w.k / w.rows)), '{}') AS bounds "
            "FROM (SELECT numbered.*, %s * ceil(numbered.rows / %s) AS k FROM numbered) AS w) "
            "SELECT cut.first, cut.bounds, array_agg(counted.rows ORDER BY counted.bucket) FROM cut, "
            "(SELECT width_bucket(numbered.moment, cut.bounds) AS bucket, count(*) AS rows "
            "FROM numbered, cut GROUP BY 1) AS counted GROUP BY cut.first, cut.bounds",
            [*params, workers, workers * max(batch_size - 1, 1)],
        )
        found = cursor.fetchone()
    if found is None:
        return []  # nothing expired: no batch to take
    first, bounds, rows = found
    edges = [first, *bounds, None]
    return [
        Window(since, until, count)
        for (since, until), count in zip(itertools.pairwise(edges), rows, strict=True)
    ]


def _queue(windows: Iterable[Window], batch_size: int, workers: int) -> queue.SimpleQueue:
    """The windows the workers take (:func:`_drain`): each once, and one holding more than a
    batch (rows sharing a moment) once for each batch it needs, up to ``workers`` times, so that
    many workers drain it side by side (SKIP LOCKED keeps their batches disjoint)."""
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for window in windows:
        for _ in range(min(workers, -(-window.rows // batch_size))):
            todo.put(window)
    return todo


def _drain(
    organizations: list[Organization],
    target: str,
    cutoff: datetime.datetime,
    outcomes: dict[int, TargetOutcome],
    *,
    windows: queue.SimpleQueue,
    batch_size: int,
    on_batch,
    stop: threading.Event,
    tally: threading.Lock,
) -> None:
    """Archive ``target``'s expired rows of ``organizations`` batch after batch, taking window
    after window (:func:`_windows`) from ``windows``, which the workers share, until none is left
    (or ``stop`` is set), adding to each organization's outcome (``outcomes``, by key). Several
    workers drain one target at once, each window by one of them: a batch whose scan came back
    short has seen every expired row of its window that no one else holds (its rows are locked
    with SKIP LOCKED: a row an ingest or another run holds is left for the next run), and its
    worker takes the next window. Disjoint windows, not every worker through every one: two
    workers in one window split it into two short batches, and each window a worker reached
    after the other had locked its rows cost an empty scan (~25 ms at 10M, about one per target
    and worker)."""
    while not stop.is_set():
        try:
            window = windows.get_nowait()
        except queue.Empty:
            return
        after = None
        while not stop.is_set():
            ids, batches, rows = _archive_batch(
                organizations,
                target,
                cutoff,
                window=window,
                after=after,
                batch_size=batch_size,
                on_batch=on_batch,
            )
            if ids:
                after = ids[-1]  # ordered by key
                with tally:
                    for organization_id, batch in batches.items():
                        outcomes[organization_id].add(batch, rows[organization_id])
            if len(ids) < batch_size:
                # The scan ran out of the window's expired rows: asking again would only repeat
                # it (a row skipped as locked is left for the next run either way).
                break


class _Workers:
    """``count - 1`` threads beside the caller's, each with its own database connection (in the
    caller's row scope), kept for the whole run so a connection is opened once, not per target.
    :meth:`run` runs one call on every worker, the caller included, and waits for all of them;
    the first error stops the others after their current batch (committed or rolled back whole)
    and is raised."""

    def __init__(self, count: int):
        self.count = count
        self.scope = rls.current_scope()
        self.inboxes: list[queue.SimpleQueue] = []
        self.outbox: queue.SimpleQueue = queue.SimpleQueue()
        self.threads = []
        for number in range(1, count):
            inbox: queue.SimpleQueue = queue.SimpleQueue()
            thread = threading.Thread(
                target=self._serve, args=(inbox,), name=f"retention-{number}", daemon=True
            )
            thread.start()
            self.inboxes.append(inbox)
            self.threads.append(thread)

    def _serve(self, inbox: queue.SimpleQueue) -> None:
        try:
            with rls.row_scope(self.scope):
                while (call := inbox.get()) is not None:
                    try:
                        call()
                    except BaseException as error:  # handed to the caller, which raises it
                        self.outbox.put(error)
                    else:
                        self.outbox.put(None)
        finally:
            connections.close_all()  # this thread's connection, opened by its first batch

    def run(self, call: Callable[[], None], stop: threading.Event) -> None:
        def guarded() -> None:
            try:
                call()
            except BaseException:
                stop.set()  # the other workers stop after the batch they are in
                raise

        for inbox in self.inboxes:
            inbox.put(guarded)
        errors = []
        try:
            guarded()
        except BaseException as error:
            errors.append(error)
        for _ in self.inboxes:
            if (error := self.outbox.get()) is not None:
                errors.append(error)
        if errors:
            raise errors[0]

    def close(self) -> None:
        for inbox in self.inboxes:
            inbox.put(None)
        for thread in self.threads:
            thread.join()


def _windows_side_by_side(
    pool: _Workers, stop: threading.Event, groups: dict, batch_size: int
) -> dict[tuple[str, datetime.datetime], list[Window]]:
    """The windows (:func:`_windows`) of every group of ``groups``, read on every worker at once
    before the first batch: one at a time, each query kept the other workers idle (at 10M, 0.43
    s of a 16,535-generation tenant's 2.14 s run: the trees' query reads each expired root's
    page). Windows read early stay exact: they are cut from candidates no target adds to during
    a run (:func:`window_candidates`; a run this run's generations empty was a candidate
    already), so a row another target removes meanwhile only leaves its window short."""
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for key in groups:
        todo.put(key)
    found: dict[tuple[str, datetime.datetime], list[Window]] = {}

    def read() -> None:
        while not stop.is_set():
            try:
                key = todo.get_nowait()
            except queue.Empty:
                return
            found[key] = _group_windows(groups, key, batch_size, pool.count)  # one key a thread

    pool.run(read, stop)
    return found


def _group_windows(
    groups: dict, key: tuple[str, datetime.datetime], batch_size: int, workers: int
) -> list[Window]:
    """:func:`_windows` of one ``(target, cutoff)`` group of ``groups``, cut from its
    :func:`window_candidates` for ``workers``."""
    target, cutoff = key
    together = [organization for organization, _ in groups[key].values()]
    candidates = window_candidates(organizations=together, target=target, cutoff=cutoff)
    return _windows(candidates, TARGET_MOMENT[target], batch_size, workers)


def retention_apply(
    *,
    organizations: Iterable[Organization] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    now: datetime.datetime | None = None,
    on_batch: Callable[[RetentionBatch], None] | None = None,
    workers: int = 1,
) -> list[TargetOutcome]:
    """Archive and delete every expired row, batch by batch (see the module docstring).

    The run goes target after target in ``TARGET_ORDER``; within a target, the organizations
    whose retention gives the same cutoff (all those on the platform's policy, and those whose
    preferences name the same days) are archived together: one windows' query and batches of
    up to ``batch_size`` rows of any of them, each organization's rows in its own
    :class:`~analytics.models.RetentionBatch`. Asked one organization at a time, a night of a
    thousand tenants cost a windows' query per organization and target and a batch for a few
    dozen rows each, about ten statements of a millisecond each, and was bound by their number,
    not by its rows (``docs/scale-plan.md``).

    ``workers`` connections archive each target's batches side by side. The work is the
    database's: on 2 cores two workers archived one organization's rows about 1.4 times as fast
    as one, and more were no better (``bench/retention.py --workers``). ``on_batch(batch)`` runs
    at the end of each batch's transaction for each organization's batch row, in the worker's
    thread (progress bars; tests raise from it to simulate a crash). Returns one outcome per
    organization and target, in ``TARGET_ORDER`` for each organization.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    if workers < 1:
        raise ValueError("workers must be at least 1.")
    # No counting first (that is retention_plan's job): a target with nothing expired costs its
    # windows' query only.
    outcomes, groups = _by_cutoff(organizations, now or timezone.now())
    pool = _Workers(workers)
    stop, tally = threading.Event(), threading.Lock()
    try:
        windows_of = _windows_side_by_side(pool, stop, groups, batch_size)
        # Target after target (the order matters, see TARGET_ORDER), whatever the cutoffs.
        for (target, cutoff), members in groups.items():
            together = [organization for organization, _ in members.values()]
            windows = _queue(windows_of[(target, cutoff)], batch_size, pool.count)
            drain = functools.partial(
                _drain,
                together,
                target,
                cutoff,
                {pk: outcome for pk, (_, outcome) in members.items()},
                windows=windows,
                batch_size=batch_size,
                on_batch=on_batch,
                stop=stop,
                tally=tally,
            )
            pool.run(drain, stop)  # raises the first worker's error, the others stopped
    finally:
        pool.close()
    return outcomes


# The tables retention deletes from: the targets' and the ones their deletions cascade to.
COMPACTED_MODELS = (Generation, GenerationRun, ProviderCall, PerformanceMetric, ModelPerformance)


# How long compacting waits for snapshots older than retention's deletes before rewriting anyway.
SNAPSHOT_WAIT_SECONDS = 60.0


def _wait_for_older_snapshots(cursor, timeout: float) -> list[int]:
    """Wait until no other session of the server holds a transaction or a snapshot older than
    this call, for at most ``timeout`` seconds; return the pids of those still holding one.

    VACUUM FULL copies every deleted row that a snapshot may still see. Its own snapshot's
    horizon counts every transaction running on the *server* when it starts, whatever its
    database (unlike plain VACUUM), so a long report anywhere, or an autoanalyze of the archive
    table retention just filled, would leave the rewritten table its old size. Every row
    retention deleted was deleted by a transaction older than this call, so waiting out the
    sessions older than it is enough (as CREATE INDEX CONCURRENTLY waits for older snapshots).
    Sessions of roles this one may not see (without ``pg_read_all_stats``) are not waited for.
    """
    cursor.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
    (start,) = cursor.fetchone()
    # age(x) is how many transaction ids ago x was: older than the start is "more than the start's".
    query = (
        "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
        "AND greatest(age(backend_xmin), age(backend_xid)) "
        "> pg_snapshot_xmax(pg_current_snapshot())::text::bigint - %s"
    )
    deadline = time.monotonic() + timeout
    while True:
        cursor.execute(query, [start])
        holding = sorted(pid for (pid,) in cursor.fetchall())
        if not holding or time.monotonic() >= deadline:
            return holding
        time.sleep(0.05)


def retention_compact(snapshot_wait: float = SNAPSHOT_WAIT_SECONDS) -> dict[str, tuple[int, int]]:
    """Give the space retention freed back to the operating system: ``VACUUM (FULL, ANALYZE)``
    of each table retention deletes from. Returns ``{table: (bytes before, bytes after)}``,
    indexes included. First waits (up to ``snapshot_wait`` seconds) for the server's
    transactions and snapshots older than the deletes, which would keep deleted rows in the
    rewrite (:func:`_wait_for_older_snapshots`).

    Plain VACUUM (autovacuum) only marks deleted rows' space reusable: new rows fill it, but the
    files shrink only by empty pages at their very end, and retention deletes the *oldest* rows,
    at the start. VACUUM FULL rewrites each table and its indexes and holds an ACCESS EXCLUSIVE
    lock meanwhile: ingestion into that table waits until it ends, so run it in a quiet window,
    not nightly (``docs/partitioning.md``: dropping monthly partitions removes the need).
    """
    sizes = {}
    with rls.database_owner(), connection.cursor() as cursor:  # VACUUM is the owner's
        if still_holding := _wait_for_older_snapshots(cursor, snapshot_wait):
            logger.warning(
                "retention compact: sessions %s still hold a snapshot after %.0f s; the rows "
                "they may see stay in the rewritten tables",
                still_holding,
                snapshot_wait,
            )
        for model in COMPACTED_MODELS:
            table = model._meta.db_table
            cursor.execute("SELECT pg_total_relation_size(%s)", [table])
            before = cursor.fetchone()[0]
            cursor.execute(f"VACUUM (FULL, ANALYZE) {qn(table)}")
            cursor.execute("SELECT pg_total_relation_size(%s)", [table])
            sizes[table] = (before, cursor.fetchone()[0])
    return sizes
