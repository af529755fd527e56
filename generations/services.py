"""Writes of the generations app: ingestion (single, bulk, branch), status changes, the cache.

Every function takes ``organization`` first, runs in one transaction, audits what people
change (``tenancy.services.audit_record``: edits, deletes, restores; ingested rows record the
key that wrote them instead, DESIGN §3) and sends ``generations_recorded`` inside that transaction
so analytics' rollups commit with the rows they count.

Idempotency is ``tenancy.idempotency``'s (``GENERATION_INGEST``): ``(organization, request_id)``
is unique over every generation, soft-deleted ones included. The same body again answers the
first row; another body is a 409; the request of a deleted generation is a 409 ``deleted``
naming its restore URL (it is restored, never recorded twice); a race meets the constraint.
"""

from __future__ import annotations

import datetime
import uuid
from collections import Counter
from decimal import Decimal
from typing import Any

from django.db import connection, models, transaction
from django.urls import reverse
from django.utils import timezone

from generations import selectors
from generations.choices import GenerationKind, GenerationStatus, RecordedAction
from generations.errors import GenerationFinished, InvalidTreeParent, StatusRegression
from generations.models import CacheDailyStats, CacheEntry, Campaign, Generation, GenerationRun
from generations.signals import COUNTED_FIELDS, generations_recorded
from providers.metering import Meter, check_occurred_at
from tenancy import services as tenancy_services
from tenancy.actors import SYSTEM, Actor
from tenancy.choices import AuditAction
from tenancy.errors import DomainError
from tenancy.idempotency import IdempotentIngest, Recorded
from tenancy.models import Organization

GENERATION_INGEST = IdempotentIngest(
    model=Generation,
    constraint="generation_unique_request_id_per_org",
    restore_url=lambda generation: reverse("generation-restore", kwargs={"pk": generation.pk}),
)
MAX_BULK_ITEMS = 1000
RELATION_FIELDS = [field.name for field in Generation._meta.concrete_fields if field.is_relation]
TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
# What a finished generation may no longer change: its result and what it cost.
RESULT_FIELDS = frozenset(
    {"content", "content_format", *TOKEN_FIELDS, "total_tokens", "client_cost_usd", "generation_time_ms"}
)
# A branch inherits these from its parent unless the request says otherwise.
INHERITED_FIELDS = (
    "content_type",
    "campaign",
    "agent_name",
    "style_guide_version",
    "template_version",
    "provider_name",
    "model_name",
    "target_channel",
    "user_ref",
    "content_format",
)
# Audit events of generations record these values; large fields (content, prompt, raw request
# and response) are recorded as changed, without their values, so the audit log stays small.
AUDITED_VALUES = (
    "request_id",
    "status",
    "model_name",
    "provider_name",
    *TOKEN_FIELDS,
    "total_tokens",
    "cost_usd",
    "cost_status",
    "client_cost_usd",
    "generation_time_ms",
    "occurred_at",
    "completed_at",
    "parent",
    "version",
    "kind",
    "branch_name",
    "error_message",
)
AUDITED_WITHOUT_VALUES = ("content", "prompt", "metadata", "parameters", "raw_request", "raw_response")


class BulkItemError(DomainError):
    """An item of a bulk request is invalid; ``attr`` is ``items.<index>.<field>``."""

    def __init__(self, index: int, field: str, detail: str, *, code: str = "invalid"):
        super().__init__(f"Item {index}: {detail}", code=code, attr=f"items.{index}.{field}")
        self.index = index


# --- helpers --------------------------------------------------------------------------------


def _audit_values(generation: Generation) -> dict[str, Any]:
    snapshot = tenancy_services.audit_snapshot(generation)
    values = {name: snapshot.get(name) for name in AUDITED_VALUES}
    values.update({name: "[set]" for name in AUDITED_WITHOUT_VALUES if getattr(generation, name)})
    return values


def _audit_changes(before: dict[str, Any], generation: Generation, big_before: dict[str, Any]):
    changes = tenancy_services.audit_diff(before, _audit_values(generation))
    for name in AUDITED_WITHOUT_VALUES:
        if big_before[name] != getattr(generation, name):
            changes[name] = ["[before]", "[changed]"]
    return changes


