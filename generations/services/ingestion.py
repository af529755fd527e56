"""Ingestion of generations: one (``generation_record``), a branch of an existing one
(``generation_branch``) and a bulk of up to 1,000 (``generation_bulk_record``), with the metering
glue that prices them and the ``generations_recorded`` send every write of the package uses.

Idempotency is ``tenancy.idempotency``'s (``GENERATION_INGEST``): ``(organization, request_id)``
is unique over every generation, soft-deleted ones included. The same body again answers the
first row; another body is a 409; the request of a deleted generation is a 409 ``deleted``
naming its restore URL (it is restored, never recorded twice); a race meets the constraint.
Ingested rows are not audited: they record the key that wrote them (DESIGN §3).

Tree rules and versions are ``generations.services.trees``'; a bulk's rows are written by
``generations.services.copy_writer``.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from generations import selectors
from generations.choices import GenerationKind, GenerationStatus, RecordedAction
from generations.errors import BulkItemError, InvalidTreeParent
from generations.models import Generation
from generations.services.copy_writer import copy_into_table, next_ids
from generations.services.trees import attach_child, bulk_tree, check_child, place_bulk_nodes, take_versions
from generations.signals import generations_recorded
from providers.metering import Meter, check_occurred_at
from tenancy.actors import SYSTEM, Actor
from tenancy.errors import DomainError
from tenancy.idempotency import IdempotentIngest, Recorded
from tenancy.models import Organization
from tenancy.services import clean_unchecked_fields

GENERATION_INGEST = IdempotentIngest(
    model=Generation,
    constraint="generation_unique_request_id_per_org",
    restore_url=lambda generation: reverse("generation-restore", kwargs={"pk": generation.pk}),
)
MAX_BULK_ITEMS = 1000
RELATION_FIELDS = frozenset(field.name for field in Generation._meta.concrete_fields if field.is_relation)
TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


def meter_generation(
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
    keep_client_total(generation, total_tokens, attr_prefix=attr_prefix)


def keep_client_total(generation: Generation, total_tokens: int | None, *, attr_prefix: str = "") -> None:
    """The client's ``total_tokens`` (None: the metered one stands), which cannot be less than
    the input and output tokens it totals (a 400 naming it, not a report that does not add up)."""
    if total_tokens is None:
        return
    counted = generation.input_tokens + generation.output_tokens
    if total_tokens < counted:
        raise DomainError(
            f"total_tokens {total_tokens} is less than the input and output tokens ({counted}).",
            attr=f"{attr_prefix}total_tokens",
        )
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
    meter_generation(
        generation,
        meter=meter,
        usage_payload=usage_payload,
        tokens=tokens,
        total_tokens=total_tokens,
        attr_prefix=attr_prefix,
    )
    return generation


def send_recorded(organization, generations, action, previous=None, written_with=None) -> None:
    """Send ``generations_recorded`` for ``generations`` (none: nothing sent), inside the caller's
    transaction so analytics' rollups commit with the rows they count. With ``written_with``
    (a :class:`~tenancy.idempotency.WrittenWith`; generations built, not yet inserted) the
    receivers add their writes to it instead, for the statement that inserts the rows."""
    if generations:
        generations_recorded.send(
            sender=Generation,
            organization=organization,
            generations=list(generations),
            action=action,
            previous=previous or {},
            written_with=written_with,
        )


def generation_record(
    *,
    organization: Organization,
    actor: Actor = SYSTEM,
    values: dict[str, Any],
    fingerprint: str,
    checked_fields: frozenset[str] = frozenset(),
) -> Recorded:
    """Record one generation, idempotently by ``values["request_id"]``.

    ``values`` are validated field values (model field names; FK values are instances already
    scoped to ``organization``), plus optional ``usage`` (a provider usage object), ``parent``
    and ``kind``. Returns ``Recorded(row, created)``: ``created=False`` for a replay of the same
    body (nothing written). A replay with another body is ``ConflictingReplay``, of a deleted
    generation ``DeletedReplay`` (``tenancy.idempotency``). ``checked_fields``: the fields whose
    values the caller's serializer checked as the model would (``tenancy.api.checked_fields``),
    not checked again while the row holds them unchanged.
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
            child_values = check_child(parent=parent, kind=kind, values=values)
        elif kind != GenerationKind.ORIGINAL:
            raise DomainError("A revision or variant needs a parent.", attr="kind")
        generation = _build(organization=organization, values=child_values, meter=Meter(), now=timezone.now())
        generation.recorded_by_key = actor.api_key
        # Relations are instances resolved inside the organization already; validating them
        # again would cost a query each.
        clean_unchecked_fields(generation, exclude=RELATION_FIELDS, checked=checked_fields, values=values)
        return generation

    def attach(generation: Generation) -> None:
        # In the core's savepoint: if the request_id is taken, the version reserved in the tree
        # rolls back with the INSERT that did nothing.
        first = take_versions({parent.tree_root_id: 1})[parent.tree_root_id]
        attach_child(generation, parent=parent, kind=kind, version=first)

    # No look-up first: a new request_id is one INSERT … ON CONFLICT (tenancy.idempotency).
    # Not audited: an ingested row records the key that wrote it (DESIGN §3); edits, deletes,
    # restores and re-pricing are.
    if parent is None:
        # One statement and no transaction of its own: the INSERT, with the writes the
        # ``generations_recorded`` receivers add (analytics' rollup deltas), which happen only if
        # the INSERT writes the row (a replay writes nothing).
        return GENERATION_INGEST.record(
            organization=organization,
            key=values["request_id"],
            fingerprint=fingerprint,
            build=build,
            add_writes=lambda generation, written_with: send_recorded(
                organization, [generation], RecordedAction.CREATED, written_with=written_with
            ),
        )
    # A child also takes a version of its tree, in a savepoint with its INSERT.
    with transaction.atomic():
        recorded = GENERATION_INGEST.record(
            organization=organization,
            key=values["request_id"],
            fingerprint=fingerprint,
            build=build,
            before_insert=attach,
        )
        if recorded.created:
            send_recorded(organization, [recorded.instance], RecordedAction.CREATED)
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

    parents, order = bulk_tree(items, organization)
    now = timezone.now()
    meter = Meter()
    new_indexes = [index for index in order if results[index] is None]
    ids = iter(next_ids(len(new_indexes)))
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
            values = check_child(parent=parent, kind=kind, values=item, attr_prefix=f"items.{index}.")
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

    place_bulk_nodes(built, parents, results)
    rows = sorted(built.values(), key=lambda generation: generation.request_id)
    copy_into_table(rows, now=now)
    if rows:
        send_recorded(organization, [built[index] for index in new_indexes], RecordedAction.CREATED)
    return results
