"""The response cache: entries stored (``PUT``), hit (``GET``, counted in ``CacheDailyStats``),
deleted, and purged in batches when expired. Cache writes are not audited (high-volume
operational data).
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from generations.models import CacheDailyStats, CacheEntry
from providers.metering import Meter
from tenancy.models import Organization


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
