"""Locks named by a string: PostgreSQL advisory locks.

A run-once lock (:func:`run_exclusively`) is held by a database session, so it is released when
the holder finishes, and also when its process dies (the server ends the session): a crashed job
never leaves a lock behind. A transaction lock (:func:`lock_until_commit`) is released when the
transaction ends, however it ends. Keys are the pair (``NAMESPACE``, ``hashtext(name)``), so they
cannot collide with the one-key advisory locks another program on the same database may take.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import connection

NAMESPACE = 0x1A4B_0001  # "Inkwell run-once lock"; any fixed int4 would do


@contextlib.contextmanager
def run_exclusively(name: str) -> Iterator[bool]:
    """Try to take the lock ``name`` for the duration of the block; yields whether it was taken.

    Never waits: a caller that gets ``False`` must skip its work (someone else is doing it).
    The lock belongs to the current thread's database session, not to a transaction.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", [NAMESPACE, name])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", [NAMESPACE, name])


def lock_until_commit(name: str) -> None:
    """Wait for the lock ``name`` and hold it until the current transaction ends (commit or
    rollback). Outside a transaction it would be released at once: call it inside one."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [NAMESPACE, name])


def is_locked(name: str) -> bool:
    """Whether some session holds the lock ``name`` right now (read from ``pg_locks``; takes nothing)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND objsubid = 2 AND classid::bigint = %s "
            "AND objid::bigint = (hashtext(%s)::bigint & 4294967295))",
            [NAMESPACE, name],
        )
        return cursor.fetchone()[0]
