"""Keeping the rollups exact: append-only deltas in the ingest transaction, folds, rebuilds.

Deltas
------
Every ingest adds its rows' contributions to the daily/hourly rollups *in the same transaction*
as **new rows** (one plain multi-row ``INSERT``, no unique key, no ``ON CONFLICT``): a group
(organization, day, provider, …) may have many rows and its figures are their SUM. No writer
ever updates a row another writer also needs, so concurrent writers of one organization never
queue on a rollup row lock (they did, on the upsert's row, until commit). A rolled-back ingest
rolls its rows back with it. Every reader aggregates, so answers are exact whether a group is
folded or not. ``ModelPerformance`` (per run and model, read row by row by ``runs/``) keeps its
unique key and ``INSERT … ON CONFLICT DO UPDATE``: only writers of one run share its row. All of
an ingest's rollup writes go out as **one statement** (data-modifying CTEs chained by
:func:`_execute`).

A generation's status, tokens, cost and time may change after it was created (``updated`` in
``generations_recorded``): the old contribution goes in negated and the new one added, as one
more delta row (so a single row may be negative; only a group's sums are bounded). Its
dimensions (day, provider, model, content type, user) never change after creation, except by
re-pricing (which moves a row's contribution between groups the same way) and GDPR purge (which
relabels a user's rows anonymous). Soft delete and restore change nothing: the generation
happened and its cost was incurred.

Maxima are not additive. A delta row carries the maximum latency of its own rows; the group's is
the MAX over its rows, exact while times only grow. When an edit lowers a time the group's rows
are clamped to the maximum recomputed from the raw rows (:func:`_recompute_latency_maxima`,
under a transaction-level advisory lock per group so two lowering edits see each other).

Folds
-----
:func:`rollups_fold` compacts an organization's rows of a range of days into one row per group
in ONE statement (``WITH d AS (DELETE … RETURNING *) INSERT … SELECT … FROM d GROUP BY …``): it
sees one snapshot, so rows inserted while it runs are neither deleted nor counted, and a reader
sees the rows before or after, both exact. Groups whose every figure sums to zero are dropped.
The per-user daily rollup is the exception: its fold recomputes the range from the hourly rows
in one statement, because the busiest hour of a day is not a sum of its rows' figures.
Run nightly by ``manage.py rollup --fold`` (a Procrastinate periodic job).

Rebuilds
--------
:func:`rollup_rebuild` replaces a range of days with an aggregation of the raw rows, under a
``SHARE ROW EXCLUSIVE`` lock on the rollup tables that waits for in-flight ingests to commit
and holds new ones back until it commits, so no delta is lost or counted twice. Days whose
raw rows retention has already archived are skipped (their rollups are the only record left).
"""

# SQL here is built from our own table and column names only; every value is a parameter.
# ruff: noqa: S608

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Max

from analytics.choices import ERROR_TYPE_COLUMNS, ErrorType, RetentionTarget
from analytics.models import (
    SLOW_CALL_MS,
    GenerationDailyRollup,
    GenerationDayRollup,
    GenerationModelDailyRollup,
    GenerationUserDailyRollup,
    ModelPerformance,
    PerformanceMetric,
    ProviderCall,
    ProviderCallDailyRollup,
    ProviderCallKeyDailyRollup,
    ProviderCallModelDailyRollup,
    ProviderCallUserDailyRollup,
    RetentionBatch,
    UserDailyRollup,
    UserHourlyRollup,
)
from background.locks import lock_until_commit
from generations.choices import GenerationStatus, RecordedAction
from generations.models import CacheDailyStats, Generation
from providers.choices import CostStatus
from providers.models import AIModel, Provider
from tenancy.idempotency import WrittenWith
from tenancy.models import Organization
from tenancy.statements import ROWS, Statement, chained

# Table names and statuses the raw SQL below uses, from the models and choices themselves.
GENERATIONS = Generation._meta.db_table
AI_MODELS = AIModel._meta.db_table
PROVIDERS = Provider._meta.db_table
METRICS = PerformanceMetric._meta.db_table
PROVIDER_CALLS = ProviderCall._meta.db_table
SUCCEEDED = f"'{GenerationStatus.SUCCESS.value}', '{GenerationStatus.PARTIAL.value}'"

UTC = datetime.UTC
logger = logging.getLogger(__name__)
TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "total_tokens")