def _meter(
    generation: Generation,
    *,
    meter: Meter,
    usage_payload: dict | None,
    tokens: dict[str, Any] | None,
    total_tokens: int | None,
    attr_prefix: str = "",
) -> None:
    """Usage and cost of the generation through the one metering core (``providers.metering``),
    at the price valid when it happened (``occurred_at``): the provider's usage object (or a
    whole response) when sent, else our token fields, else the usage inside ``raw_response``;
    none of them is ``no_usage``, an unknown model or price ``unpriced``, never $0."""
    if usage_payload is not None:
        generation.client_usage = usage_payload
    metered = meter.measure(
        provider_name=generation.provider_name,
        model=generation.model,
        at=generation.occurred_at,
        usage_object=usage_payload,
        tokens=tokens,
        raw_response=generation.raw_response,
        attr=f"{attr_prefix}usage" if usage_payload is not None else f"{attr_prefix}input_tokens",
    )
    metered.apply(generation)
    if total_tokens is not None:
        generation.total_tokens = total_tokens


def _build(
    *,
    organization: Organization,
    values: dict[str, Any],
    meter: Meter,
    now: datetime.datetime,
    attr_prefix: str = "",
) -> Generation:
    """An unsaved generation from validated values: model resolved, usage read, cost computed.

    ``values`` uses model field names, plus ``usage`` (a provider usage object or a whole
    response) and ``total_tokens`` (optional). ``occurred_at`` defaults to ``now``. Tree fields
    are set by the caller.
    """
    values = dict(values)
    usage_payload = values.pop("usage", None)
    total_tokens = values.pop("total_tokens", None)
    tokens = {name: values.pop(name) for name in TOKEN_FIELDS if name in values}
    for name in ("parent", "parent_request_id", "kind"):
        values.pop(name, None)
    if values.get("occurred_at") is None:
        values["occurred_at"] = now
    generation = Generation(organization=organization, created_at=now, **values)
    model = meter.model(generation.model_name, generation.provider_name)
    generation.model = model
    # The provider the client named, when we know it (Azure reselling an OpenAI model is Azure).
    generation.provider = meter.provider(generation.provider_name) or (model.provider if model else None)
    if generation.status in GenerationStatus.terminal() and generation.completed_at is None:
        generation.completed_at = now
    check_occurred_at(
        occurred_at=generation.occurred_at,
        now=now,
        completed_at=generation.completed_at,
        attr_prefix=attr_prefix,
    )
    _meter(
        generation,
        meter=meter,
        usage_payload=usage_payload,
        tokens=tokens,
        total_tokens=total_tokens,
        attr_prefix=attr_prefix,
    )
    return generation


def _check_child(
    *, parent: Generation, kind: str, values: dict[str, Any], attr_prefix: str = ""
) -> dict[str, Any]:
    """Values of a child of ``parent``: inherited fields filled, revision/variant rules applied."""
    values = dict(values)
    for name in INHERITED_FIELDS:
        if values.get(name) in (None, ""):
            values[name] = getattr(parent, name)
    vertical = values.get("vertical")
    if kind == GenerationKind.VARIANT:
        if vertical is None:
            raise DomainError(
                "A variant adapts its parent for another vertical: name the vertical.",
                code="required",
                attr=f"{attr_prefix}vertical",
            )
        if vertical.pk == parent.vertical_id:
            raise DomainError(
                "A variant must be for another vertical than its parent's; branch a revision instead.",
                attr=f"{attr_prefix}vertical",
            )
    else:
        if vertical is not None and vertical.pk != parent.vertical_id:
            raise DomainError(
                "A revision keeps its parent's vertical; branch a variant for another vertical.",
                attr=f"{attr_prefix}vertical",
            )
        values["vertical"] = parent.vertical
    return values


