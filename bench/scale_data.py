"""The dataset builder of ``bench/scale.py`` (also used by ``tests/test_scale.py``).

Everything is written with SQL (``INSERT … SELECT … FROM generate_series``), never through the
API or the ORM's row-by-row paths: every column of a generated row is a pure function of its
series number ``i`` (a seeded hash gives the "random" draws), so generations, their provider
calls, runs, metrics and tree children can be written by independent statements, in parallel,
and always agree with one another.

Shape (``rows`` = N):

- 1,000 organizations (``organizations``) with a Zipf-like skew: the organization of a row is
  rank ``floor(exp(u**1.5 * ln(orgs + 1)))``, so rank 1 holds ~20 % of the rows, the top ten
  ~55 %, and the median organization a few thousand rows per ten million;
- N generations over the 365 days before today (UTC), written in time order as a live system
  would (organizations interleaved), with 200 Zipf-distributed users (40 % without a user),
  six content types, a handful of real catalogue models (2 % unknown, hence unpriced),
  statuses (90 % success, 5 % failed …), 0.5 % soft-deleted; groups of three consecutive rows
  belong to one organization and one group in eight is a multi-model run;
- trees: one root in 20 gets a revision and one in 60 a variant of that revision (so 1/16 of
  the rows are tree children), plus one 500-node tree in the biggest organization;
- N provider calls, one per root generation (same organization, time, model, user) and a
  retry for every ~15th (as many as reach N calls), 5 % failed,
  three provider-key fingerprints per organization;
- a performance metric for one generation in five (30 % cache hits, some retries);
- one campaign per organization (10 % of generations in it), ``rows / 100`` cache entries;
- the rollups built from the raw rows with the project's own rebuild SELECTs (``analytics.rollups``).

Loading drops the secondary indexes and the unique and foreign-key constraints of the three
big tables and of the rollup tables (whatever ``pg_indexes`` and ``pg_constraint`` list today),
then, on ``parallel`` connections, each task starting as soon as what it reads is written:
generations, then their full-text index (the longest statement) while the other connection loads
provider calls and metrics, builds the other indexes and runs the rollups (the statements of
``analytics.rollups.rollup_rebuild_organization``, recorded once and widened to every
organization); then foreign keys NOT VALID, validated per table alongside the rollup tables'
indexes and ``VACUUM (ANALYZE)``. Each step's time is logged, and statements over 5 s.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import itertools
import random
import re
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

UTC = datetime.UTC
ORGANIZATIONS = 1000
USERS = 200
DAYS = 365
SKEW = 1.5  # the exponent of the organization draw: larger is more skewed
TREE_NODES = 500
CONTENT_TYPES = ["blog", "social", "amazon", "chat", "name", "insights"]
STATUSES = [("success", 0.90), ("failed", 0.95), ("partial", 0.98), ("cancelled", 0.99), ("processing", 1.0)]
ERROR_TYPES = ["timeout", "rate_limit", "server_error", "auth", "invalid_request", "other"]
WANTED_MODELS = [
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini"),
    ("anthropic", "claude-sonnet-4-0"),
    ("google", "gemini-2.5-flash"),
    ("anthropic", "claude-3-5-haiku-latest"),
    ("openai", "o3-mini"),
]
PARAGRAPH = (
    "Wake up to the Atlantic from every sea-view room, then take the cliff path to breakfast on "
    "the terrace, where the bread is baked at dawn and the coffee comes from a roaster two streets "
    "away. "
)
MAINTENANCE_WORK_MEM = "1GB"  # per connection: index builds sort in memory
WORK_MEM = "1GB"  # per connection: the rollups' hash aggregates stay in memory
BIG_TABLES = ("generations_generation", "analytics_providercall", "analytics_performancemetric")
SMALL_TABLES = ("generations_generationrun", "generations_campaign", "generations_cacheentry")


@dataclasses.dataclass
class Task:
    """Statements run in order on one connection, once the tasks named in ``needs`` are done."""

    name: str
    statements: list[tuple[str, list]]
    needs: set[str] = dataclasses.field(default_factory=set)


@dataclasses.dataclass
class Secondary:
    """What the load dropped: (table, CREATE INDEX) pairs, unique constraints to re-attach to
    their indexes, and foreign keys as (table, ADD … NOT VALID, VALIDATE or None)."""

    indexes: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    uniques: list[str] = dataclasses.field(default_factory=list)
    foreign_keys: list[tuple[str, str, str | None]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Dataset:
    """What the builder made: ids the bench and the tests ask about."""

    rows: int
    organization_ids: list[int]  # by rank: [0] is the biggest
    start: datetime.datetime
    end: datetime.datetime
    tree_root_id: int = 0
    tree_deepest_id: int = 0
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def biggest(self) -> int:
        return self.organization_ids[0]


def _u(expression: str, salt: int) -> str:
    """SQL for a uniform draw in [0, 1) determined by ``expression`` and ``salt``."""
    return (
        f"((hashint8extended(({expression})::bigint, {salt}) & 281474976710655)::float8 / 281474976710656.0)"
    )


def _pick(values: Iterable[str], draw: str) -> str:
    """SQL choosing one of ``values`` (literals) with the uniform ``draw``."""
    values = list(values)
    array = "ARRAY[" + ", ".join(f"'{value}'" for value in values) + "]"
    return f"({array})[1 + floor({draw} * {len(values)})::int]"


def _rank(group: str, organizations: int) -> str:
    """SQL for the 1-based organization rank of a group of rows (Zipf-like, 1 is the biggest)."""
    return (
        f"LEAST({organizations}, GREATEST(1, floor(exp(power({_u(group, 1)}, {SKEW}) "
        f"* ln({organizations} + 1)))::int))"
    )


def _metered(expressions: dict[str, str]) -> dict[str, str]:
    """The usage and cost columns generations and provider calls share."""
    names = ("input_tokens", "output_tokens", "cache_read_tokens", "total_tokens", "cost_usd", "cost_status")
    return {name: expressions[name] for name in names}


def _insert(model, overrides: dict[str, str], source: str, connection) -> tuple[str, list]:
    """``INSERT INTO <model's table> (…) SELECT … FROM source`` covering every concrete column:
    ``overrides`` are SQL expressions; other NOT NULL columns get the field's default (a
    timestamp column without a default gets ``created_at``'s expression), nullable ones NULL.
    Built from the model's fields, so a column another branch adds is filled too."""
    from django.db import models

    columns, expressions, params = [], [], []
    for field in model._meta.concrete_fields:
        column = field.column
        if column in overrides:
            columns.append(column)
            expressions.append(overrides[column])
        elif field.primary_key or field.null:
            continue
        elif isinstance(field, models.DateTimeField):
            columns.append(column)
            expressions.append(overrides["created_at"])
        else:
            columns.append(column)
            expressions.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
    sql = (
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "
        f"SELECT {', '.join(expressions)} FROM {source}"
    )
    return sql, params