@dataclass(frozen=True)
class RollupTable:
    """How to write one rollup table: its group columns, summed columns and maxima.

    ``append_only`` tables get delta rows (no unique key); the others are upserted on their
    unique group. ``coarser``: tables whose keys and sums are some of these (the same figures
    without user and key, per key only, or per day only), fed by every contribution to this one
    (and theirs by it in turn) and rebuilt from its rows. A contribution's delta rows for them
    are aggregated in SQL from the rows its own ``INSERT`` returns (:meth:`Contributions.statements`),
    so both are append-only."""

    model: type
    keys: tuple[str, ...]
    sums: tuple[str, ...]
    maxes: tuple[str, ...] = ()
    stamps: tuple[str, ...] = ("updated_at",)
    append_only: bool = True
    # Coarser rollups written with this one: some of its measures over some of its keys.
    coarser: tuple[RollupTable, ...] = ()

    def __post_init__(self):
        if self.coarser and not (self.append_only and all(each.append_only for each in self.coarser)):
            raise ValueError(f"{self.table}: coarser tables are fed by delta rows, so all are append-only.")

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column a write names: keys, sums, maxima and stamps, in that order."""
        return (*self.keys, *self.sums, *self.maxes, *self.stamps)


GENERATION_SUMS = (
    "requests",
    "successes",
    "partials",
    "failures",
    "cancelled",
    *TOKEN_FIELDS,
    "cost_usd",
    "unpriced_requests",
    "no_usage_requests",
    "cache_hits",
    "retries",
    "retried_requests",
    "latency_ms_sum",
    "latency_count",
)
MODEL_KEYS = ("organization_id", "day", "provider_name", "model_name", "content_type")
# Per organization and day only: what reports grouped by day or month alone read (one row a day
# once folded, whatever the models and users). Fed by the per-model contributions, and rebuilt
# from that rollup's rows.
GENERATION_DAY_ROLLUP = RollupTable(
    model=GenerationDayRollup, keys=("organization_id", "day"), sums=GENERATION_SUMS
)
GENERATION_MODEL_ROLLUP = RollupTable(
    model=GenerationModelDailyRollup,
    keys=MODEL_KEYS,
    sums=GENERATION_SUMS,
    maxes=("latency_ms_max",),
    coarser=(GENERATION_DAY_ROLLUP,),
)
# Per organization, day and user: what reports grouped by user (alone or with time) read.
GENERATION_USER_ROLLUP = RollupTable(
    model=GenerationUserDailyRollup, keys=("organization_id", "day", "user_ref"), sums=GENERATION_SUMS
)
GENERATION_ROLLUP = RollupTable(
    model=GenerationDailyRollup,
    keys=(*MODEL_KEYS, "user_ref"),
    sums=GENERATION_SUMS,
    maxes=("latency_ms_max",),
    coarser=(GENERATION_MODEL_ROLLUP, GENERATION_USER_ROLLUP),
)

PROVIDER_CALL_SUMS = (
    "requests",
    "successes",
    "failures",
    *ERROR_TYPE_COLUMNS.values(),
    *TOKEN_FIELDS,
    "cost_usd",
    "unpriced_requests",
    "no_usage_requests",
    "latency_ms_sum",
    "latency_count",
    "slow_requests",
    "standalone_requests",
    "standalone_cost_usd",
)
PROVIDER_CALL_MODEL_ROLLUP = RollupTable(
    model=ProviderCallModelDailyRollup, keys=MODEL_KEYS, sums=PROVIDER_CALL_SUMS, maxes=("latency_ms_max",)
)
# The keys report's measures per day and key: a few rows a day, whatever the models and users.
PROVIDER_CALL_KEY_ROLLUP = RollupTable(
    model=ProviderCallKeyDailyRollup,
    keys=("organization_id", "day", "key_fingerprint"),
    sums=(
        "requests",
        "successes",
        "failures",
        "rate_limited",
        "total_tokens",
        "cost_usd",
        "unpriced_requests",
        "no_usage_requests",
    ),
)
PROVIDER_CALL_USER_ROLLUP = RollupTable(
    model=ProviderCallUserDailyRollup, keys=("organization_id", "day", "user_ref"), sums=PROVIDER_CALL_SUMS
)
PROVIDER_CALL_ROLLUP = RollupTable(
    model=ProviderCallDailyRollup,
    keys=(*MODEL_KEYS, "user_ref", "key_fingerprint"),
    sums=PROVIDER_CALL_SUMS,
    maxes=("latency_ms_max",),
    coarser=(PROVIDER_CALL_MODEL_ROLLUP, PROVIDER_CALL_KEY_ROLLUP, PROVIDER_CALL_USER_ROLLUP),
)


def with_coarser(*specs: RollupTable) -> tuple[RollupTable, ...]:
    """``specs`` each followed by every table fed from it (its coarser ones, theirs in turn)."""
    return tuple(table for spec in specs for table in (spec, *with_coarser(*spec.coarser)))


# The daily rollups of generations and of provider calls, each family finest first: what a
# rebuild locks, a fold compacts and a user purge relabels (those keyed by user), derived from
# the specs so a new coarser table is in all three.
GENERATION_DAILY_ROLLUPS = with_coarser(GENERATION_ROLLUP)
PROVIDER_CALL_DAILY_ROLLUPS = with_coarser(PROVIDER_CALL_ROLLUP)

USER_HOURLY = RollupTable(
    model=UserHourlyRollup,
    keys=("organization_id", "hour", "user_ref"),
    sums=("requests", "rate_limited"),
)
# Per user and day, with a bound on the day's busiest hour (``UserDailyRollup``): a delta adds
# its calls to the bound (they may all have fallen in the busiest hour); a fold or rebuild
# replaces the day's rows by one holding the busiest hour's exact count, from the hourly rows
# (``_user_daily_select``), not by summing the bounds.
USER_DAILY = RollupTable(
    model=UserDailyRollup,
    keys=("organization_id", "day", "user_ref"),
    sums=("requests", "rate_limited", "busiest_hour_bound"),
)

MODEL_PERFORMANCE = RollupTable(
    model=ModelPerformance,
    keys=("organization_id", "run_id", "provider_name", "model_name"),
    sums=(
        "requests",
        "successes",
        "items_generated",
        "failures",
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "cost_usd",
        "unpriced_requests",
        "response_time_ms_sum",
        "response_time_count",
    ),
    maxes=("response_time_ms_max",),
    stamps=("created_at", "updated_at"),
    append_only=False,
)

CACHE_STATS = RollupTable(
    model=CacheDailyStats,
    keys=("organization_id", "day"),
    sums=("hits", "misses", "cost_saved_usd"),
    stamps=(),
)

# Retention targets whose deletions make older days impossible to rebuild from raw rows.
REBUILD_FLOOR_TARGETS = (
    RetentionTarget.GENERATIONS,
    RetentionTarget.FAILED_GENERATIONS,
    RetentionTarget.PERFORMANCE_METRICS,
    RetentionTarget.PROVIDER_CALLS,
)


# --- writing ---------------------------------------------------------------------------------


class Contributions:
    """Deltas to add to a rollup table, summed per group before they are written."""

    def __init__(self, spec: RollupTable, *, adjusting: bool = False):
        self.spec = spec
        # Adjusting (upserted tables only): the groups exist already (a changed generation was
        # counted when created), so they are updated in place.
        self.adjusting = adjusting
        self.groups: dict[tuple, dict[str, Any]] = {}

    def add(self, key: tuple, measures: dict[str, Any], *, sign: int = 1) -> None:
        group = self.groups.setdefault(key, {name: 0 for name in self.spec.sums})
        for name in self.spec.sums:
            group[name] += sign * measures.get(name, 0)
        for name in self.spec.maxes:
            value = measures.get(name) if sign > 0 else None
            if value is not None:
                current = group.get(name)
                group[name] = value if current is None else max(current, value)

    def statements(self, only_if: str | None = None) -> list[Statement]:
        """The SQL that writes every non-empty group, and forgets them.

        Append-only tables: one ``INSERT`` of a delta row per group. Upserted tables: new
        contributions are upserted (sorted, for a stable lock order); adjustments update their
        existing group in place: PostgreSQL checks an upsert's proposed row against the CHECK
        constraints before it looks for the conflict, and a delta row (one more success, no more
        requests) fails them. ``only_if``: an SQL condition every statement holds, so it writes
        nothing when the condition is false (see :func:`_insert`).

        The coarser tables' delta rows are the rows the ``INSERT`` returns, grouped by their
        keys in the same statement (:func:`_insert`): no groups kept in Python per coarser table,
        no JSON of them sent and parsed. Each had cost a single POST ~3-5 % (the fourth
        generations rollup, ``docs/scale-plan.md``).
        """
        growing, changing = [], []
        for key in sorted(self.groups, key=_sort_key):
            group = self.groups[key]
            sums = [group[name] for name in self.spec.sums]
            maxes = [group.get(name) for name in self.spec.maxes]
            if all(value == 0 for value in sums) and all(value is None for value in maxes):
                continue
            adjust = not self.spec.append_only and (self.adjusting or any(value < 0 for value in sums))
            (changing if adjust else growing).append((*key, *sums, *maxes))
        self.groups.clear()
        statements = [_insert(self.spec, growing, only_if)] if growing else []
        return statements + [_update(self.spec, row, only_if) for row in changing]

    def write(self) -> int:
        """Write every non-empty group now; returns the statements run."""
        statements = self.statements()
        _execute(statements)
        return len(statements)

    def upserted_groups(self):
        """``(table, group)`` of each group this contribution upserts or updates in place
        (append-only tables, the coarser ones among them, get new delta rows, which never
        collide)."""
        if not self.spec.append_only:
            yield from ((self.spec.table, key) for key in self.groups)


def _write(*contributions: Contributions) -> None:
    """Write ``contributions`` in as few statements as :func:`_execute` allows: one, unless two
    of them change the same row of an upserted table. PostgreSQL applies only one of two
    sub-statements' changes to one row of one statement and drops the other without an error
    (re-pricing: a row's run/model group adjusted in place and another row moved into it), so
    such a contribution starts a statement of its own."""
    statements: list[Statement] = []
    written: set[tuple] = set()
    for each in contributions:
        groups = set(each.upserted_groups())
        if groups & written:
            _execute(statements)
            statements, written = [], set()
        written |= groups
        statements += each.statements()
    _execute(statements)


def _sort_key(key: tuple) -> tuple:
    return tuple(str(part) for part in key)


MAX_PARAMETERS = 65_535  # PostgreSQL's limit per statement (the wire protocol's Int16 count)


def _execute(statements: Sequence[Statement]) -> None:
    """Run the statements as ONE: all but the last become data-modifying CTEs of the last
    (``WITH s0 AS (INSERT …), s1 AS (…) INSERT …``). They share one snapshot and write
    different tables (or different rows), which is what a CTE chain allows (:func:`_write`
    keeps contributions that would change one row apart). A batch too large
    for one statement's parameters (a re-pricing of thousands of rows) goes out in several."""
    batch: list[Statement] = []
    size = 0
    for statement in statements:
        if batch and size + len(statement.params) > MAX_PARAMETERS:
            _execute_together(batch)
            batch, size = [], 0
        batch.append(statement)
        size += len(statement.params)
    if batch:
        _execute_together(batch)


def _execute_together(statements: Sequence[Statement]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(*chained(statements))


def _insert(spec: RollupTable, rows: Sequence[tuple], only_if: str | None = None) -> Statement:
    """``INSERT`` the rows into ``spec``'s table (upserted unless append-only), from one JSON
    parameter read as the table's own row type (``jsonb_populate_recordset``), in the rows'
    order. With ``only_if`` (an SQL condition, such as "the generation's INSERT in this statement
    wrote its row"), only if it holds. Each of the tables fed from it (``spec.coarser``, theirs
    in turn) gets the rows it wrote grouped by its keys, by a reader of the rows it returns
    (:func:`coarser_insert`).

    One parameter, not a ``VALUES`` list of one per value: the statement's text stays the same
    size whatever the rows, so psycopg reuses its parsing, and a re-pricing batch no longer sent
    ~20,000 parameters a statement (psycopg spent 2.9 s of a 13.3 s profiled re-pricing of
    8,188 rows splitting those statements' text, ``docs/scale-plan.md``)."""
    columns = spec.columns
    valued = columns[: len(columns) - len(spec.stamps)]
    data = _json_rows([dict(zip(valued, row, strict=True)) for row in rows])
    sql = (
        f"INSERT INTO {spec.table} AS t ({', '.join(columns)}) "
        f"SELECT {', '.join([*valued, *['now()'] * len(spec.stamps)])} "
        f"FROM jsonb_populate_recordset(NULL::{spec.table}, %s::jsonb)"
    )
    if only_if:
        sql += f" WHERE {only_if}"
    params = [data]
    if not spec.append_only:
        assignments = [f"{name} = t.{name} + EXCLUDED.{name}" for name in spec.sums]
        assignments += [f"{name} = GREATEST(t.{name}, EXCLUDED.{name})" for name in spec.maxes]
        assignments.append("updated_at = EXCLUDED.updated_at")
        sql += f" ON CONFLICT ({', '.join(spec.keys)}) DO UPDATE SET " + ", ".join(assignments)
    readers = tuple(coarser_insert(spec, coarser, source=ROWS) for coarser in with_coarser(*spec.coarser))
    if readers:
        sql += f" RETURNING {', '.join(columns)}"
    return Statement(sql, params, readers)


_django_json_default = DjangoJSONEncoder().default


def _json_rows(rows: list[dict]) -> str:
    """The rows as the JSON text :func:`_insert` sends: what ``DjangoJSONEncoder`` writes (a
    Decimal as its exact text, a day as ``YYYY-MM-DD``), encoded by orjson (the standard library's
    encoder was 1.5 % of a single POST's worker time in the bench). A value orjson refuses (an
    integer past 64 bits) goes through the standard library's encoder, which wrote them all before."""
    try:
        encoded = orjson.dumps(rows, default=_django_json_default, option=orjson.OPT_PASSTHROUGH_DATETIME)
    except orjson.JSONEncodeError:
        return json.dumps(rows, cls=DjangoJSONEncoder)
    return encoded.decode()


def _update(spec: RollupTable, row: tuple, only_if: str | None = None) -> Statement:
    """Adjust an upserted table's existing group (a run/model's figures after an edit)."""
    keys = row[: len(spec.keys)]
    values = row[len(spec.keys) :]
    assignments = [f"{name} = {name} + %s" for name in spec.sums]
    assignments += [f"{name} = GREATEST({name}, %s)" for name in spec.maxes]
    where = " AND ".join([*(f"{name} = %s" for name in spec.keys), *([only_if] if only_if else [])])
    return Statement(
        f"UPDATE {spec.table} SET {', '.join(assignments)}, updated_at = now() WHERE {where}",
        [*values, *keys],
    )


# --- dimensions -------------------------------------------------------------------------------


class Names:
    """Canonical provider slugs and model names of rows, looked up once per batch.

    A row's model is the resolved ``AIModel.name`` when Inkwell knows the model, else the name
    the client sent; its provider the resolved slug, else the client's provider name.
    """

    def __init__(self, rows: Iterable[Any]):
        rows = list(rows)
        self.models = self._cached(rows, "model", AIModel, "name")
        self.providers = self._cached(rows, "provider", Provider, "slug")

    @staticmethod
    def _cached(rows, field_name: str, model, attribute: str) -> dict[int, str]:
        known: dict[int, str] = {}
        missing = set()
        for row in rows:
            pk = getattr(row, f"{field_name}_id")
            if pk is None:
                continue
            descriptor = type(row)._meta.get_field(field_name)
            if descriptor.is_cached(row):
                known[pk] = getattr(getattr(row, field_name), attribute)
            else:
                missing.add(pk)
        if missing - set(known):
            known.update(model.objects.filter(pk__in=missing - set(known)).values_list("pk", attribute))
        return known

    def model(self, row) -> str:
        return self.models.get(row.model_id) or row.model_name or ""

    def provider(self, row) -> str:
        return self.providers.get(row.provider_id) or row.provider_name or ""


def _utc_day(moment: datetime.datetime) -> datetime.date:
    return moment.astimezone(UTC).date()


def _utc_hour(moment: datetime.datetime) -> datetime.datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


# --- generations --------------------------------------------------------------------------------


def _generation_measures(values: dict[str, Any]) -> dict[str, Any]:
    status = values["status"]
    cost = values["cost_usd"]
    cost_status = values["cost_status"]
    latency = values["generation_time_ms"]
    measures = {name: values[name] or 0 for name in TOKEN_FIELDS}
    measures.update(
        requests=1,
        successes=int(status == GenerationStatus.SUCCESS),
        partials=int(status == GenerationStatus.PARTIAL),
        failures=int(status == GenerationStatus.FAILED),
        cancelled=int(status == GenerationStatus.CANCELLED),
        cost_usd=cost if cost is not None else Decimal(0),
        unpriced_requests=int(cost_status == CostStatus.UNPRICED),
        no_usage_requests=int(cost_status == CostStatus.NO_USAGE),
        latency_ms_sum=latency or 0,
        latency_count=int(latency is not None),
        latency_ms_max=latency,
    )
    return measures


def _performance_measures(measures: dict[str, Any]) -> dict[str, Any]:
    return {
        "requests": measures["requests"],
        "successes": measures["successes"],
        "items_generated": measures["successes"] + measures["partials"],
        "failures": measures["failures"],
        "input_tokens": measures["input_tokens"],
        "output_tokens": measures["output_tokens"],
        "total_tokens": measures["total_tokens"],
        "cost_usd": measures["cost_usd"],
        "unpriced_requests": measures["unpriced_requests"],
        "response_time_ms_sum": measures["latency_ms_sum"],
        "response_time_count": measures["latency_count"],
        "response_time_ms_max": measures["latency_ms_max"],
    }


_GENERATION_VALUES = ("status", "cost_usd", "cost_status", "generation_time_ms", *TOKEN_FIELDS)


def _daily_group(row: Generation | ProviderCall, at: datetime.datetime, names: Names) -> tuple:
    """The group keys the generation and provider-call daily rollups share (``MODEL_KEYS`` and
    ``user_ref``) of a row that happened ``at``."""
    return (
        row.organization_id,
        _utc_day(at),
        names.provider(row),
        names.model(row),
        row.content_type or "",
        row.user_ref or "",
    )


def generation_group(generation: Generation, names: Names) -> tuple:
    """The daily-rollup group of a generation (by the day it was recorded)."""
    return _daily_group(generation, generation.created_at, names)


def rollups_count_generations(
    *,
    organization: Organization,
    generations: Sequence[Generation],
    action: str,
    previous: dict[int, dict[str, Any]] | None = None,
    written_with: WrittenWith | None = None,
) -> None:
    """Add ``generations`` to the daily rollup and to their runs' model performance.

    ``action`` is ``generations_recorded``'s: ``created`` adds each row, ``updated`` adds the
    difference against ``previous[id]`` (the counted fields before the change); ``deleted``
    and ``restored`` change nothing. Runs in the caller's transaction; or, given
    ``written_with`` (a generation not yet inserted), adds its statements there, to be written
    in the generation's own INSERT statement and only if that writes the row.
    """
    if action not in (RecordedAction.CREATED, RecordedAction.UPDATED) or not generations:
        return
    previous = previous or {}
    names = Names(generations)
    daily = Contributions(GENERATION_ROLLUP, adjusting=action == RecordedAction.UPDATED)
    runs = Contributions(MODEL_PERFORMANCE, adjusting=action == RecordedAction.UPDATED)
    lowered: list[tuple[tuple, int | None]] = []  # groups whose latency maximum may have dropped
    for generation in generations:
        if generation.organization_id != organization.pk:
            raise ValueError("generations_recorded carried another organization's generation.")
        now_values = {name: getattr(generation, name) for name in _GENERATION_VALUES}
        deltas = [(now_values, 1)]
        if action == RecordedAction.UPDATED:
            before = previous.get(generation.pk)
            if before is None:
                continue
            deltas.append(({**now_values, **{k: v for k, v in before.items() if k in now_values}}, -1))
            old_time, new_time = before.get("generation_time_ms"), generation.generation_time_ms
            if old_time is not None and (new_time is None or new_time < old_time):
                lowered.append((generation_group(generation, names), generation.run_id))
        group = generation_group(generation, names)
        for values, sign in deltas:
            measures = _generation_measures(values)
            daily.add(group, measures, sign=sign)
            if generation.run_id is not None:
                runs.add(
                    (organization.pk, generation.run_id, group[2], group[3]),
                    _performance_measures(measures),
                    sign=sign,
                )
    if written_with is not None:
        if lowered:
            raise ValueError("A generation not yet written has no latency maximum to lower.")
        condition = written_with.condition
        written_with.statements += [*daily.statements(condition), *runs.statements(condition)]
        return
    # One statement: the daily deltas and the run/model upserts together.
    _write(daily, runs)
    for group, run_id in sorted(lowered, key=lambda item: _sort_key((*item[0], item[1]))):
        _recompute_latency_maxima(group, run_id)


def _recompute_latency_maxima(group: tuple, run_id: int | None) -> None:
    """Bring the latency maxima of a daily group (and its run/model group) down to the maximum
    of the raw rows, after a generation's time went down: a MAX over delta rows cannot drop.

    Every visible row of the group is clamped to the recomputed maximum (``LEAST``; NULL when
    no generation of the group has a time). The group's true maximum is then exact: the edit's
    own delta row carries the new time, so some row is at least the recomputed value. Rows of
    concurrent, uncommitted ingests are not clamped and need not be: their times are real. Two
    edits lowering times in one group would each compute without the other's uncommitted
    change, so a transaction-level advisory lock per group makes the second wait for the first's
    commit (its statement then sees it). The run/model row is unique: its row lock does that.
    """
    organization_id, day, provider, model, content_type, user_ref = group
    start, end = _bounds(day, day)
    same_group = (
        "g.organization_id = %s AND COALESCE(p.slug, g.provider_name) = %s "
        "AND COALESCE(m.name, g.model_name) = %s"
    )
    joins = (
        f"FROM {GENERATIONS} g LEFT JOIN {AI_MODELS} m ON m.id = g.model_id "
        f"LEFT JOIN {PROVIDERS} p ON p.id = g.provider_id"
    )
    clamp = "(SELECT CASE WHEN m.v IS NULL THEN NULL ELSE LEAST(latency_ms_max, m.v) END FROM m)"
    same_model_group = (
        "organization_id = %s AND day = %s AND provider_name = %s AND model_name = %s "
        "AND content_type = %s AND latency_ms_max IS NOT NULL"
    )
    in_day = "g.content_type = %s AND g.created_at >= %s AND g.created_at < %s"
    with connection.cursor() as cursor:
        # The per-model group contains the per-user one: its lock covers both.
        lock_until_commit(f"{GENERATION_MODEL_ROLLUP.table}|" + "|".join(str(part) for part in group[:5]))
        cursor.execute(
            f"WITH m AS (SELECT max(g.generation_time_ms) AS v {joins} WHERE {same_group} "
            f"AND {in_day} AND COALESCE(g.user_ref, '') = %s) "
            f"UPDATE {GENERATION_ROLLUP.table} SET latency_ms_max = {clamp} "
            f"WHERE {same_model_group} AND user_ref = %s",
            [organization_id, provider, model, content_type, start, end, user_ref, *group],
        )
        cursor.execute(
            f"WITH m AS (SELECT max(g.generation_time_ms) AS v {joins} WHERE {same_group} AND {in_day}) "
            f"UPDATE {GENERATION_MODEL_ROLLUP.table} SET latency_ms_max = {clamp} WHERE {same_model_group}",
            [organization_id, provider, model, content_type, start, end, *group[:5]],
        )
        if run_id is not None:
            cursor.execute(
                f"UPDATE {MODEL_PERFORMANCE.table} SET response_time_ms_max = "
                f"(SELECT max(g.generation_time_ms) {joins} WHERE {same_group} AND g.run_id = %s) "
                "WHERE organization_id = %s AND run_id = %s AND provider_name = %s AND model_name = %s",
                [organization_id, provider, model, run_id, organization_id, run_id, provider, model],
            )


def rollups_count_metric(*, metric: PerformanceMetric, generation: Generation) -> None:
    """Add a performance metric's cache hit and retries to its generation's daily group."""
    daily = Contributions(GENERATION_ROLLUP)
    daily.add(
        generation_group(generation, Names([generation])),
        {
            "cache_hits": int(metric.cache_hit),
            "retries": metric.retry_count,
            "retried_requests": int(metric.retry_count > 0),
        },
    )
    daily.write()


# --- provider calls -----------------------------------------------------------------------------


def provider_call_group(call: ProviderCall, names: Names) -> tuple:
    """The daily-rollup group of a provider call (by the day it was made), per credential too."""
    return (*_daily_group(call, call.occurred_at, names), call.key_fingerprint or "")


def _provider_call_measures(call: ProviderCall) -> dict[str, Any]:
    measures = {name: getattr(call, name) or 0 for name in TOKEN_FIELDS}
    measures.update(
        requests=1,
        successes=int(call.success),
        failures=int(not call.success),
        cost_usd=call.cost_usd if call.cost_usd is not None else Decimal(0),
        unpriced_requests=int(call.cost_status == CostStatus.UNPRICED),
        no_usage_requests=int(call.cost_status == CostStatus.NO_USAGE),
        latency_ms_sum=call.api_latency_ms or 0,
        latency_count=int(call.api_latency_ms is not None),
        latency_ms_max=call.api_latency_ms,
        slow_requests=int((call.api_latency_ms or 0) > SLOW_CALL_MS),
    )
    standalone = not call.recorded_with_generation  # budgets count a linked call's generation
    measures.update(
        standalone_requests=int(standalone),
        standalone_cost_usd=measures["cost_usd"] if standalone else Decimal(0),
    )
    if not call.success:
        measures[ERROR_TYPE_COLUMNS[call.error_type]] = 1
    return measures


def rollups_count_provider_calls(
    *, calls: Sequence[ProviderCall], written_with: WrittenWith | None = None
) -> None:
    """Add provider calls to the daily rollup and, per user, to the hourly and per-user daily
    ones (in the caller's transaction; or, given ``written_with``, a call not yet inserted, in
    the statement that inserts it, as :func:`rollups_count_generations`)."""
    names = Names(calls)
    daily = Contributions(PROVIDER_CALL_ROLLUP)
    hourly = Contributions(USER_HOURLY)
    user_daily = Contributions(USER_DAILY)
    for call in calls:
        daily.add(provider_call_group(call, names), _provider_call_measures(call))
        if call.user_ref:
            counts = {"requests": 1, "rate_limited": int(call.error_type == ErrorType.RATE_LIMIT)}
            hourly.add((call.organization_id, _utc_hour(call.occurred_at), call.user_ref), counts)
            # Each call may have fallen in the day's busiest hour: it raises the bound by one.
            user_daily.add(
                (call.organization_id, _utc_day(call.occurred_at), call.user_ref),
                {**counts, "busiest_hour_bound": 1},
            )
    if written_with is not None:
        condition = written_with.condition
        written_with.statements += [
            *daily.statements(condition),
            *hourly.statements(condition),
            *user_daily.statements(condition),
        ]
        return
    _write(daily, hourly, user_daily)


# --- re-pricing -----------------------------------------------------------------------------------


def _moved(spec_same, spec_out, spec_in, old_group, new_group, old_measures, new_measures) -> None:
    if old_group == new_group:
        spec_same.add(new_group, old_measures, sign=-1)
        spec_same.add(new_group, new_measures)
    else:
        spec_out.add(old_group, old_measures, sign=-1)
        spec_in.add(new_group, new_measures)


def rollups_reprice(
    *,
    generations: Sequence[tuple[Generation, Generation]] = (),
    calls: Sequence[tuple[ProviderCall, ProviderCall]] = (),
) -> None:
    """Move the rollups by the exact difference re-pricing made: each pair is (the row as it
    was, the row as it is now). A row whose model was resolved only now also moves from the
    group of the name the client sent to its canonical model's group. Runs in the caller's
    transaction, so the rollups commit with the new costs."""
    if generations:
        old_names = Names([old for old, _ in generations])
        new_names = Names([new for _, new in generations])
        daily = [
            Contributions(GENERATION_ROLLUP, adjusting=True),
            Contributions(GENERATION_ROLLUP, adjusting=True),
        ]
        daily_in = Contributions(GENERATION_ROLLUP)
        runs = [
            Contributions(MODEL_PERFORMANCE, adjusting=True),
            Contributions(MODEL_PERFORMANCE, adjusting=True),
        ]
        runs_in = Contributions(MODEL_PERFORMANCE)
        for old, new in generations:
            old_measures = _generation_measures({name: getattr(old, name) for name in _GENERATION_VALUES})
            new_measures = _generation_measures({name: getattr(new, name) for name in _GENERATION_VALUES})
            # The latency maximum did not change; leave it out of the deltas.
            old_measures["latency_ms_max"] = new_measures["latency_ms_max"] = None
            old_group, new_group = generation_group(old, old_names), generation_group(new, new_names)
            _moved(daily[0], daily[1], daily_in, old_group, new_group, old_measures, new_measures)
            if new.run_id is not None:
                _moved(
                    runs[0],
                    runs[1],
                    runs_in,
                    (old.organization_id, old.run_id, old_group[2], old_group[3]),
                    (new.organization_id, new.run_id, new_group[2], new_group[3]),
                    _performance_measures(old_measures),
                    _performance_measures(new_measures),
                )
        # A row resolved into a run's group that another row of the batch adjusts in place
        # makes two of these write one ModelPerformance row: _write sends them apart.
        _write(*daily, daily_in, *runs, runs_in)
    if calls:
        old_names = Names([old for old, _ in calls])
        new_names = Names([new for _, new in calls])
        same, out = (
            Contributions(PROVIDER_CALL_ROLLUP, adjusting=True),
            Contributions(PROVIDER_CALL_ROLLUP, adjusting=True),
        )
        into = Contributions(PROVIDER_CALL_ROLLUP)
        for old, new in calls:
            old_measures, new_measures = _provider_call_measures(old), _provider_call_measures(new)
            old_measures["latency_ms_max"] = new_measures["latency_ms_max"] = None
            _moved(
                same,
                out,
                into,
                provider_call_group(old, old_names),
                provider_call_group(new, new_names),
                old_measures,
                new_measures,
            )
        _write(same, out, into)


# --- rebuild ------------------------------------------------------------------------------------


def _daily_group_sql(alias: str, at: str) -> str:
    """:func:`_daily_group` in SQL, over rows ``alias`` joined to their model ``m`` and provider
    ``p``, so that a rebuild groups rows exactly as counting them one by one does."""
    return f"""{alias}.organization_id,
               ({alias}.{at} AT TIME ZONE 'UTC')::date,
               COALESCE(p.slug, {alias}.provider_name),
               COALESCE(m.name, {alias}.model_name),
               {alias}.content_type,
               COALESCE({alias}.user_ref, '')"""


def _generation_rollup_select(where: str) -> str:
    """Aggregate generations (and their metrics) into daily-rollup rows; ``where`` filters ``g``."""
    return f"""
        SELECT {_daily_group_sql("g", "created_at")},
               count(*),
               count(*) FILTER (WHERE g.status = '{GenerationStatus.SUCCESS.value}'),
               count(*) FILTER (WHERE g.status = '{GenerationStatus.PARTIAL.value}'),
               count(*) FILTER (WHERE g.status = '{GenerationStatus.FAILED.value}'),
               count(*) FILTER (WHERE g.status = '{GenerationStatus.CANCELLED.value}'),
               sum(g.input_tokens), sum(g.output_tokens), sum(g.cache_read_tokens),
               sum(g.cache_write_tokens), sum(g.total_tokens),
               COALESCE(sum(g.cost_usd), 0),
               count(*) FILTER (WHERE g.cost_status = 'unpriced'),
               count(*) FILTER (WHERE g.cost_status = 'no_usage'),
               count(*) FILTER (WHERE pm.cache_hit),
               COALESCE(sum(pm.retry_count), 0),
               count(*) FILTER (WHERE pm.retry_count > 0),
               COALESCE(sum(g.generation_time_ms), 0),
               count(g.generation_time_ms),
               max(g.generation_time_ms),
               now()
          FROM {GENERATIONS} g
          LEFT JOIN {AI_MODELS} m ON m.id = g.model_id
          LEFT JOIN {PROVIDERS} p ON p.id = g.provider_id
          LEFT JOIN {METRICS} pm ON pm.generation_id = g.id
         WHERE {where}
         GROUP BY 1, 2, 3, 4, 5, 6
    """


def _provider_call_rollup_select(where: str) -> str:
    error_counts = ",\n".join(
        f"count(*) FILTER (WHERE NOT c.success AND c.error_type = '{error_type.value}')"
        for error_type in ERROR_TYPE_COLUMNS
    )
    return f"""
        SELECT {_daily_group_sql("c", "occurred_at")},
               c.key_fingerprint,
               count(*),
               count(*) FILTER (WHERE c.success),
               count(*) FILTER (WHERE NOT c.success),
               {error_counts},
               sum(c.input_tokens), sum(c.output_tokens), sum(c.cache_read_tokens),
               sum(c.cache_write_tokens), sum(c.total_tokens),
               COALESCE(sum(c.cost_usd), 0),
               count(*) FILTER (WHERE c.cost_status = 'unpriced'),
               count(*) FILTER (WHERE c.cost_status = 'no_usage'),
               COALESCE(sum(c.api_latency_ms), 0),
               count(c.api_latency_ms),
               count(*) FILTER (WHERE c.api_latency_ms > {SLOW_CALL_MS}),
               count(*) FILTER (WHERE NOT c.recorded_with_generation),
               COALESCE(sum(c.cost_usd) FILTER (WHERE NOT c.recorded_with_generation), 0),
               max(c.api_latency_ms),
               now()
          FROM {PROVIDER_CALLS} c
          LEFT JOIN {AI_MODELS} m ON m.id = c.model_id
          LEFT JOIN {PROVIDERS} p ON p.id = c.provider_id
         WHERE {where}
         GROUP BY 1, 2, 3, 4, 5, 6, 7
    """


def _user_hourly_select(where: str) -> str:
    return f"""
        SELECT c.organization_id,
               date_trunc('hour', c.occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
               c.user_ref,
               count(*),
               count(*) FILTER (WHERE c.error_type = '{ErrorType.RATE_LIMIT.value}'),
               now()
          FROM {PROVIDER_CALLS} c
         WHERE c.user_ref IS NOT NULL AND {where}
         GROUP BY 1, 2, 3
    """


def _user_daily_columns() -> str:
    """The columns :func:`_user_daily_select` gives: ``USER_DAILY``'s, and ``folded`` (deltas
    leave it to its database default, false)."""
    return f"{_columns(USER_DAILY)}, folded"


def _user_daily_select(where: str) -> str:
    """``USER_DAILY``'s rows from the hourly rollup's rows (``where`` filters them by
    organization and hour): each user-day's sums, and its busiest hour's exact count as the
    bound, marked folded. Its columns: :func:`_user_daily_columns`."""
    return f"""
        SELECT organization_id, (hour AT TIME ZONE 'UTC')::date, user_ref,
               sum(requests), sum(rate_limited), max(requests), now(), true
          FROM (SELECT organization_id, hour, user_ref, sum(requests) AS requests,
                       sum(rate_limited) AS rate_limited
                  FROM {USER_HOURLY.table}
                 WHERE {where}
                 GROUP BY organization_id, hour, user_ref) hourly
         GROUP BY 1, 2, 3
        HAVING sum(requests) <> 0
    """


def _model_performance_select(where: str) -> str:
    return f"""
        SELECT g.organization_id, g.run_id,
               COALESCE(p.slug, g.provider_name),
               COALESCE(m.name, g.model_name),
               count(*),
               count(*) FILTER (WHERE g.status = '{GenerationStatus.SUCCESS.value}'),
               count(*) FILTER (WHERE g.status IN ({SUCCEEDED})),
               count(*) FILTER (WHERE g.status = '{GenerationStatus.FAILED.value}'),
               sum(g.input_tokens), sum(g.output_tokens), sum(g.total_tokens),
               COALESCE(sum(g.cost_usd), 0),
               count(*) FILTER (WHERE g.cost_status = 'unpriced'),
               COALESCE(sum(g.generation_time_ms), 0),
               count(g.generation_time_ms),
               max(g.generation_time_ms),
               now(), now()
          FROM {GENERATIONS} g
          LEFT JOIN {AI_MODELS} m ON m.id = g.model_id
          LEFT JOIN {PROVIDERS} p ON p.id = g.provider_id
         WHERE {where}
         GROUP BY 1, 2, 3, 4
    """


def _columns(spec: RollupTable) -> str:
    return ", ".join(spec.columns)


@dataclass
class RebuildResult:
    """What a rebuild did, per organization: the days rebuilt and the days kept as they were."""

    organizations: int = 0
    generation_groups: int = 0
    provider_call_groups: int = 0
    run_groups: int = 0
    skipped: dict[str, tuple[datetime.date, datetime.date]] = field(default_factory=dict)


def rebuild_floor(*, organization: Organization) -> datetime.date | None:
    """The last day whose raw rows retention may have removed: rebuilds start after it."""
    newest = RetentionBatch.objects.filter(
        organization=organization, target__in=REBUILD_FLOOR_TARGETS
    ).aggregate(newest=Max("newest_at"))["newest"]
    return _utc_day(newest) if newest else None


def _bounds(first: datetime.date, last: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    start = datetime.datetime.combine(first, datetime.time.min, tzinfo=UTC)
    end = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time.min, tzinfo=UTC)
    return start, end


def coarser_insert(
    spec: RollupTable, coarser: RollupTable, where: str | None = None, *, source: str | None = None
) -> str:
    """``INSERT`` into ``coarser`` (one of the tables fed from ``spec``) ``spec``'s rows grouped by
    its keys: those of ``spec``'s table (``where`` filters them; a rebuild), or ``source``'s, the
    rows a statement of the same chain wrote into it (an ingest's deltas), of which groups
    summing to nothing are left out, as :meth:`Contributions.statements` leaves out its own."""
    keys = ", ".join(coarser.keys)
    aggregates = ", ".join(
        [f"sum({name})" for name in coarser.sums]
        + [f"max({name})" for name in (*coarser.maxes, *coarser.stamps)]
    )
    select = f"SELECT {keys}, {aggregates} FROM {source or spec.table}"
    if where:
        select += f" WHERE {where}"
    select += f" GROUP BY {keys}"
    if source:
        select += f" HAVING {_not_empty(coarser)}"
    return f"INSERT INTO {coarser.table} ({_columns(coarser)}) {select}"


def _not_empty(spec: RollupTable) -> str:
    """A ``HAVING`` condition true for a group of ``spec``'s rows with a figure that is not
    nothing: a sum other than zero, or a maximum."""
    return " OR ".join(
        [f"sum({name}) <> 0" for name in spec.sums] + [f"max({name}) IS NOT NULL" for name in spec.maxes]
    )


def _rebuild_coarser(cursor, spec: RollupTable, organization, date_from, date_to) -> None:
    """Replace the coarser tables' rows of the range by an aggregation of ``spec``'s (just
    rebuilt, so exact), then their own coarser tables' from theirs."""
    in_range = "organization_id = %s AND day >= %s AND day <= %s"
    for coarser in spec.coarser:
        cursor.execute(f"DELETE FROM {coarser.table} WHERE {in_range}", [organization.pk, date_from, date_to])
        cursor.execute(coarser_insert(spec, coarser, in_range), [organization.pk, date_from, date_to])
        _rebuild_coarser(cursor, coarser, organization, date_from, date_to)


@transaction.atomic
def rollup_rebuild_organization(
    *, organization: Organization, date_from: datetime.date, date_to: datetime.date
) -> tuple[int, int, int]:
    """Replace ``organization``'s rollups of ``[date_from, date_to]`` (UTC days) by an
    aggregation of its raw rows, in one transaction. Returns the groups written (generations
    per day, provider calls per day, run/model). The caller keeps the range after
    :func:`rebuild_floor`."""
    start, end = _bounds(date_from, date_to)
    with connection.cursor() as cursor:
        # Same order as ingestion takes them: generations' rollup, model performance, then the
        # provider calls' daily and per-user hourly rollups.
        cursor.execute(
            "LOCK TABLE "
            + ", ".join(
                spec.table
                for spec in (
                    *GENERATION_DAILY_ROLLUPS,
                    MODEL_PERFORMANCE,
                    *PROVIDER_CALL_DAILY_ROLLUPS,
                    USER_HOURLY,
                    USER_DAILY,
                )
            )
            + " IN SHARE ROW EXCLUSIVE MODE"
        )
        cursor.execute(
            f"DELETE FROM {GENERATION_ROLLUP.table} WHERE organization_id = %s AND day >= %s AND day <= %s",
            [organization.pk, date_from, date_to],
        )
        cursor.execute(
            f"INSERT INTO {GENERATION_ROLLUP.table} ({_columns(GENERATION_ROLLUP)}) "
            + _generation_rollup_select(
                "g.organization_id = %s AND g.created_at >= %s AND g.created_at < %s"
            ),
            [organization.pk, start, end],
        )
        daily = cursor.rowcount
        _rebuild_coarser(cursor, GENERATION_ROLLUP, organization, date_from, date_to)
        # A run's figures cover all its generations: every run with a generation in the range is
        # rebuilt whole, from all of its generations.
        runs_in_range = (
            f"SELECT DISTINCT run_id FROM {GENERATIONS} WHERE organization_id = %s "
            "AND run_id IS NOT NULL AND created_at >= %s AND created_at < %s"
        )
        cursor.execute(
            f"DELETE FROM {MODEL_PERFORMANCE.table} "
            f"WHERE organization_id = %s AND run_id IN ({runs_in_range})",
            [organization.pk, organization.pk, start, end],
        )
        cursor.execute(
            f"INSERT INTO {MODEL_PERFORMANCE.table} ({_columns(MODEL_PERFORMANCE)}) "
            + _model_performance_select(f"g.organization_id = %s AND g.run_id IN ({runs_in_range})"),
            [organization.pk, organization.pk, start, end],
        )
        runs = cursor.rowcount
        cursor.execute(
            f"DELETE FROM {PROVIDER_CALL_ROLLUP.table} "
            "WHERE organization_id = %s AND day >= %s AND day <= %s",
            [organization.pk, date_from, date_to],
        )
        calls_in_range = "c.organization_id = %s AND c.occurred_at >= %s AND c.occurred_at < %s"
        cursor.execute(
            f"INSERT INTO {PROVIDER_CALL_ROLLUP.table} ({_columns(PROVIDER_CALL_ROLLUP)}) "
            + _provider_call_rollup_select(calls_in_range),
            [organization.pk, start, end],
        )
        calls = cursor.rowcount
        _rebuild_coarser(cursor, PROVIDER_CALL_ROLLUP, organization, date_from, date_to)
        cursor.execute(
            f"DELETE FROM {USER_HOURLY.table} WHERE organization_id = %s AND hour >= %s AND hour < %s",
            [organization.pk, start, end],
        )
        cursor.execute(
            f"INSERT INTO {USER_HOURLY.table} ({_columns(USER_HOURLY)}) "
            + _user_hourly_select(calls_in_range),
            [organization.pk, start, end],
        )
        # From the hourly rows just rebuilt: the per-user days with their busiest hours.
        cursor.execute(
            f"DELETE FROM {USER_DAILY.table} WHERE organization_id = %s AND day >= %s AND day <= %s",
            [organization.pk, date_from, date_to],
        )
        cursor.execute(
            f"INSERT INTO {USER_DAILY.table} ({_user_daily_columns()}) "
            + _user_daily_select("organization_id = %s AND hour >= %s AND hour < %s"),
            [organization.pk, start, end],
        )
    return daily, calls, runs


def rollup_rebuild(
    *,
    date_from: datetime.date,
    date_to: datetime.date,
    organizations: Iterable[Organization] | None = None,
    progress=None,
) -> RebuildResult:
    """Rebuild the rollups of ``[date_from, date_to]`` for each organization (all by default),
    one transaction per organization; idempotent. Days retention already archived raw rows of
    are kept as they are and reported in ``skipped``. ``progress`` is called once per
    organization (a tqdm ``update``)."""
    if date_to < date_from:
        raise ValueError("date_to is before date_from.")
    result = RebuildResult()
    for organization in organizations if organizations is not None else Organization.objects.order_by("pk"):
        floor = rebuild_floor(organization=organization)
        first = date_from
        if floor is not None and floor >= date_from:
            first = floor + datetime.timedelta(days=1)
            result.skipped[organization.slug] = (date_from, min(floor, date_to))
        if first <= date_to:
            daily, calls, runs = rollup_rebuild_organization(
                organization=organization, date_from=first, date_to=date_to
            )
            result.generation_groups += daily
            result.provider_call_groups += calls
            result.run_groups += runs
        result.organizations += 1
        if progress is not None:
            progress(1)
    return result


# --- GDPR --------------------------------------------------------------------------------------


def rollups_anonymise_user(*, organization: Organization, user_ref: str) -> int:
    """Relabel ``user_ref``'s daily rollup rows anonymous (``user_ref = ''``): they join the
    anonymous groups as more delta rows, so totals stay and the user disappears; their per-hour
    and per-day request counts (the rate-limit report's, which counts users only) are deleted.
    Under the fold lock, so a fold running meanwhile cannot bring them back. Returns rows
    relabelled or deleted."""
    if not user_ref:
        raise ValueError("Name the user reference to anonymise.")
    moved = 0
    with transaction.atomic(), connection.cursor() as cursor:
        # A fold running meanwhile would put the user's rows back: its statement's snapshot,
        # taken before this commits, still holds them (the per-user daily fold recomputes its
        # rows from that snapshot's hourly rows), or these statements' snapshots, taken before
        # the fold commits, do not hold the rows it inserts. Folds take this lock too.
        _lock_folds()
        for spec in (*GENERATION_DAILY_ROLLUPS, *PROVIDER_CALL_DAILY_ROLLUPS):
            if "user_ref" not in spec.keys:
                continue  # no user in it: nothing to relabel
            cursor.execute(
                f"UPDATE {spec.table} SET user_ref = '', updated_at = now() "
                "WHERE organization_id = %s AND user_ref = %s",
                [organization.pk, user_ref],
            )
            moved += cursor.rowcount
        for spec in (USER_HOURLY, USER_DAILY):
            cursor.execute(
                f"DELETE FROM {spec.table} WHERE organization_id = %s AND user_ref = %s",
                [organization.pk, user_ref],
            )
            moved += cursor.rowcount
    return moved


# --- folding ------------------------------------------------------------------------------------

FOLDED = (
    *GENERATION_DAILY_ROLLUPS,
    *PROVIDER_CALL_DAILY_ROLLUPS,
    USER_HOURLY,
    USER_DAILY,
    CACHE_STATS,
)


def _lock_folds() -> None:
    """Wait for, then hold until the transaction ends, the lock that serialises folds with each
    other and with :func:`rollups_anonymise_user`: each of them deletes rows and inserts rows
    computed from a snapshot, and two at once lose each other's changes (see both). Exclusive
    for all: folds run from one periodic job anyway, a purge is rare and may wait for one fold
    statement, and a transaction holding a shared lock that later asked for the exclusive one
    could deadlock with another doing the same."""
    lock_until_commit(f"rollup-folds:{USER_DAILY.table}")


def _fold_statement(spec: RollupTable, *, every_organization: bool = False) -> str:
    """One statement that replaces the rows of a range by one row per group (see the module
    docstring) and selects (rows before, rows after). Parameters: organization id (unless
    ``every_organization``), first and last day (for the hourly rollup: first hour, and the hour
    after the last day)."""
    time = spec.keys[1]
    where = f"{time} >= %s AND {time} {'<' if time == 'hour' else '<='} %s"
    if not every_organization:
        where = f"organization_id = %s AND {where}"
    sums = ", ".join(f"sum({name})" for name in spec.sums)
    maxes = "".join(f", max({name})" for name in spec.maxes)
    stamps = "".join(f", max({name})" for name in spec.stamps)
    keys = ", ".join(spec.keys)
    return (
        f"WITH d AS (DELETE FROM {spec.table} WHERE {where} RETURNING *), "
        f"i AS (INSERT INTO {spec.table} ({_columns(spec)}) "
        f"SELECT {keys}, {sums}{maxes}{stamps} FROM d GROUP BY {keys} HAVING {_not_empty(spec)} RETURNING 1) "
        "SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM i)"
    )


def _user_daily_fold_statement(*, every_organization: bool = False) -> str:
    """The per-user daily rollup's fold: its rows of the range replaced by rows recomputed from
    the hourly rollup's (:func:`_user_daily_select`), in one statement and so one snapshot: a
    delta committed after it started is in neither what it deletes nor what it reads, and stays
    as it is. Parameters: organization id (unless ``every_organization``), first and last day,
    organization id again, first hour and the hour after the last day."""
    owner = "" if every_organization else "organization_id = %s AND "
    return (
        f"WITH d AS (DELETE FROM {USER_DAILY.table} WHERE {owner}day >= %s AND day <= %s RETURNING 1), "
        f"i AS (INSERT INTO {USER_DAILY.table} ({_user_daily_columns()}) "
        f"{_user_daily_select(f'{owner}hour >= %s AND hour < %s')} RETURNING 1) "
        "SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM i)"
    )


def rollups_fold(
    *, organization: Organization | None, date_from: datetime.date, date_to: datetime.date
) -> dict[str, tuple[int, int]]:
    """Compact ``organization``'s (``None``: every organization's) rollup rows of
    ``[date_from, date_to]`` (UTC days) into one row per group, one statement per table, each
    in a transaction of its own under the fold lock (:func:`_lock_folds`). Reports read the same
    figures before and after. Returns per table (rows before, rows after).
    """
    if date_to < date_from:
        raise ValueError("date_to is before date_from.")
    hour_from, hour_to = _bounds(date_from, date_to)
    result = {}
    owner = [] if organization is None else [organization.pk]
    with connection.cursor() as cursor:
        for spec in FOLDED:
            if spec is USER_DAILY:
                continue
            bounds = [hour_from, hour_to] if spec.keys[1] == "hour" else [date_from, date_to]
            with transaction.atomic():
                _lock_folds()
                cursor.execute(
                    _fold_statement(spec, every_organization=organization is None), [*owner, *bounds]
                )
                result[spec.table] = cursor.fetchone()
        # Its inserts do not come from the rows it deletes: two folds of one range at once would
        # both insert. The lock makes the second wait, and its fold (a statement of its own, so
        # a snapshot taken after the first committed) then replaces the first's rows by the same.
        with transaction.atomic():
            _lock_folds()
            cursor.execute(
                _user_daily_fold_statement(every_organization=organization is None),
                [*owner, date_from, date_to, *owner, hour_from, hour_to],
            )
            result[USER_DAILY.table] = cursor.fetchone()
    return result


def rollups_unfolded(
    *, date_from: datetime.date, date_to: datetime.date, organization: Organization | None = None
) -> dict[str, int]:
    """How many rows folding ``[date_from, date_to]`` of ``organization`` (``None``: every
    organization) would remove, per table (a dry run)."""
    hour_from, hour_to = _bounds(date_from, date_to)
    counts = {}
    with connection.cursor() as cursor:
        for spec in FOLDED:
            time = spec.keys[1]
            where = f"{time} >= %s AND {time} {'<' if time == 'hour' else '<='} %s"
            params = [hour_from, hour_to] if time == "hour" else [date_from, date_to]
            if organization is not None:
                where += " AND organization_id = %s"
                params.append(organization.pk)
            cursor.execute(
                f"SELECT count(*) - (SELECT count(*) FROM (SELECT DISTINCT {', '.join(spec.keys)} "
                f"FROM {spec.table} WHERE {where}) k) FROM {spec.table} WHERE {where}",
                [*params, *params],
            )
            counts[spec.table] = cursor.fetchone()[0]
    return counts
