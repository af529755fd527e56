"""The response cache: entries stored (``PUT``), hit (``GET``, counted in ``CacheDailyStats``),
deleted, and purged in batches when expired. Cache writes are not audited (high-volume
operational data).
"""

from __future__ import annotations

import datetime
import functools
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


@functools.cache
def _hit_sql(vendor: str) -> str:
    """The text of :func:`cache_entry_hit`'s statement, made once: only its parameters change
    from one GET to the next (``vendor`` keys the cache by the connection's quoting)."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in CacheEntry._meta.concrete_fields)
    stats = CacheDailyStats._meta
    names = ("organization", "day", "hits", "misses", "cost_saved_usd")
    counters = ", ".join(quote(stats.get_field(name).column) for name in names)
    return (
        f"WITH hit AS (UPDATE {quote(CacheEntry._meta.db_table)} "  # noqa: S608 - the models' own names
        "SET hit_count = hit_count + 1, last_accessed_at = %s "
        f"WHERE organization_id = %s AND key = %s AND expires_at > %s RETURNING {columns}), "
        f"counted AS (INSERT INTO {quote(stats.db_table)} ({counters}) "
        "SELECT %s, %s, count(*), 1 - count(*), coalesce(sum(cost_saved_usd), 0) FROM hit "
        # In the INSERT, which runs on a hit and on a miss alike (one aggregate row either way).
        "HAVING set_config('synchronous_commit', 'off', true) IS NOT NULL) "
        f"SELECT {columns} FROM hit"
    )


def cache_entry_hit(*, organization: Organization, key: str) -> CacheEntry | None:
    """The live entry under ``key`` with its hit counted, or None (a miss, counted too).

    One statement: ``WITH hit AS (UPDATE … SET hit_count = hit_count + 1 … RETURNING the row)``
    counts the hit on the entry and reads it, and the same statement's ``INSERT`` of one
    ``CacheDailyStats`` delta row (hits: the rows the ``UPDATE`` returned, 0 or 1; misses: the
    rest) counts the lookup in today's stats. A plain INSERT, no upsert, so concurrent GETs of
    one organization never wait on a shared row (the day's figures are the rows' sums). One
    statement is atomic by itself, so no transaction is opened and committed around it (a cache
    GET is one round trip, not four); concurrent hits are each counted exactly once; an expired
    entry is a miss even before the purge removes it.

    The statement's transaction commits with ``synchronous_commit`` off (``set_config(…, true)``
    in the same statement, so for this transaction only, hit or miss): a GET is a read, and waiting for the
    WAL flush of its counters was most of its time (7 ms of fsync against a 0.1 ms statement
    on the bench machine). What this risks is counters only, never the answer: a crash of the
    database server (not of the app) can forget the last moments' hits, the entry's
    ``hit_count`` and the stats delta together (one transaction), never one without the other.
    """
    now = timezone.now()
    fields = CacheEntry._meta.concrete_fields
    with connection.cursor() as cursor:
        cursor.execute(
            _hit_sql(connection.vendor),
            [now, organization.pk, key, now, organization.pk, now.date()],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    # The row as a query would load it: each value through its field's database converters
    # (jsonb → the response). ``raw()`` does the same with a third of a GET's Python around it.
    values = []
    for field, value in zip(fields, row, strict=True):
        for converter in field.get_db_converters(connection):
            value = converter(value, field, connection)
        values.append(value)
    return CacheEntry.from_db(connection.alias, [field.attname for field in fields], values)


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