def _take_versions(root_counts: dict[int, int]) -> dict[int, int]:
    """Reserve ``n`` versions in each existing tree; returns each root's first reserved version.

    Locks the roots in id order (so two writers never wait on each other crosswise) and bumps
    their ``tree_last_version`` in one statement each way. Concurrent branches of one tree queue
    on its root row, which is what makes versions unique and gap-free.
    """
    if not root_counts:
        return {}
    ids = sorted(root_counts)
    with connection.cursor() as cursor:
        if len(ids) > 1:
            cursor.execute(
                "SELECT id FROM generations_generation WHERE id = ANY(%s) ORDER BY id FOR UPDATE", [ids]
            )
        cursor.execute(
            "UPDATE generations_generation AS g SET tree_last_version = g.tree_last_version + v.n "
            "FROM unnest(%s::bigint[], %s::int[]) AS v(id, n) WHERE g.id = v.id "
            "RETURNING g.id, g.tree_last_version",
            [ids, [root_counts[i] for i in ids]],
        )
        rows = cursor.fetchall()
    return {root_id: last - root_counts[root_id] + 1 for root_id, last in rows}


def _attach(child: Generation, *, parent: Generation, kind: str, version: int) -> None:
    child.parent = parent
    child.root_id = parent.tree_root_id
    child.depth = parent.depth + 1
    child.version = version
    child.kind = kind


def _send(organization, generations, action, previous=None) -> None:
    if generations:
        generations_recorded.send(
            sender=Generation,
            organization=organization,
            generations=list(generations),
            action=action,
            previous=previous or {},
        )


