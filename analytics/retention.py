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

Each batch is one transaction: lock up to ``batch_size`` expired rows, collect everything their
deletion cascades to (Django's ``Collector``: a tree's nodes, their metrics), copy every one of
those rows into :class:`~analytics.models.ArchivedRecord`, delete them, check that exactly the
archived rows were deleted, record a :class:`~analytics.models.RetentionBatch`, commit. A crash
at any point rolls back the batch in flight; the batches before it are complete. Rows not
expired are never selected, and a row is never both deleted and unarchived.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.core import serializers
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, models, transaction
from django.db.models import Q
from django.db.models.deletion import Collector
from django.utils import timezone

from analytics.choices import RetentionTarget
from analytics.models import (
    ArchivedRecord,
    CleanupPreferences,
    PerformanceMetric,
    ProviderCall,
    RetentionBatch,
)
from generations import retention_services
from generations.models import Generation
from tenancy.models import Organization

# Order matters: generations go before the runs they may leave empty, and metrics of deleted
# generations are archived with them.
TARGET_ORDER = (
    RetentionTarget.FAILED_GENERATIONS,
    RetentionTarget.GENERATIONS,
    RetentionTarget.PERFORMANCE_METRICS,
    RetentionTarget.PROVIDER_CALLS,
    RetentionTarget.EMPTY_RUNS,
)
DEFAULT_BATCH_SIZE = 500


class ArchiveMismatch(RuntimeError):
    """The delete removed other rows than were archived: the batch is rolled back."""


def retention_days(*, organization: Organization) -> dict[str, int]:
    """Days each target is kept for ``organization`` (its preferences, else the platform's)."""
    preferences = CleanupPreferences.objects.filter(organization=organization).first()
    preferences = preferences or CleanupPreferences(organization=organization)
    return {target: preferences.days(target) for target in TARGET_ORDER}


def expired_rows(*, organization: Organization, target: str, cutoff: datetime.datetime) -> models.QuerySet:
    """The expired primary rows of ``target`` in ``organization`` (see the module docstring)."""
    if target == RetentionTarget.FAILED_GENERATIONS:
        return retention_services.expired_failed_generations(organization=organization, cutoff=cutoff)
    if target == RetentionTarget.GENERATIONS:
        return retention_services.expired_generation_trees(organization=organization, cutoff=cutoff)
    if target == RetentionTarget.PERFORMANCE_METRICS:
        return PerformanceMetric.objects.filter(organization=organization, created_at__lt=cutoff)
    if target == RetentionTarget.PROVIDER_CALLS:
        return ProviderCall.objects.filter(organization=organization, occurred_at__lt=cutoff)
    if target == RetentionTarget.EMPTY_RUNS:
        return retention_services.expired_empty_runs(organization=organization, cutoff=cutoff)
    raise ValueError(f"Unknown retention target {target!r}.")


def _rows_removed_with(target: str, primary: models.QuerySet) -> int:
    """How many rows of the target's table go with ``primary`` (a tree's nodes for trees)."""
    if target == RetentionTarget.GENERATIONS:
        return Generation.all_objects.filter(
            Q(pk__in=primary.values("pk")) | Q(root__in=primary.values("pk"))
        ).count()
    return primary.count()


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


def retention_plan(
    *, organizations: Iterable[Organization] | None = None, now: datetime.datetime | None = None
) -> list[TargetOutcome]:
    """What a run would expire now, per organization and target. Reads only."""
    now = now or timezone.now()
    plan = []
    for organization in organizations if organizations is not None else Organization.objects.order_by("pk"):
        for target, days in retention_days(organization=organization).items():
            cutoff = now - datetime.timedelta(days=days)
            primary = expired_rows(organization=organization, target=target, cutoff=cutoff)
            plan.append(
                TargetOutcome(
                    organization=organization.slug,
                    target=target,
                    days=days,
                    cutoff=cutoff,
                    expired=primary.count(),
                    rows=_rows_removed_with(target, primary),
                )
            )
    return plan


def _occurred_at(instance: models.Model) -> datetime.datetime | None:
    return getattr(instance, "occurred_at", None) or getattr(instance, "created_at", None)


def _archive_data(instance: models.Model) -> dict:
    data = serializers.serialize("python", [instance])[0]
    for name in getattr(instance, "audit_secret_fields", ()):
        if name in data["fields"]:
            data["fields"][name] = "[secret]"  # never copy a secret out of its encrypted column
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def _collected(collector: Collector) -> list[models.Model]:
    rows = [instance for instances in collector.data.values() for instance in instances]
    for queryset in collector.fast_deletes:
        rows.extend(queryset)
    return rows


def _archive_batch(
    *, organization: Organization, target: str, cutoff: datetime.datetime, batch_size: int, on_batch
) -> tuple[int, int]:
    """One batch in one transaction; returns (primary rows, rows archived). (0, 0): none left."""
    with transaction.atomic():
        primary = expired_rows(organization=organization, target=target, cutoff=cutoff)
        # SKIP LOCKED: a row an ingest is writing right now is left for the next run.
        ids = list(
            primary.order_by("pk")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return 0, 0
        manager = primary.model._base_manager
        collector = Collector(using=DEFAULT_DB_ALIAS, origin=None)
        collector.collect(list(manager.filter(pk__in=ids)))
        rows = _collected(collector)
        times = [
            moment
            for moment in (_occurred_at(row) for row in rows if isinstance(row, primary.model))
            if moment
        ]
        batch = RetentionBatch.objects.create(
            organization=organization,
            target=target,
            cutoff=cutoff,
            primary_rows=len(ids),
            archived_rows=len(rows),
            oldest_at=min(times, default=None),
            newest_at=max(times, default=None),
        )
        ArchivedRecord.objects.bulk_create(
            [
                ArchivedRecord(
                    batch=batch,
                    organization=organization,
                    model_label=row._meta.label_lower,
                    object_id=str(row.pk),
                    occurred_at=_occurred_at(row),
                    data=_archive_data(row),
                )
                for row in rows
            ]
        )
        deleted, _ = collector.delete()
        if deleted != len(rows):
            raise ArchiveMismatch(f"Archived {len(rows)} rows but deleting removed {deleted}; rolled back.")
        if on_batch is not None:
            on_batch(batch)  # inside the transaction: a failure here rolls this batch back too
    return len(ids), len(rows)


def retention_apply(
    *,
    organizations: Iterable[Organization] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    now: datetime.datetime | None = None,
    on_batch: Callable[[RetentionBatch], None] | None = None,
) -> list[TargetOutcome]:
    """Archive and delete every expired row, batch by batch (see the module docstring).

    ``on_batch(batch)`` runs at the end of each batch's transaction (progress bars; tests
    raise from it to simulate a crash). Returns one outcome per organization and target.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    plan = retention_plan(organizations=organizations, now=now)
    by_slug = {organization.slug: organization for organization in Organization.objects.all()}
    for outcome in plan:
        if not outcome.expired:
            continue
        organization = by_slug[outcome.organization]
        while True:
            primary_rows, archived = _archive_batch(
                organization=organization,
                target=outcome.target,
                cutoff=outcome.cutoff,
                batch_size=batch_size,
                on_batch=on_batch,
            )
            if not primary_rows:
                break
            outcome.archived += archived
            outcome.batches += 1
    return plan
