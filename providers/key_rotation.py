"""Re-encrypt every encrypted secret with the current key, in committed batches: resumable and
re-runnable.

The key ring is the configuration: ``CRYPTOGRAPHY_KEY`` is the new key, ``CRYPTOGRAPHY_OLD_KEYS``
the previous ones (readable during the rotation window). A row needs rotating when its key-version
column is not the current key's version. Before anything changes, every such row must be tagged
with a key of the ring; otherwise the rotation stops naming those rows (a missing or wrong old
key). Then rows are rotated in batches, each batch in its own transaction (rows locked, each
ciphertext decrypted with the key its tag names, encrypted with the current key, read back and
verified before the commit). A run killed midway leaves every row readable under one key of the
ring; running again rotates what is left, and a run after a finished rotation finds 0 to rotate.

Every :class:`~providers.crypto.EncryptedSecretField` of every model is found by
:func:`providers.crypto.encrypted_fields`, so a new encrypted column (social OAuth tokens, say)
is rotated without touching this module.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction

from providers.crypto import KeyRing, SecretUnreadable, decrypt_secret, encrypted_fields, reencrypt_secret
from tenancy.actors import SYSTEM, Actor
from tenancy.choices import AuditAction
from tenancy.services import audit_record
from tenancy.transactions import rolled_back_if

BATCH_SIZE = 200
MAX_NAMED_ROWS = 20


class RotationAborted(Exception):
    """The rotation stopped; the message names the rows and why (no secrets). Batches already
    committed stay rotated and readable."""


@dataclass
class RotationReport:
    to_rotate: int = 0
    rotated: int = 0
    seconds: float = 0.0
    to_version: str = ""
    dry_run: bool = False


@dataclass(frozen=True)
class _Column:
    label: str
    table: str
    pk: str
    column: str
    version: str

    @classmethod
    def of(cls, model, field) -> _Column:
        quote = connection.ops.quote_name
        return cls(
            label=f"{model._meta.label}.{field.name}",
            table=quote(model._meta.db_table),
            pk=quote(model._meta.pk.column),
            column=quote(field.column),
            version=quote(model._meta.get_field(field.version_field).column),
        )

    def pending(self, ring: KeyRing) -> list[tuple[object, str]]:
        """(pk, key version) of every row not yet under the current key."""
        sql = (
            f"SELECT {self.pk}, {self.version} FROM {self.table} "  # noqa: S608 - quoted model names
            f"WHERE {self.column} IS NOT NULL AND {self.version} <> %s ORDER BY {self.pk}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [ring.current.version])
            return cursor.fetchall()

    def rotate_batch(self, ring: KeyRing, limit: int) -> int:
        """Rotate up to ``limit`` pending rows in the caller's transaction; return how many."""
        select = (
            f"SELECT {self.pk}, {self.column} FROM {self.table} "  # noqa: S608 - quoted model names
            f"WHERE {self.column} IS NOT NULL AND {self.version} <> %s ORDER BY {self.pk} LIMIT %s FOR UPDATE"
        )
        update = f"UPDATE {self.table} SET {self.column} = %s, {self.version} = %s WHERE {self.pk} = %s"  # noqa: S608
        read_back = f"SELECT {self.pk}, {self.column} FROM {self.table} WHERE {self.pk} = ANY(%s)"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(select, [ring.current.version, limit])
            rows = cursor.fetchall()
            updates, expected = [], {}
            for row_pk, token in rows:
                try:
                    expected[row_pk] = _digest(decrypt_secret(token, keys=ring))
                    updates.append((reencrypt_secret(token, ring=ring), ring.current.version, row_pk))
                except SecretUnreadable as exc:
                    raise RotationAborted(f"{self.label} row {row_pk}: {exc}") from None
            cursor.executemany(update, updates)
            cursor.execute(read_back, [list(expected)])
            for row_pk, token in cursor.fetchall():
                if _digest(decrypt_secret(token, keys=ring.current)) != expected[row_pk]:  # pragma: no cover
                    raise RotationAborted(f"{self.label} row {row_pk} did not verify under the new key.")
        return len(rows)


def _digest(secret: str) -> bytes:
    # Verification compares digests, so no list of plaintext secrets is kept for a batch.
    return hashlib.sha256(secret.encode()).digest()


def encryption_key_rotate(
    *,
    ring: KeyRing | None = None,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    actor: Actor = SYSTEM,
    progress: Callable[[int, str], Callable[[int], None]] = lambda total, label: lambda done: None,
    announce: Callable[[int], None] = lambda count: None,
) -> RotationReport:
    """Re-encrypt every secret not under ``ring.current`` (the configured ring by default).

    ``announce(count)`` is told how many rows need rotating before any change; ``progress(total,
    label)`` returns a callback advanced by each committed batch. Raises :class:`RotationAborted`
    naming the rows that no key of the ring made, before changing anything.
    """
    ring = ring or KeyRing.from_settings()
    report = RotationReport(to_version=ring.current.version, dry_run=dry_run)
    started = time.perf_counter()
    columns = [_Column.of(model, field) for model, field in encrypted_fields()]
    pending = {column: column.pending(ring) for column in columns}
    known = set(ring.versions)
    strangers = [
        f"{column.label} row {pk} (key {version or 'none'})"
        for column, rows in pending.items()
        for pk, version in rows
        if version not in known
    ]
    if strangers:
        shown = ", ".join(strangers[:MAX_NAMED_ROWS]) + (" …" if len(strangers) > MAX_NAMED_ROWS else "")
        raise RotationAborted(
            f"{len(strangers)} secret(s) were written with a key that is neither CRYPTOGRAPHY_KEY nor in "
            f"CRYPTOGRAPHY_OLD_KEYS (configured: {', '.join(ring.versions)}): {shown}. Nothing was changed."
        )
    report.to_rotate = sum(len(rows) for rows in pending.values())
    announce(report.to_rotate)

    def rotate_all():
        for column in columns:
            advance = progress(len(pending[column]), column.label)
            while True:
                with transaction.atomic():  # one commit per batch (a savepoint in a dry run)
                    done = column.rotate_batch(ring, batch_size)
                if not done:
                    break
                report.rotated += done
                advance(done)

    with rolled_back_if(dry_run):
        rotate_all()
    if not dry_run and report.rotated:
        audit_record(
            organization=None,
            actor=actor,
            action=AuditAction.ROTATE,
            object_type="providers.encryptionkey",
            object_id=ring.current.version,
            changes={"key_version": [None, ring.current.version], "rows_rotated": [None, report.rotated]},
        )
    report.seconds = time.perf_counter() - started
    return report