def _next_ids(count: int) -> list[int]:
    """Reserve ``count`` primary keys, so a bulk can point rows at each other before inserting."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence('generations_generation', 'id')) "
            "FROM generate_series(1, %s)",
            [count],
        )
        return [row[0] for row in cursor.fetchall()]


# --- ingestion --------------------------------------------------------------------------------


@transaction.atomic
def generation_record(
    *,
    organization: Organization,
    actor: Actor = SYSTEM,
    values: dict[str, Any],
    fingerprint: str,
) -> Recorded:
    """Record one generation, idempotently by ``values["request_id"]``.

    ``values`` are validated field values (model field names; FK values are instances already
    scoped to ``organization``), plus optional ``usage`` (a provider usage object), ``parent``
    and ``kind``. Returns ``Recorded(row, created)``: ``created=False`` for a replay of the same
    body (nothing written). A replay with another body is ``ConflictingReplay``, of a deleted
    generation ``DeletedReplay`` (``tenancy.idempotency``).
    """
    parent = values.get("parent")
    kind = values.get("kind") or (GenerationKind.REVISION if parent else GenerationKind.ORIGINAL)

    def build() -> Generation:
        child_values = values
        if parent is not None:
            if parent.organization_id != organization.pk:
                raise InvalidTreeParent("No such generation in this organization.", attr="parent")
            if kind == GenerationKind.ORIGINAL:
                raise DomainError("A child is a revision or a variant of its parent.", attr="kind")
            child_values = _check_child(parent=parent, kind=kind, values=values)
        elif kind != GenerationKind.ORIGINAL:
            raise DomainError("A revision or variant needs a parent.", attr="kind")
        generation = _build(organization=organization, values=child_values, meter=Meter(), now=timezone.now())
        generation.recorded_by_key = actor.api_key
        # Relations are instances resolved inside the organization already; validating them
        # again would cost a query each.
        generation.clean_fields(exclude=RELATION_FIELDS)
        return generation

    def attach(generation: Generation) -> None:
        # In the core's savepoint: if the request_id is taken, the version reserved in the tree
        # rolls back with the INSERT that did nothing.
        first = _take_versions({parent.tree_root_id: 1})[parent.tree_root_id]
        _attach(generation, parent=parent, kind=kind, version=first)

    # No look-up first: a new request_id is one INSERT … ON CONFLICT (tenancy.idempotency).
    recorded = GENERATION_INGEST.record(
        organization=organization,
        key=values["request_id"],
        fingerprint=fingerprint,
        build=build,
        before_insert=attach if parent is not None else None,
    )
    generation = recorded.instance
    if not recorded.created:
        return recorded
    # Not audited: an ingested row records the key that wrote it (DESIGN §3); edits, deletes,
    # restores and re-pricing are.
    _send(organization, [generation], RecordedAction.CREATED)
    return recorded


def generation_branch(
    *,
    organization: Organization,
    actor: Actor = SYSTEM,
    parent: Generation,
    values: dict[str, Any],
    fingerprint: str,
) -> Recorded:
    """Create a child of ``parent``: a revision (default) or a variant for another vertical.

    Unset fields are inherited from the parent (model, campaign, template and style guide
    versions …). The version number is the tree's next one, unique even when many branch the
    same tree at once. Idempotent by ``request_id`` like :func:`generation_record`.
    """
    # Without a client request_id the branch is not idempotent: it gets a fresh one.
    request_id = values.get("request_id") or f"branch-{uuid.uuid4().hex}"
    return generation_record(
        organization=organization,
        actor=actor,
        values={
            **values,
            "request_id": request_id,
            "parent": parent,
            "kind": values.get("kind") or GenerationKind.REVISION,
        },
        fingerprint=fingerprint,
    )


def _resolve_bulk_references(organization: Organization, items: list[dict[str, Any]]) -> None:
    """Replace ``<fk>_id`` values of bulk items by rows of this organization: one query per FK.

    An id that is not this organization's is an error naming the item and field, exactly as an
    unknown id (no leak). Verticals come by slug.
    """
    if any(item.get("vertical_slug") for item in items):
        verticals = selectors.verticals_by_slug()
        for index, item in enumerate(items):
            slug = item.pop("vertical_slug", None)
            if slug is None:
                continue
            if slug not in verticals:
                raise BulkItemError(
                    index, "vertical", f"Object with slug={slug} does not exist.", code="does_not_exist"
                )
            item["vertical"] = verticals[slug]
    else:
        for item in items:
            item.pop("vertical_slug", None)
    for field, queryset_of in selectors.BULK_REFERENCES.items():
        wanted = {item[f"{field}_id"] for item in items if item.get(f"{field}_id") is not None}
        found = {row.pk: row for row in queryset_of(organization).filter(pk__in=wanted)} if wanted else {}
        for index, item in enumerate(items):
            if f"{field}_id" not in item:
                continue
            pk = item.pop(f"{field}_id")
            if pk is None:
                item[field] = None
            elif pk in found:
                item[field] = found[pk]
            else:
                raise BulkItemError(
                    index, field, f'Invalid pk "{pk}" - object does not exist.', code="does_not_exist"
                )


def _bulk_tree(
    items: list[dict[str, Any]], organization: Organization
) -> tuple[list[int | Generation | None], list[int]]:
    """Each item's parent (an item index, an existing row, or None) and a parents-first order.

    ``parent_request_id`` may name another item of the batch or a live row; a cycle among the
    items is refused naming an item of it.
    """
    index_by_request_id = {item["request_id"]: index for index, item in enumerate(items)}
    parents: list[int | Generation | None] = []
    missing = []
    for index, item in enumerate(items):
        parent_request_id = item.get("parent_request_id")
        if item.get("parent") is not None and parent_request_id:
            raise BulkItemError(index, "parent_request_id", "Give parent or parent_request_id, not both.")
        if parent_request_id:
            if parent_request_id in index_by_request_id:
                parents.append(index_by_request_id[parent_request_id])
            else:
                parents.append(None)
                missing.append((index, parent_request_id))
        else:
            parents.append(item.get("parent"))
    if missing:
        found = {
            row.request_id: row
            for row in Generation.objects.filter(
                organization=organization, request_id__in=[rid for _, rid in missing]
            )
        }
        for index, parent_request_id in missing:
            if parent_request_id not in found:
                raise BulkItemError(
                    index,
                    "parent_request_id",
                    f"No generation with request_id {parent_request_id!r} in this batch or organization.",
                    code="does_not_exist",
                )
            parents[index] = found[parent_request_id]

    order: list[int] = []
    state = [0] * len(items)  # 0 unseen, 1 on the current path, 2 placed
    for start in range(len(items)):
        path = []
        node = start
        while isinstance(parents[node], int) and state[node] == 0:
            state[node] = 1
            path.append(node)
            node = parents[node]
            if state[node] == 1:
                raise InvalidTreeParent(
                    f"Item {node}: parent_request_id makes a cycle.", attr=f"items.{node}.parent_request_id"
                )
        if state[node] == 0:
            state[node] = 2
            order.append(node)
        for placed in reversed(path):
            state[placed] = 2
            order.append(placed)
    return parents, order


@transaction.atomic
def generation_bulk_record(
    *,
    organization: Organization,
    actor: Actor = SYSTEM,
    items: list[dict[str, Any]],
    fingerprints: list[str],
) -> list[Recorded]:
    """Record up to 1,000 generations in one transaction: all are written or none.

    Items use the same values as :func:`generation_record`, except that foreign keys come as
    ``<field>_id`` (resolved here, one query per kind) and a parent may be named by
    ``parent_request_id`` (another item of the batch, or a live row). Items whose
    ``request_id`` is already recorded with the same body are replays (``created=False``); any
    error names its item as ``items.<index>.<field>``. Rows are written with one
    COPY (not audited: each row records the key that wrote it); one ``generations_recorded``
    signal covers the batch.
    """
    if len(items) > MAX_BULK_ITEMS:
        raise DomainError(f"At most {MAX_BULK_ITEMS} items per request, got {len(items)}.", attr="items")
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        if item["request_id"] in seen:
            raise BulkItemError(
                index, "request_id", f"Duplicates the request_id of item {seen[item['request_id']]}."
            )
        seen[item["request_id"]] = index

    return GENERATION_INGEST.retrying(
        lambda: _bulk_record_once(
            organization=organization, actor=actor, items=items, fingerprints=fingerprints
        )
    )


def _bulk_record_once(*, organization, actor, items, fingerprints) -> list[Recorded]:
    items = [dict(item) for item in items]
    _resolve_bulk_references(organization, items)
    results = GENERATION_INGEST.replays(
        organization=organization, keys=[item["request_id"] for item in items], fingerprints=fingerprints
    )

    parents, order = _bulk_tree(items, organization)
    now = timezone.now()
    meter = Meter()
    new_indexes = [index for index in order if results[index] is None]
    ids = iter(_next_ids(len(new_indexes)))
    built: dict[int, Generation] = {}
    for index in new_indexes:
        item = items[index]
        parent_ref = parents[index]
        kind = item.get("kind") or (
            GenerationKind.REVISION if parent_ref is not None else GenerationKind.ORIGINAL
        )
        values = item
        if parent_ref is not None and kind == GenerationKind.ORIGINAL:
            raise BulkItemError(index, "kind", "A child is a revision or a variant of its parent.")
        if parent_ref is not None:
            # Parents come first in ``order``, so an item's parent is built (or replayed) already.
            parent = parent_ref if isinstance(parent_ref, Generation) else results[parent_ref].instance
            values = _check_child(parent=parent, kind=kind, values=item, attr_prefix=f"items.{index}.")
        elif kind != GenerationKind.ORIGINAL:
            raise BulkItemError(index, "kind", "A revision or variant needs a parent.")
        generation = _build(
            organization=organization,
            values=values,
            meter=meter,
            now=now,
            attr_prefix=f"items.{index}.",
        )
        generation.pk = next(ids)
        generation.recorded_by_key = actor.api_key
        generation.request_fingerprint = fingerprints[index]
        generation.kind = kind
        built[index] = generation
        results[index] = Recorded(generation, created=True)

    _place_bulk_nodes(built, parents, results)
    rows = sorted(built.values(), key=lambda generation: generation.request_id)
    _copy_into_table(rows, now=now)
    if rows:
        _send(organization, [built[index] for index in new_indexes], RecordedAction.CREATED)
    return results


# Columns whose ``get_db_prep_save`` on PostgreSQL returns a value of these exact types as it
# is (no conversion, no adaptation): the COPY skips the call for them (~40 calls a row) and
# writes exactly what ``bulk_create`` would send. Everything else (JSON, decimals, arrays,
# str subclasses such as choices, naive datetimes …) still goes through the field.
_PLAIN_COLUMNS: dict[type, tuple[type, ...]] = {
    models.CharField: (str,),
    models.TextField: (str,),
    models.IntegerField: (int,),
    models.BigIntegerField: (int,),
    models.PositiveIntegerField: (int,),
    models.PositiveSmallIntegerField: (int,),
    models.BooleanField: (bool,),
    models.BigAutoField: (int,),
    models.AutoField: (int,),
}


def _column_kind(field) -> type | None:
    """The exact field class that decides how a column's value is prepared (a foreign key's
    is its target's); None for fields that always go through ``get_db_prep_save``."""
    if type(field) in (models.ForeignKey, models.OneToOneField):
        field = field.target_field
    return type(field) if type(field) in _PLAIN_COLUMNS else None


