"""Re-encrypt every encrypted secret from old key material to new, all or nothing.

One transaction: rows are locked, each ciphertext is decrypted with the old keys, encrypted
with the new ones and checked to decrypt back to the same secret; after the UPDATEs every
row is read back and verified under the new keys before the commit. A row that the old keys
cannot read aborts the whole rotation with nothing changed, unless the new keys already read it
(a rotation that was interrupted and is being resumed: that row is counted and left alone).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import connection, transaction

from providers.crypto import KeyMaterial, SecretUnreadable, decrypt_secret, encrypt_secret, encrypted_fields
from tenancy.actors import SYSTEM, Actor
from tenancy.choices import AuditAction
from tenancy.services import audit_record

BATCH_SIZE = 500


class RotationAborted(Exception):
    """The rotation stopped and rolled back; the message says which row and why (no secrets)."""


@dataclass
class RotationReport:
    rows: int = 0
    rotated: int = 0
    already_rotated: int = 0
    seconds: float = 0.0
    from_version: str = ""
    to_version: str = ""
    dry_run: bool = False


class _DryRunRollback(Exception):
    pass


def _digest(secret: str) -> bytes:
    # Verification compares digests, so no list of plaintext secrets is kept for the pass.
    return hashlib.sha256(secret.encode()).digest()


def _rotate_table(
    model, field, *, old: KeyMaterial, new: KeyMaterial, report: RotationReport, progress
) -> None:
    """Rotate one encrypted column; raise RotationAborted on the first unreadable row."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    pk = quote(model._meta.pk.column)
    column = quote(field.column)
    version_column = quote(model._meta.get_field(field.version_field).column)
    label = f"{model._meta.label}.{field.name}"
    select = f"SELECT {pk}, {column} FROM {table} WHERE {column} IS NOT NULL ORDER BY {pk} FOR UPDATE"  # noqa: S608
    update = f"UPDATE {table} SET {column} = %s, {version_column} = %s WHERE {pk} = %s"  # noqa: S608
    read_back = f"SELECT {pk}, {column} FROM {table} WHERE {pk} = ANY(%s)"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(select)
        rows = cursor.fetchall()
    report.rows += len(rows)
    updates: list[tuple[bytes, str, object]] = []
    expected: dict[object, bytes] = {}
    for row_pk, token in progress(rows, len(rows), label):
        try:
            secret = decrypt_secret(token, keys=old)
        except SecretUnreadable:
            if not _reads(token, new):
                raise RotationAborted(
                    f"{label} row {row_pk} does not decrypt with the old key material (nor the new): "
                    "wrong old CRYPTOGRAPHY_KEY or SECRET_KEY?"
                ) from None
            report.already_rotated += 1  # an interrupted rotation being resumed
            continue
        expected[row_pk] = _digest(secret)
        updates.append((encrypt_secret(secret, keys=new), new.version, row_pk))
    with connection.cursor() as cursor:
        for start in range(0, len(updates), BATCH_SIZE):
            cursor.executemany(update, updates[start : start + BATCH_SIZE])
        # Read back what the database now holds and prove it opens with the new keys.
        cursor.execute(read_back, [list(expected)])
        for row_pk, token in cursor.fetchall():
            if not _reads(token, new, digest=expected.pop(row_pk)):  # pragma: no cover - broken cipher
                raise RotationAborted(f"{label} row {row_pk} did not verify under the new key.")
    if expected:  # pragma: no cover - rows vanished under our lock
        raise RotationAborted(f"{label}: {len(expected)} rows were not written back.")
    report.rotated += len(updates)


def _reads(token: bytes, keys: KeyMaterial, digest: bytes | None = None) -> bool:
    """Whether ``token`` decrypts under ``keys`` (to the secret with ``digest``, when given)."""
    try:
        secret = decrypt_secret(token, keys=keys)
    except SecretUnreadable:
        return False
    return digest is None or _digest(secret) == digest


def encryption_key_rotate(
    *,
    old: KeyMaterial,
    new: KeyMaterial,
    dry_run: bool = False,
    actor: Actor = SYSTEM,
    progress: Callable[[Iterable, int, str], Iterable] = lambda rows, total, label: rows,
) -> RotationReport:
    """Rotate every :class:`~providers.crypto.EncryptedSecretField` in every model.

    Raises :class:`RotationAborted` (and changes nothing) when a row reads under neither key.
    ``progress(rows, total, label)`` wraps each table's row loop (tqdm in the command).
    """
    if old.version == new.version:
        raise RotationAborted("The old and new key material are the same; nothing to rotate.")
    report = RotationReport(from_version=old.version, to_version=new.version, dry_run=dry_run)
    started = time.perf_counter()
    try:
        with transaction.atomic():
            for model, field in encrypted_fields():
                _rotate_table(model, field, old=old, new=new, report=report, progress=progress)
            if dry_run:
                raise _DryRunRollback
            audit_record(
                organization=None,
                actor=actor,
                action=AuditAction.ROTATE,
                object_type="providers.encryptionkey",
                object_id=new.version,
                changes={
                    "key_version": [old.version, new.version],
                    "rows_rotated": [None, report.rotated],
                    "rows_already_rotated": [None, report.already_rotated],
                },
            )
    except _DryRunRollback:
        pass
    report.seconds = time.perf_counter() - started
    return report