class Builder:
    """Builds the dataset into the database Django is connected to.

    ``parallel`` > 1 runs independent statements on that many extra autocommit connections
    (the bench); 1 runs everything on Django's connection, inside the caller's transaction
    (the tests).
    """

    def __init__(
        self,
        *,
        rows: int,
        organizations: int = ORGANIZATIONS,
        parallel: int = 1,
        seed: int = 1,
        log: Callable[[str], None] = print,
        today: datetime.date | None = None,
    ):
        from django.db import connection

        self.connection = connection
        self.rows = rows
        self.organizations = organizations
        self.parallel = parallel
        self.seed = seed
        self.log = log
        today = today or datetime.datetime.now(UTC).date()
        self.end = datetime.datetime.combine(today + datetime.timedelta(days=1), datetime.time.min, UTC)
        self.start = self.end - datetime.timedelta(days=DAYS)
        # 1/20 of the roots get a revision, 1/60 a variant too: roots * 16/15 + the big tree = rows.
        self.roots = max(60, (rows - TREE_NODES) * 15 // 16)
        self.seconds: dict[str, float] = {}

    # --- plumbing ---------------------------------------------------------------------------

    def _timed(self, name: str, call):
        began = time.perf_counter()
        result = call()
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - began
        self.log(f"  {name}: {time.perf_counter() - began:.1f} s")
        return result

    def _execute(self, sql: str, params=None) -> int:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params or None)
            return cursor.rowcount

    def _fetch(self, sql: str, params=None) -> list[tuple]:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params or None)
            return cursor.fetchall()

    def _run_all(self, statements: list[tuple[str, list]]) -> None:
        """Run independent statements, on ``parallel`` connections when allowed."""
        self._run_groups([[statement] for statement in statements])

    def _run_groups(self, groups: list[list[tuple[str, list]]]) -> None:
        """Run groups of statements: each group in order on one connection, the groups at once on
        ``parallel`` connections (see :meth:`_run_tasks`)."""
        self._run_tasks([Task(f"group {k}", group) for k, group in enumerate(groups)])

    def _run_tasks(self, tasks: list[Task]) -> None:
        """Run tasks on ``parallel`` autocommit connections: a free connection takes the first
        task (in list order) whose ``needs`` are all done, and runs its statements in order. With
        ``parallel`` 1, in list order on Django's connection (the list must be in dependency
        order). A failure or an interrupt (Ctrl-C) cancels the statements still running, so the
        caller's clean-up never waits for a long ``INSERT`` to end."""
        if self.parallel <= 1:
            for task in tasks:
                for sql, params in task.statements:
                    self._execute(sql, params)
            return
        import threading

        import psycopg

        parameters = self.connection.get_connection_params()
        pending = list(tasks)
        names = {task.name for task in tasks}
        done: set[str] = set()
        failed: list[BaseException] = []
        live = []
        ready = threading.Condition()

        def take():
            with ready:
                while True:
                    if failed:
                        return None
                    for task in pending:
                        if not (task.needs & names) - done:
                            pending.remove(task)
                            return task
                    if not pending:
                        return None
                    ready.wait()

        def work():
            try:
                with psycopg.connect(**parameters, autocommit=True) as raw:
                    live.append(raw)
                    raw.execute("SET synchronous_commit = off")
                    raw.execute(f"SET maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
                    raw.execute(f"SET work_mem = '{WORK_MEM}'")
                    while (task := take()) is not None:
                        for sql, params in task.statements:
                            began = time.perf_counter()
                            raw.execute(sql, params or None)
                            seconds = time.perf_counter() - began
                            if seconds > 5:
                                self.log(f"    {seconds:6.1f} s  {' '.join(sql.split())[:110]}")
                        with ready:
                            done.add(task.name)
                            ready.notify_all()
            except BaseException as error:
                with ready:
                    failed.append(error)
                    ready.notify_all()

        pool = ThreadPoolExecutor(max_workers=self.parallel)
        try:
            for future in [pool.submit(work) for _ in range(self.parallel)]:
                future.result()
        except BaseException:
            with ready:
                failed.append(KeyboardInterrupt())
                ready.notify_all()
            for raw in list(live):
                with contextlib.suppress(Exception):
                    raw.cancel()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        if failed:
            raise failed[0]

    def _next_id(self, table: str) -> int:
        return self._fetch(f"SELECT COALESCE(max(id), 0) FROM {table}")[0][0]

    def _reset_sequence(self, table: str) -> None:
        self._execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(max(id), 1) "
            f"FROM {table}))"
        )

    # --- secondary indexes and constraints --------------------------------------------------

    def _drop_secondary(self, tables: Iterable[str]) -> Secondary:
        """Drop the secondary indexes and the unique and foreign-key constraints of ``tables``,
        whatever the current schema has (read from ``pg_indexes`` and ``pg_constraint``, so an
        index or a table another branch adds or drops is followed); return what recreates them.

        Unique constraints come back as a ``CREATE UNIQUE INDEX`` (built with the other indexes,
        in parallel) then ``ADD CONSTRAINT … USING INDEX`` (instant); foreign keys as ``NOT
        VALID`` (instant) then ``VALIDATE CONSTRAINT``, which takes a lock that lets the
        validations of different tables run at once."""
        secondary = Secondary()
        drops = []
        for table in tables:
            partitioned = self._fetch("SELECT relkind = 'p' FROM pg_class WHERE oid = %s::regclass", [table])[
                0
            ][0]
            for name, definition, kind, index_definition, deferrable, deferred in self._fetch(
                "SELECT conname, pg_get_constraintdef(oid), contype, pg_get_indexdef(conindid), "
                "condeferrable, condeferred FROM pg_constraint "
                "WHERE conrelid = %s::regclass AND contype IN ('u', 'f') ORDER BY contype DESC, conname",
                [table],
            ):
                drops.append(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
                if kind == "u":
                    timing = (" DEFERRABLE" if deferrable else "") + (
                        " INITIALLY DEFERRED" if deferred else ""
                    )
                    secondary.indexes.append((table, index_definition))
                    secondary.uniques.append(
                        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" UNIQUE USING INDEX "{name}"{timing}'
                    )
                elif partitioned:
                    # PostgreSQL 16 has no NOT VALID foreign key on a partitioned table.
                    secondary.foreign_keys.append(
                        (table, f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}', None)
                    )
                else:
                    secondary.foreign_keys.append(
                        (
                            table,
                            f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition} NOT VALID',
                            f'ALTER TABLE {table} VALIDATE CONSTRAINT "{name}"',
                        )
                    )
            for name, definition in self._fetch(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
                "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
                [table, table],
            ):
                drops.append(f'DROP INDEX "{name}"')
                secondary.indexes.append((table, definition))
        for statement in drops:
            self._execute(statement)
        return secondary

    def _ordered_indexes(self, secondary: Secondary) -> list[tuple[str, tuple[str, list]]]:
        """(table, CREATE INDEX) pairs, costliest first: full-text (GIN/GiST) and expression
        indexes, then by the rows the builder writes into the table, so the longest build starts
        first."""
        weight = {"generations_generation": 3, "analytics_providercall": 2, "analytics_performancemetric": 1}

        def cost(item):
            table, sql = item
            special = " USING gin " in sql or " USING gist " in sql or "to_tsvector" in sql
            return (not special, -weight.get(table, 0))

        return [(table, (sql, [])) for table, sql in sorted(secondary.indexes, key=cost)]

    def _validate_tasks(self, secondary: Secondary, last: str) -> list[list[tuple[str, list]]]:
        """``VALIDATE CONSTRAINT`` of the foreign keys, one group per table (validations of one
        table take the same lock; different tables' run at once), table ``last`` at the end: its
        validations wait for the index builds on it to finish."""
        by_table: dict[str, list[tuple[str, list]]] = {}
        for table, _, validate in secondary.foreign_keys:
            if validate:
                by_table.setdefault(table, []).append((validate, []))
        return [group for table, group in sorted(by_table.items(), key=lambda item: item[0] == last)]

    def _add_foreign_keys(self, secondary: Secondary) -> None:
        """Add the foreign keys back: ``NOT VALID`` (instant) where the validation follows, or
        validated at once (partitioned tables)."""
        for _, add, _ in secondary.foreign_keys:
            self._execute(add)

    # --- the rows ---------------------------------------------------------------------------

    def _models(self) -> list[tuple[int, int, str, str]]:
        """(model id, provider id, model name, provider slug) of the catalogue models to use;
        created when the catalogue is empty (tests without a price sync)."""
        from providers.models import AIModel, Provider

        chosen = []
        for provider_slug, name in WANTED_MODELS:
            provider, _ = Provider.objects.get_or_create(slug=provider_slug, defaults={"name": provider_slug})
            model = AIModel.objects.filter(provider=provider, name=name).first()
            if model is None:
                model = AIModel.objects.create(provider=provider, name=name)
            chosen.append((model.pk, provider.pk, name, provider_slug))
        return chosen

    def _organizations(self) -> list[int]:
        from tenancy.models import Organization

        suffix = f"{random.Random(self.seed).randrange(16**6):06x}"
        sql, params = _insert(
            Organization,
            {
                "name": f"'Scale {suffix} ' || n",
                "slug": f"'scale-{suffix}-' || n",
                "created_at": f"'{self.start.isoformat()}'::timestamptz",
            },
            f"generate_series(1, {self.organizations}) AS s(n) ORDER BY n",
            self.connection,
        )
        self._execute(sql, params)
        return [
            row[0]
            for row in self._fetch(
                "SELECT id FROM tenancy_organization WHERE slug LIKE %s ORDER BY id", [f"scale-{suffix}-%"]
            )
        ]

    def _expressions(self, index: str) -> dict[str, str]:
        """SQL for the generated values of root generation ``index`` (1 … roots)."""
        step = DAYS * 86400 / self.roots
        group = f"(({index}) - 1) / 3"
        models = self.models
        draw_model = _u(index, 4)
        model_at = f"(1 + floor(power({draw_model}, 1.6) * {len(models)})::int)"
        model_ids = "ARRAY[" + ", ".join(str(m[0]) for m in models) + "]::bigint[]"
        provider_ids = "ARRAY[" + ", ".join(str(m[1]) for m in models) + "]::bigint[]"
        model_names = "ARRAY[" + ", ".join(f"'{m[2]}'" for m in models) + "]"
        provider_names = "ARRAY[" + ", ".join(f"'{m[3]}'" for m in models) + "]"
        unknown = f"({_u(index, 5)} < 0.02)"
        status_draw = _u(index, 6)
        status = "CASE " + " ".join(f"WHEN {status_draw} < {p} THEN '{s}'" for s, p in STATUSES) + " END"
        input_tokens = f"(200 + floor({_u(index, 7)} * 8000)::bigint)"
        output_tokens = f"(50 + floor({_u(index, 8)} * 1500)::bigint)"
        cache_read = f"(floor({_u(index, 9)} * 0.5 * {input_tokens})::bigint)"
        price = f"(0.15 + {model_at} * 0.9)"  # USD per million tokens, a crude but stable price
        organizations = "ARRAY[" + ", ".join(str(o) for o in self.organization_ids) + "]::bigint[]"
        rank = _rank(group, self.organizations)
        created = (
            f"('{self.start.isoformat()}'::timestamptz + ((({index}) - 1) * {step}) * interval '1 second')"
        )
        user_draw = _u(group, 10)
        user_ref = (
            f"CASE WHEN {user_draw} < 0.4 THEN NULL ELSE 'user-' || "
            f"floor(exp(({user_draw} - 0.4) / 0.6 * ln({USERS})))::int END"
        )
        return {
            "organization": f"({organizations})[{rank}]",
            "rank": rank,
            "created_at": created,
            "user_ref": user_ref,
            "content_type": _pick(CONTENT_TYPES, _u(group, 11)),
            "model_id": f"CASE WHEN {unknown} THEN NULL ELSE ({model_ids})[{model_at}] END",
            "provider_id": f"CASE WHEN {unknown} THEN NULL ELSE ({provider_ids})[{model_at}] END",
            "model_name": f"CASE WHEN {unknown} THEN 'in-house-model' ELSE ({model_names})[{model_at}] END",
            "provider_name": f"CASE WHEN {unknown} THEN 'in-house' ELSE ({provider_names})[{model_at}] END",
            "status": status,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_read_tokens": cache_read,
            "total_tokens": f"({input_tokens} + {output_tokens})",
            "cost_usd": (
                f"CASE WHEN {unknown} THEN NULL ELSE round((({input_tokens} + 4 * {output_tokens}) "
                f"* {price} / 1000000.0)::numeric, 10) END"
            ),
            "cost_status": f"CASE WHEN {unknown} THEN 'unpriced' ELSE 'priced' END",
            "time_ms": f"(300 + floor({_u(index, 12)} * 20000)::int)",
            "run": f"CASE WHEN mod({group}, 8) = 0 THEN {self.run_base} + {group} + 1 END",
            "campaign": f"CASE WHEN {_u(index, 13)} < 0.1 THEN {self.campaign_base} + {rank} END",
            "deleted": f"({_u(index, 14)} < 0.005)",
            "vertical_draw": _u(index, 15),
        }

    def _generation_overrides(self, index: str, *, node: str = "root") -> dict[str, str]:
        e = self._expressions(index)
        created = e["created_at"]
        if node != "root":
            created = f"({created} + interval '{'7 minutes' if node == 'revision' else '19 minutes'}')"
        overrides = {
            "organization_id": e["organization"],
            "created_at": created,
            "updated_at": created,
            "deleted_at": f"CASE WHEN {e['deleted']} THEN {created} + interval '1 day' END",
            "request_id": f"'scale-{ {'root': 'g', 'revision': 'r', 'variant': 'v'}[node] }-' || ({index})",
            "user_ref": e["user_ref"],
            "content_type": e["content_type"],
            "agent_name": "'scale-writer'",
            "provider_id": e["provider_id"],
            "model_id": e["model_id"],
            "provider_name": e["provider_name"],
            "model_name": e["model_name"],
            "target_channel": "'blog'",
            "prompt": "'Write about sea-view rooms for families.'",
            "content": f"left(repeat('{PARAGRAPH}', 8), 300 + floor({_u(index, 16)} * 900)::int)",
            **_metered(e),
            "generation_time_ms": e["time_ms"],
            "status": e["status"],
            "completed_at": f"CASE WHEN {e['status']} IN ('success', 'failed', 'partial', 'cancelled') "
            f"THEN {created} + {e['time_ms']} * interval '1 millisecond' END",
            "run_id": e["run"] if node == "root" else "NULL",
            "campaign_id": e["campaign"],
        }
        root_id = f"{self.generation_base} + ({index})"
        revisions = self.roots // 20
        if node == "root":
            overrides |= {
                "id": root_id,
                "tree_last_version": (
                    f"CASE WHEN mod({index}, 60) = 0 THEN 3 WHEN mod({index}, 20) = 0 THEN 2 ELSE 1 END"
                ),
            }
        elif node == "revision":
            overrides |= {
                "id": f"{self.generation_base} + {self.roots} + ({index}) / 20",
                "parent_id": root_id,
                "root_id": root_id,
                "depth": "1",
                "version": "2",
                "kind": "'revision'",
            }
        else:
            overrides |= {
                "id": f"{self.generation_base} + {self.roots} + {revisions} + ({index}) / 60",
                "parent_id": f"{self.generation_base} + {self.roots} + ({index}) / 20",
                "root_id": root_id,
                "depth": "2",
                "version": "3",
                "kind": "'variant'",
                "vertical_id": (
                    "(ARRAY[" + ", ".join(map(str, self.verticals)) + "]::bigint[])"
                    f"[1 + floor({e['vertical_draw']} * {len(self.verticals)})::int]"
                ),
            }
        return overrides

    def _chunked(self, model, overrides: dict[str, str], chunks: int) -> list[tuple[str, list]]:
        """One INSERT per slice of the roots 1 … roots, so ``parallel`` connections share them."""
        bounds = [self.roots * k // chunks for k in range(chunks + 1)]
        return [
            _insert(model, overrides, f"generate_series({first + 1}, {last}) AS s(i)", self.connection)
            for first, last in itertools.pairwise(bounds)
        ]

    def _generations(self, chunks: int) -> list[tuple[str, list]]:
        from generations.models import Generation

        statements = self._chunked(Generation, self._generation_overrides("i"), chunks)
        statements.append(
            _insert(
                Generation,
                self._generation_overrides("i", node="revision"),
                f"generate_series(20, {self.roots}, 20) AS s(i)",
                self.connection,
            )
        )
        if self.verticals:
            statements.append(
                _insert(
                    Generation,
                    self._generation_overrides("i", node="variant"),
                    f"generate_series(60, {self.roots}, 60) AS s(i)",
                    self.connection,
                )
            )
        return statements

    def _provider_calls(self, chunks: int) -> list[tuple[str, list]]:
        """One call per root generation (same organization, time, model, user), plus, to reach
        ``rows`` calls, a retried call for every ~15th root, a few seconds after the first."""
        from analytics.models import ProviderCall

        def overrides(generation: str, later: str) -> dict[str, str]:
            e = self._expressions(generation)
            fail = f"({_u('i', 20)} < 0.05)"
            called = f"({e['created_at']} + {later})"
            return {
                "organization_id": e["organization"],
                "created_at": called,
                "updated_at": called,
                "occurred_at": called,
                "request_id": "'scale-c-' || i",
                "generation_id": f"{self.generation_base} + {generation}",
                "recorded_with_generation": "true",
                "content_type": e["content_type"],
                "endpoint": "'/v1/chat/completions'",
                "method": "'POST'",
                "provider_id": e["provider_id"],
                "model_id": e["model_id"],
                "provider_name": e["provider_name"],
                "model_name": e["model_name"],
                **_metered(e),
                "api_latency_ms": f"(100 + floor({_u('i', 21)} * 7000)::int)",
                "total_request_time_ms": f"(150 + floor({_u('i', 21)} * 7500)::int)",
                "status_code": f"CASE WHEN {fail} THEN 500 ELSE 200 END",
                "success": f"NOT {fail}",
                "error_type": f"CASE WHEN {fail} THEN {_pick(ERROR_TYPES, _u('i', 22))} ELSE '' END",
                "user_ref": e["user_ref"],
                "key_fingerprint": (
                    f"md5({e['rank']}::text || '-' || floor({_u('i', 23)} * 3)::int) || "
                    f"md5('k' || {e['rank']}::text || '-' || floor({_u('i', 23)} * 3)::int)"
                ),
            }

        statements = self._chunked(ProviderCall, overrides("i", "interval '0 seconds'"), chunks)
        # As many retries as it takes to reach ``rows`` calls (every ~15th root at any size).
        retries = min(self.rows - self.roots, self.roots)
        if retries > 0:
            step = max(1, self.roots // retries)
            statements.append(
                _insert(
                    ProviderCall,
                    overrides(f"((i - {self.roots}) * {step})", "interval '4 seconds'"),
                    f"generate_series({self.roots + 1}, {self.roots + retries}) AS s(i)",
                    self.connection,
                )
            )
        return statements

    def _metrics(self) -> list[tuple[str, list]]:
        from analytics.models import PerformanceMetric

        e = self._expressions("i")
        overrides = {
            "organization_id": e["organization"],
            "created_at": e["created_at"],
            "updated_at": e["created_at"],
            "generation_id": f"{self.generation_base} + i",
            "total_duration_ms": e["time_ms"],
            "api_call_ms": f"({e['time_ms']} * 9 / 10)",
            "cache_hit": f"({_u('i', 30)} < 0.3)",
            "retry_count": f"CASE WHEN {_u('i', 31)} < 0.08 THEN 1 + floor({_u('i', 32)} * 3)::int "
            "ELSE 0 END",
        }
        return [
            _insert(
                PerformanceMetric, overrides, f"generate_series(5, {self.roots}, 5) AS s(i)", self.connection
            )
        ]

    def _runs(self) -> None:
        from generations.models import GenerationRun

        groups = (self.roots + 2) // 3
        e = self._expressions("(g * 3 + 1)")
        sql, params = _insert(
            GenerationRun,
            {
                "id": f"{self.run_base} + g + 1",
                "organization_id": e["organization"],
                "created_at": e["created_at"],
                "updated_at": e["created_at"],
                "prompt": "'Name a seaside hotel.'",
                "content_type": e["content_type"],
                "models_requested": '\'["gpt-4o", "claude-sonnet-4-0", "gemini-2.5-flash"]\'::jsonb',
                "user_ref": e["user_ref"],
            },
            f"generate_series(0, {groups - 1}, 8) AS s(g)",
            self.connection,
        )
        self._execute(sql, params)

    def _campaigns(self) -> None:
        from generations.models import Campaign

        organizations = "ARRAY[" + ", ".join(str(o) for o in self.organization_ids) + "]::bigint[]"
        sql, params = _insert(
            Campaign,
            {
                "id": f"{self.campaign_base} + n",
                "organization_id": f"({organizations})[n]",
                "name": "'Summer ' || n",
                "created_at": f"'{self.start.isoformat()}'::timestamptz",
            },
            f"generate_series(1, {self.organizations}) AS s(n)",
            self.connection,
        )
        self._execute(sql, params)

    def _cache_entries(self) -> None:
        from generations.models import CacheEntry

        e = self._expressions("(i * 97)")
        sql, params = _insert(
            CacheEntry,
            {
                "organization_id": e["organization"],
                "created_at": e["created_at"],
                "updated_at": e["created_at"],
                "key": "'scale-key-' || i",
                "response": "jsonb_build_object('text', left(repeat('cached answer ', 40), 300 + "
                "mod(i, 200)))",
                "model_name": e["model_name"],
                "model_id": e["model_id"],
                "cost_saved_usd": f"COALESCE({e['cost_usd']}, 0)",
                "hit_count": "mod(i, 17)",
                "expires_at": f"'{self.end.isoformat()}'::timestamptz + interval '30 days'",
            },
            f"generate_series(1, {max(1, self.roots // 97)}) AS s(i)",
            self.connection,
        )
        self._execute(sql, params)

    def _big_tree(self) -> tuple[int, int]:
        """A 500-node tree in the biggest organization (random parents, so depth varies)."""
        from generations.models import Generation

        rng = random.Random(self.seed)
        # After the ids the load gives roots, revisions and variants (written later, in parallel).
        base = (
            self.generation_base + self.roots + self.roots // 20 + (self.roots // 60 if self.verticals else 0)
        )
        organization_id = self.organization_ids[0]
        moment = self.end - datetime.timedelta(days=3)
        depth = {0: 0}
        parents = {0: None}
        for k in range(1, TREE_NODES):
            # Mostly a chain of revisions with side branches: depth reaches ~80.
            parent = k - 1 if rng.random() < 0.6 else rng.randrange(k)
            parents[k] = parent
            depth[k] = depth[parent] + 1
        rows = []
        for k in range(TREE_NODES):
            rows.append(
                Generation(
                    pk=base + 1 + k,
                    organization_id=organization_id,
                    request_id=f"scale-tree-{k}",
                    created_at=moment + datetime.timedelta(seconds=k),
                    content_type="blog",
                    content=PARAGRAPH * 4,
                    status="success",
                    provider_name="openai",
                    model_name="gpt-4o",
                    model_id=self.models[0][0],
                    provider_id=self.models[0][1],
                    input_tokens=1000,
                    output_tokens=300,
                    total_tokens=1300,
                    cost_usd="0.0040000000",
                    cost_status="priced",
                    parent_id=None if k == 0 else base + 1 + parents[k],
                    root_id=None if k == 0 else base + 1,
                    depth=depth[k],
                    version=k + 1,
                    tree_last_version=TREE_NODES if k == 0 else 1,
                    kind="original" if k == 0 else "revision",
                )
            )
        Generation.all_objects.bulk_create(rows, batch_size=500)
        deepest = max(range(TREE_NODES), key=lambda k: depth[k])
        return base + 1, base + 1 + deepest

    # --- the whole build --------------------------------------------------------------------

    def build(self) -> Dataset:
        """Write the dataset; returns what the bench needs to know about it."""
        from styleguides.models import Vertical

        began = time.perf_counter()
        self._execute("SET CONSTRAINTS ALL IMMEDIATE")
        self.models = self._models()
        if not Vertical.objects.exists():  # test databases: the seed fixture is not loaded
            for slug in ("hospitality", "healthcare", "tech", "athletics"):
                Vertical.objects.create(slug=slug, name=slug.title(), description=slug, default_tone="warm")
        self.verticals = list(Vertical.objects.order_by("pk").values_list("pk", flat=True)[:4])
        self.organization_ids = self._timed("organizations", self._organizations)
        self.generation_base = self._next_id("generations_generation")
        self.run_base = self._next_id("generations_generationrun")
        self.campaign_base = self._next_id("generations_campaign")
        self._timed("campaigns and runs", lambda: (self._campaigns(), self._runs()))
        secondary = self._timed("drop indexes", lambda: self._drop_secondary(BIG_TABLES))
        # The tree and the cache rows first (few; their ids follow the generated rows'), so the
        # load below is the last write to the big tables before their indexes are built.
        self.tree_root_id, self.tree_deepest_id = self._timed("500-node tree", self._big_tree)
        self._timed("cache entries", self._cache_entries)
        widened = self._rollup_statements()
        rollup_groups = widened or []
        self.rollup_tables = [self._target(group[0][0]) for group in rollup_groups]
        rollup_secondary = self._timed(
            "rollups: drop indexes", lambda: self._drop_secondary(self.rollup_tables)
        )
        # One pool for the load, the index builds and the rollups, each started as soon as what
        # it reads is written: the generations first, then their costliest index (full text,
        # the longest statement of the build) on one connection while the other loads provider
        # calls and metrics, builds the other indexes and runs the rollups' INSERT … SELECT …
        # GROUP BY (the project's rebuild statements).
        chunks = max(1, self.parallel)
        tasks = [Task(f"load generations {k}", [sql]) for k, sql in enumerate(self._generations(chunks))]
        loaded = {"generations_generation": {task.name for task in tasks}}
        for table, statements in (
            ("analytics_providercall", self._provider_calls(chunks)),
            ("analytics_performancemetric", self._metrics()),
        ):
            load = [Task(f"load {table} {k}", [sql]) for k, sql in enumerate(statements)]
            loaded[table] = {task.name for task in load}
            tasks += load
        index_tasks = [
            Task(f"index {k}", [statement], loaded.get(table, set()))
            for k, (table, statement) in enumerate(self._ordered_indexes(secondary))
        ]
        # The costliest index right after the generations' load, ahead of the other loads.
        after_generations = len(loaded["generations_generation"])
        tasks[after_generations:after_generations] = index_tasks[:1]
        tasks += index_tasks[1:]
        every_load = set().union(*loaded.values())
        rollup_groups.sort(key=lambda group: -sum("generations_generation" in sql for sql, _ in group))
        # A rollup derived from another (the per-model rollups are folded from the per-user
        # ones) waits for the group that writes its source.
        writers = {self._target(group[0][0]): f"rollup {k}" for k, group in enumerate(rollup_groups)}
        for k, group in enumerate(rollup_groups):
            own = self._target(group[0][0])
            sources = {
                name
                for table, name in writers.items()
                if table != own and any(re.search(rf"\b{table}\b", sql) for sql, _ in group)
            }
            tasks.append(Task(f"rollup {k}", group, every_load | sources))
        self._timed("load + indexes + rollups (2 connections)", lambda: self._run_tasks(tasks))
        for table in (*BIG_TABLES, *SMALL_TABLES):
            self._reset_sequence(table)
        if widened is None:
            self._timed("rollups (per organization)", self._rollups_per_organization)
        # Foreign keys last: adding one locks its table and the referenced one against index
        # builds. Added NOT VALID (instant), then one pool: the validations (one table's in
        # order: they take the same lock; the generations' first, they take longest), the
        # rollup tables' indexes, and VACUUM (ANALYZE) of each table once nothing else needs it
        # (statistics and the visibility map for the timed phase; ANALYZE only inside the tests'
        # transaction, where VACUUM cannot run).
        self._timed("foreign keys (added NOT VALID)", lambda: self._add_foreign_keys(secondary))
        self._timed("unique constraints", lambda: [self._execute(sql) for sql in secondary.uniques])
        analyze = "VACUUM (ANALYZE)" if self.parallel > 1 else "ANALYZE"
        validations: dict[str, list[tuple[str, list]]] = {}
        for table, _, validate in secondary.foreign_keys:
            if validate:
                validations.setdefault(table, []).append((validate, []))
        finish = [
            Task(f"validate {table}", group)
            for table, group in sorted(
                validations.items(), key=lambda item: item[0] != "generations_generation"
            )
        ]
        rollup_indexes: dict[str, set[str]] = {}
        for k, (table, statement) in enumerate(self._ordered_indexes(rollup_secondary)):
            finish.append(Task(f"rollup index {k}", [statement]))
            rollup_indexes.setdefault(table, set()).add(f"rollup index {k}")
        finish += [
            Task(f"vacuum {table}", [(f"{analyze} {table}", [])], {f"validate {table}"})
            for table in BIG_TABLES
        ]
        # The small tables too: autovacuum is off during the build, and without statistics the
        # planner took the biggest tenant's 84,386 runs for 2 and sorted them all for runs/ (the
        # 10M run of 2026-11-30, 118 ms) instead of reading its cursor-order index.
        # Nothing to wait for: their foreign keys were never dropped (only the big tables' are).
        finish += [Task(f"vacuum {table}", [(f"{analyze} {table}", [])]) for table in SMALL_TABLES]
        finish += [
            Task(f"vacuum {table}", [(f"{analyze} {table}", [])], rollup_indexes.get(table, set()))
            for table in self.rollup_tables
        ]
        self._timed("validation + rollup indexes + vacuum (2 connections)", lambda: self._run_tasks(finish))
        self._timed(
            "rollup tables: constraints",
            lambda: (
                [self._execute(sql) for sql in rollup_secondary.uniques],
                self._add_foreign_keys(rollup_secondary),
                self._run_groups(self._validate_tasks(rollup_secondary, "")),
            ),
        )
        self.seconds["total"] = time.perf_counter() - began
        return Dataset(
            rows=self.rows,
            organization_ids=self.ranked_organizations(),
            start=self.start,
            end=self.end,
            tree_root_id=self.tree_root_id,
            tree_deepest_id=self.tree_deepest_id,
            seconds=self.seconds,
        )

    def _rollup_statements(self) -> list[list[tuple[str, list]]] | None:
        """The project's own rollup rebuild (``analytics.rollups.rollup_rebuild_organization``)
        for the dataset's year, as statements widened to every organization of the dataset,
        grouped by the table they write (each group in order; the groups are independent).

        The rebuild is run once for a stand-in organization with its statements recorded, not
        executed; every ``organization_id = %s`` bound to the stand-in becomes ``= ANY(%s)``
        over the dataset's organizations, and the table lock (nothing else writes during the
        build) is left out. So the build follows whatever shape the rollups have today, in a few
        statements instead of eight per organization. None when the recording cannot be widened
        (the rebuild changed in a way this does not understand): the caller then runs the
        rebuild per organization."""
        from analytics import rollups
        from tenancy.models import Organization

        stand_in = -987654321
        recorded: list[tuple[str, list]] = []

        def record(execute, sql, params, many, context):
            recorded.append((sql, list(params or [])))

        last_day = (self.end - datetime.timedelta(days=1)).date()
        try:
            with self.connection.execute_wrapper(record):
                rollups.rollup_rebuild_organization(
                    organization=Organization(pk=stand_in), date_from=self.start.date(), date_to=last_day
                )
        except Exception as error:  # a rebuild that reads what it wrote cannot be recorded
            self.log(f"  rollups: recording the rebuild failed ({error!r}); per organization instead")
            return None
        groups: dict[str, list[tuple[str, list]]] = {}
        for sql, params in recorded:
            words = sql.split()
            verb = words[0].upper() if words else ""
            if verb in ("SAVEPOINT", "RELEASE", "ROLLBACK", "LOCK", "SET"):
                continue
            target = re.match(r"\s*(?:INSERT\s+INTO|DELETE\s+FROM|UPDATE)\s+(\w+)", sql, re.IGNORECASE)
            placeholders = re.findall(r"%s", sql)
            if target is None or len(placeholders) != len(params):
                self.log(f"  rollups: cannot widen {' '.join(words)[:80]!r}; per organization instead")
                return None
            # Walk the placeholders in order: each bound to the stand-in must follow
            # "organization_id =", and becomes "organization_id = ANY(%s)" over the dataset.
            text, widened, bound = "", [], iter(params)
            for piece in re.split(r"(%s)", sql):
                if piece != "%s":
                    text += piece
                    continue
                value = next(bound)
                if value == stand_in:
                    head = re.search(r"\b((?:\w+\.)?organization_id)\s*=\s*$", text)
                    if head is None:
                        self.log(
                            "  rollups: the stand-in is bound outside organization_id = %s; per organization"
                        )
                        return None
                    text = text[: head.start()] + f"{head.group(1)} = ANY("
                    piece = "%s)"
                    value = self.organization_ids
                text += piece
                widened.append(value)
            groups.setdefault(target.group(1), []).append((text, widened))
        return list(groups.values())

    @staticmethod
    def _target(sql: str) -> str:
        """The table an INSERT, DELETE or UPDATE writes."""
        return re.match(r"\s*(?:INSERT\s+INTO|DELETE\s+FROM|UPDATE)\s+(\w+)", sql, re.IGNORECASE).group(1)

    def _rollups_per_organization(self) -> None:
        """The fallback: ``analytics.rollups.rollup_rebuild`` organization by organization."""
        from analytics import rollups
        from tenancy.models import Organization

        rollups.rollup_rebuild(
            date_from=self.start.date(),
            date_to=(self.end - datetime.timedelta(days=1)).date(),
            organizations=Organization.objects.filter(pk__in=self.organization_ids).order_by("pk"),
        )

    def ranked_organizations(self) -> list[int]:
        """The organizations by generation count, biggest first (organizations without rows last)."""
        counts = dict(
            self._fetch(
                "SELECT organization_id, count(*) FROM generations_generation "
                "WHERE organization_id = ANY(%s) GROUP BY 1",
                [self.organization_ids],
            )
        )
        return sorted(self.organization_ids, key=lambda pk: (-counts.get(pk, 0), pk))


def median_organization(dataset: Dataset, counts: dict[int, int]) -> int:
    """The organization in the middle of the ranking (by generation count)."""
    ranked = [pk for pk in dataset.organization_ids if counts.get(pk)]
    return ranked[len(ranked) // 2]