def _copy_into_table(rows: list[Generation], *, now: datetime.datetime) -> None:
    """Write fully built rows (ids included) with one ``COPY … FROM STDIN`` (through a staging table).

    Faster than a multi-row INSERT of ~50 columns (a quarter off a bulk request), and inside the caller's
    transaction: constraints and the unique request_id index apply as to any INSERT (a violation
    surfaces as Django's ``IntegrityError``). Values go through each field's
    ``get_db_prep_save``, exactly as ``bulk_create`` would send them, except plain values that
    it returns unchanged (``_PLAIN_COLUMNS``).
    """
    if not rows:
        return
    fields = Generation._meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    for row in rows:
        row.updated_at = now  # what auto_now would set
    # COPY FROM is refused on a table with row-level security (tenancy/rls.py), so the rows are
    # copied into a session-private temporary table and moved with one INSERT … SELECT, which the
    # tenant policy checks row by row. Called inside generation_bulk_record's transaction.
    table = connection.ops.quote_name(Generation._meta.db_table)
    staging = connection.ops.quote_name(f"staging_{Generation._meta.db_table}")
    preparers = [(field, field.attname, _PLAIN_COLUMNS.get(_column_kind(field))) for field in fields]
    with connection.cursor() as cursor, connection.wrap_database_errors:
        cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} (LIKE {table}) ON COMMIT DELETE ROWS")
        with cursor.cursor.copy(f"COPY {staging} ({columns}) FROM STDIN") as copy:
            for row in rows:
                values = []
                for field, attname, plain in preparers:
                    value = getattr(row, attname)
                    if plain is not None and (value is None or type(value) in plain):
                        values.append(value)
                    else:
                        values.append(field.get_db_prep_save(value, connection))
                copy.write_row(values)
        cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging}")  # noqa: S608 - quoted names
        cursor.execute(f"TRUNCATE {staging}")
    for row in rows:
        row._state.adding = False
        row._state.db = connection.alias


