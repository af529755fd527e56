"""Re-pricing: generations and provider calls priced again with the prices known now.

``manage.py reprice``, the admin action and ``POST /api/v1/reprice/`` are thin wrappers around
:func:`reprice_run`. Each row is metered again by the one metering core
(``providers.metering.Meter.remeasure``) from the normalised usage it stored, at its
``occurred_at``; a row whose model was unknown is resolved again from the name the client sent.

Guarantees:

- **Batches, each its own transaction**: the rows of a batch, their audit event (which keeps
  every row's previous cost) and the rollups moved by the exact difference
  (``analytics.rollups.rollups_reprice``) commit together or not at all. Rows are read in id
  order and locked (``FOR UPDATE``), so an interrupted run is resumed by running it again (or
  from ``start_after``): rows already right are not touched.
- **Idempotent**: a second run finds nothing to change and writes nothing, not even an audit
  event. ``dry_run`` computes the same report and writes nothing.
- Soft-deleted rows are re-priced too: money spent stays spent, and the rollups count them.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from analytics import rollups
from analytics.models import ProviderCall
from generations.models import Generation
from providers.choices import CostStatus
from providers.metering import TOKEN_COLUMNS, Meter
from tenancy.actors import SYSTEM, Actor
from tenancy.bulk import rows_update
from tenancy.choices import AuditAction
from tenancy.models import Organization
from tenancy.services import audit_record
from tenancy.transactions import rolled_back_if

DEFAULT_BATCH_SIZE = 500
# What re-pricing may change on a row.
REPRICED_FIELDS = ("model", "provider", "usage", *TOKEN_COLUMNS, "cost_usd", "cost_status", "price")


@dataclass
class RepriceReport:
    """What a run changed (or, in a dry run, would change)."""

    examined: int = 0
    changed: int = 0
    newly_priced: int = 0
    cost_delta_usd: Decimal = Decimal(0)
    batches: int = 0
    last_id: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "examined": self.examined,
            "changed": self.changed,
            "newly_priced": self.newly_priced,
            "cost_delta_usd": format(self.cost_delta_usd, "f"),
            "batches": self.batches,
            "last_id": dict(self.last_id),
        }


def _copy(row):
    """A detached copy of ``row``'s column values (no shared relation cache)."""
    model = type(row)
    copy = model(**{f.attname: getattr(row, f.attname) for f in model._meta.concrete_fields})
    copy._state.adding = False
    return copy


def _scope(
    queryset,
    *,
    organization: Organization | None,
    model_name: str | None,
    date_from: datetime.datetime | None,
    date_to: datetime.datetime | None,
    only_unpriced: bool,
):
    if organization is not None:
        queryset = queryset.filter(organization=organization)
    if model_name:
        queryset = queryset.filter(
            Q(model__name__iexact=model_name)
            | Q(model_name__iexact=model_name)
            | Q(model__aliases__contains=[model_name.lower()])
        )
    if date_from is not None:
        queryset = queryset.filter(occurred_at__gte=date_from)
    if date_to is not None:
        queryset = queryset.filter(occurred_at__lt=date_to)
    if only_unpriced:
        queryset = queryset.filter(cost_status=CostStatus.UNPRICED)
    # Rows that reported no usage have nothing to price.
    return queryset.exclude(cost_status=CostStatus.NO_USAGE)


def _stored(row) -> tuple:
    return tuple(
        getattr(row, f"{name}_id" if name in ("model", "provider", "price") else name)
        for name in REPRICED_FIELDS
    )


def _tables(**scope) -> tuple:
    """(label, model, queryset) of each table re-pricing reads; soft-deleted generations too."""
    return (
        ("generations", Generation, _scope(Generation.all_objects.all(), **scope)),
        ("provider_calls", ProviderCall, _scope(ProviderCall.objects.all(), **scope)),
    )


def _reprice_row(row, old, meter: Meter) -> bool:
    """Meter ``row`` again in place; returns whether anything it stores changed."""
    if row.model_id is None:
        row.model = meter.model(row.model_name, row.provider_name)
        if row.model is not None and row.provider_id is None:
            row.provider = row.model.provider
    before = _stored(old)
    meter.remeasure(row).apply(row)
    return _stored(row) != before