def _place_bulk_nodes(built: dict[int, Generation], parents, results) -> None:
    """Depth, root and version of each new node (``built`` is in parents-first order)."""
    new_nodes_per_existing_root: Counter[int] = Counter()
    for index, generation in built.items():
        parent_ref = parents[index]
        if parent_ref is None:
            continue
        parent = parent_ref if isinstance(parent_ref, Generation) else results[parent_ref].instance
        generation.parent = parent
        generation.depth = parent.depth + 1
        generation.root_id = parent.tree_root_id
    new_root_ids = {generation.pk for index, generation in built.items() if parents[index] is None}
    for index, generation in built.items():
        if parents[index] is not None and generation.root_id not in new_root_ids:
            new_nodes_per_existing_root[generation.root_id] += 1
    first_versions = _take_versions(dict(new_nodes_per_existing_root))
    next_version = {root_id: first for root_id, first in first_versions.items()}
    roots = {generation.pk: generation for generation in built.values() if generation.pk in new_root_ids}
    for generation in built.values():
        if generation.pk in new_root_ids:
            continue
        if generation.root_id in roots:
            root = roots[generation.root_id]
            root.tree_last_version += 1
            generation.version = root.tree_last_version
        else:
            generation.version = next_version[generation.root_id]
            next_version[generation.root_id] += 1


# --- changes ----------------------------------------------------------------------------------


@transaction.atomic
def generation_update(
    *,
    organization: Organization,
    actor: Actor = SYSTEM,
    generation: Generation,
    values: dict[str, Any],
) -> Generation:
    """Change a generation: status forward only, and content/usage while it is not finished.

    Completing a pending generation (``status`` success/partial/failed/cancelled) with content
    and usage (our token fields or ``usage``, a provider usage object) fills them and computes
    the cost at the price valid when it happened (``occurred_at``). A finished generation's result and cost
    never change (:class:`GenerationFinished`); a backwards status is :class:`StatusRegression`.
    """
    generation = Generation.objects.select_for_update().get(pk=generation.pk, organization=organization)
    values = dict(values)
    usage_payload = values.pop("usage", None)
    total_tokens = values.pop("total_tokens", None)
    new_status = values.get("status", generation.status)
    if not GenerationStatus.can_move(generation.status, new_status):
        raise StatusRegression(
            f"Status moves forward only: {generation.status} cannot become {new_status}.", attr="status"
        )
    changes_result = (
        bool(RESULT_FIELDS & set(values)) or usage_payload is not None or total_tokens is not None
    )
    if generation.is_terminal and changes_result:
        raise GenerationFinished(
            f"Generation {generation.pk} is {generation.status}: its content, usage and cost are final."
        )
    before = _audit_values(generation)
    big_before = {name: getattr(generation, name) for name in AUDITED_WITHOUT_VALUES}
    previous = {name: getattr(generation, name) for name in COUNTED_FIELDS}
    for name, value in values.items():
        setattr(generation, name, value)
    if generation.is_terminal and generation.completed_at is None:
        generation.completed_at = timezone.now()
    check_occurred_at(
        occurred_at=generation.occurred_at, now=generation.occurred_at, completed_at=generation.completed_at
    )
    if changes_result or "raw_response" in values:
        sent_tokens = any(name in values for name in TOKEN_FIELDS)
        meter = Meter()
        if usage_payload is None and not sent_tokens and generation.usage:
            # Only the status or content changed: the usage reported before stands.
            meter.remeasure(generation).apply(generation)
            if total_tokens is not None:
                generation.total_tokens = total_tokens
        else:
            _meter(
                generation,
                meter=meter,
                usage_payload=usage_payload,
                tokens={name: getattr(generation, name) for name in TOKEN_FIELDS} if sent_tokens else None,
                total_tokens=total_tokens,
            )
    generation.clean_fields(exclude=RELATION_FIELDS)
    generation.save()
    changes = _audit_changes(before, generation, big_before)
    if changes:
        tenancy_services.audit_record(
            organization=organization,
            actor=actor,
            action=AuditAction.UPDATE,
            instance=generation,
            changes=changes,
        )
    if any(previous[name] != getattr(generation, name) for name in COUNTED_FIELDS):
        _send(organization, [generation], RecordedAction.UPDATED, {generation.pk: previous})
    return generation


@transaction.atomic
def generation_delete(*, organization: Organization, actor: Actor = SYSTEM, generation: Generation) -> None:
    """Soft-delete a generation: it leaves lists, its tree keeps it, and what it cost stays spent
    (budgets, rollups, reports and weekly summaries still count it). Its ``request_id`` stays
    taken: a replay is a 409 ``deleted`` naming the restore URL."""
    tenancy_services.soft_delete(organization=organization, actor=actor, instance=generation)
    _send(organization, [generation], RecordedAction.DELETED)


@transaction.atomic
def generation_restore(*, organization: Organization, actor: Actor = SYSTEM, generation: Generation) -> None:
    """Bring back a soft-deleted generation (its request_id was never given to another row)."""
    tenancy_services.restore(organization=organization, actor=actor, instance=generation)
    _send(organization, [generation], RecordedAction.RESTORED)


# --- runs and campaigns -------------------------------------------------------------------------


@transaction.atomic
def run_create(*, organization: Organization, actor: Actor = SYSTEM, **fields) -> GenerationRun:
    """Start a multi-model run (its status and totals come from its generations)."""
    run = GenerationRun(organization=organization, **fields)
    return tenancy_services.audited_save(organization=organization, actor=actor, instance=run)


@transaction.atomic
def campaign_create(*, organization: Organization, actor: Actor = SYSTEM, **fields) -> Campaign:
    """Create a campaign."""
    campaign = Campaign(organization=organization, **fields)
    return tenancy_services.audited_save(organization=organization, actor=actor, instance=campaign)