def _reprice_batch(model, queryset, after_id: int, *, batch_size: int, actor: Actor, report: RepriceReport):
    """One batch of one table: returns the last id read, or None when there was nothing left."""
    with transaction.atomic():
        rows = list(
            queryset.filter(pk__gt=after_id)
            .select_related("model__provider")
            .select_for_update(of=("self",))
            .order_by("pk")[:batch_size]
        )
        if not rows:
            return None
        meter = Meter(fresh=True)  # prices added a moment ago, in any process, count
        pairs = []
        for row in rows:
            old = _copy(row)
            if _reprice_row(row, old, meter):
                pairs.append((old, row))
        report.examined += len(rows)
        report.batches += 1
        if pairs:
            fields = list(REPRICED_FIELDS)
            if any(f.name == "updated_at" for f in model._meta.concrete_fields):
                now = timezone.now()
                for _, row in pairs:
                    row.updated_at = now
                fields.append("updated_at")
            # Soft-deleted generations are re-priced too (rows_update writes by key, no manager).
            rows_update(model=model, rows=[row for _, row in pairs], fields=fields)
            by_organization: dict[int, list] = {}
            for old, row in pairs:
                by_organization.setdefault(row.organization_id, []).append((old, row))
                report.changed += 1
                report.newly_priced += int(
                    old.cost_status != CostStatus.PRICED and row.cost_status == CostStatus.PRICED
                )
                report.cost_delta_usd += (row.cost_usd or 0) - (old.cost_usd or 0)
            for organization_id, changed in by_organization.items():
                audit_record(
                    organization=Organization(pk=organization_id),
                    actor=actor,
                    action=AuditAction.REPRICE,
                    object_type=model._meta.label_lower,
                    object_id=f"reprice:{changed[0][1].pk}-{changed[-1][1].pk}",
                    changes={
                        "repriced": len(changed),
                        # Every row's previous cost stays on record: [before, after].
                        "rows": {
                            str(row.pk): {
                                "cost_usd": [_money(old.cost_usd), _money(row.cost_usd)],
                                "cost_status": [old.cost_status, row.cost_status],
                                "price": [old.price_id, row.price_id],
                            }
                            for old, row in changed
                        },
                    },
                )
            if model is Generation:
                rollups.rollups_reprice(generations=pairs)
            else:
                rollups.rollups_reprice(calls=pairs)
        return rows[-1].pk


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def reprice_run(
    *,
    organization: Organization | None = None,
    model_name: str | None = None,
    date_from: datetime.datetime | None = None,
    date_to: datetime.datetime | None = None,
    only_unpriced: bool = False,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    start_after: dict[str, int] | None = None,
    actor: Actor = SYSTEM,
    progress: Callable[[int], object] | None = None,
) -> RepriceReport:
    """Price again the generations and provider calls chosen (``organization``: one tenant, or
    every one; ``model_name``: the canonical name, an alias or the name the client sent;
    ``[date_from, date_to)`` on ``occurred_at``; ``only_unpriced``), in batches of
    ``batch_size`` rows, each batch one transaction with its audit event and rollup moves.

    ``start_after`` (``{"generations": id, "provider_calls": id}``) resumes an interrupted run;
    ``progress(n)`` is called after each batch with the rows it read (a tqdm ``update``).
    ``dry_run`` rolls everything back and returns the same report.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    report = RepriceReport()
    start_after = start_after or {}
    tables = _tables(
        organization=organization,
        model_name=model_name,
        date_from=date_from,
        date_to=date_to,
        only_unpriced=only_unpriced,
    )
    # Without a dry run each batch commits on its own; a dry run rolls them all back.
    with rolled_back_if(dry_run):
        for label, model, queryset in tables:
            last = start_after.get(label, 0)
            while True:
                read_before = report.examined
                next_last = _reprice_batch(
                    model, queryset, last, batch_size=batch_size, actor=actor, report=report
                )
                if next_last is None:
                    break
                last = next_last
                report.last_id[label] = last
                if progress is not None:
                    progress(report.examined - read_before)
    return report


def reprice_count(**scope) -> int:
    """How many rows :func:`reprice_run` with the same choice (``organization``,
    ``model_name``, ``date_from``, ``date_to``, ``only_unpriced``) would examine."""
    return sum(queryset.count() for _, _, queryset in _tables(**scope))