# --- the response cache -----------------------------------------------------------------------


@transaction.atomic
def cache_entry_store(
    *,
    organization: Organization,
    key: str,
    response: Any,
    ttl_seconds: int,
    model_name: str = "",
    cost_saved_usd: Decimal = Decimal(0),
) -> tuple[CacheEntry, bool]:
    """Store (or replace) the response cached under ``key`` for ``ttl_seconds``; returns the
    entry and whether it was created (``PUT`` answers 201) rather than replaced (200).

    Django's ``update_or_create``: the existing row is locked and updated, or a new one is
    inserted in a savepoint; a concurrent PUT that inserted the key first turns ours into an
    update, so concurrent PUTs of one key never fail. A replaced entry starts counting hits
    afresh. Cache writes are not audited: they are high-volume operational data, not sensitive
    actions (the audit log would drown in them).
    """
    now = timezone.now()
    values = {
        "response": response,
        "model_name": model_name,
        "model": Meter().model(model_name),
        "cost_saved_usd": cost_saved_usd,
        "hit_count": 0,
        "expires_at": now + datetime.timedelta(seconds=ttl_seconds),
        "last_accessed_at": None,
        "created_at": now,
    }
    CacheEntry(organization=organization, key=key, **values).clean_fields()
    return CacheEntry.objects.update_or_create(organization=organization, key=key, defaults=values)


def _count_cache_access(organization: Organization, *, hit: bool, cost_saved_usd: Decimal) -> None:
    """Count one cache GET in today's stats: one INSERT of a delta row, no upsert, so concurrent
    GETs of one organization never wait on a shared row (the day's figures are the rows' sums)."""
    CacheDailyStats.objects.create(
        organization=organization,
        day=timezone.now().date(),
        hits=1 if hit else 0,
        misses=0 if hit else 1,
        cost_saved_usd=cost_saved_usd if hit else 0,
    )


@transaction.atomic
def cache_entry_hit(*, organization: Organization, key: str) -> CacheEntry | None:
    """The live entry under ``key`` with its hit counted, or None (a miss, counted too).

    The hit is one ``UPDATE … SET hit_count = hit_count + 1 … RETURNING`` the row, so
    concurrent hits are each counted exactly once and the entry is read by the same statement
    (no second ``SELECT``); an expired entry is a miss even before the purge removes it.
    """
    now = timezone.now()
    columns = ", ".join(connection.ops.quote_name(field.column) for field in CacheEntry._meta.concrete_fields)
    # Through raw() so the columns pass the fields' database converters (jsonb → response).
    hit = CacheEntry.objects.raw(
        f"UPDATE {CacheEntry._meta.db_table} SET hit_count = hit_count + 1, last_accessed_at = %s "  # noqa: S608 - the model's own names
        f"WHERE organization_id = %s AND key = %s AND expires_at > %s RETURNING {columns}",
        [now, organization.pk, key, now],
    )
    entry = next(iter(hit), None)
    _count_cache_access(
        organization, hit=entry is not None, cost_saved_usd=entry.cost_saved_usd if entry else Decimal(0)
    )
    return entry


@transaction.atomic
def cache_entry_delete(*, organization: Organization, key: str) -> bool:
    """Remove the entry under ``key``; returns whether there was one."""
    deleted, _ = CacheEntry.objects.filter(organization=organization, key=key).delete()
    return bool(deleted)


def cache_purge_expired(*, before: datetime.datetime | None = None, batch_size: int = 1000):
    """Delete expired cache entries in batches of ``batch_size``; yields each batch's count.

    Each batch is its own short transaction (``DELETE … WHERE id IN (SELECT … LIMIT n)``), so a
    purge of millions of rows never holds long locks; stats live in ``CacheDailyStats`` and
    survive it.
    """
    before = before or timezone.now()
    while True:
        with transaction.atomic():
            ids = list(
                CacheEntry.objects.filter(expires_at__lte=before)
                .order_by("expires_at")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                return
            deleted, _ = CacheEntry.objects.filter(pk__in=ids).delete()
        yield deleted
