"""manage.py rotate_encryption_key: batches commit as they go, so a rotation killed midway is
finished by running it again, and a run after a finished rotation finds 0 to rotate. A secret no
configured key made stops the rotation before any change, naming the rows."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from providers.credentials import fingerprint_of
from providers.crypto import KeyMaterial, SecretUnreadable, ciphertext_version, decrypt_secret, encrypt_secret
from providers.models import ProviderCredential
from tenancy.models import AuditEvent
from tests.livesite import ROOT, DatabaseRelay, relayed_database_url
from tests.providers.factories import ProviderFactory

pytestmark = pytest.mark.django_db

OLD_KEY = "old-cryptography-key-0123456789-abcdefghijklmnopqrstuvwxyz"
NEW_KEY = "new-cryptography-key-0123456789-abcdefghijklmnopqrstuvwxyz"
WINDOW = {"CRYPTOGRAPHY_KEY": NEW_KEY, "CRYPTOGRAPHY_OLD_KEYS": [OLD_KEY]}


def api_key_number(n: int) -> str:
    return f"sk-rotation-{n:06d}-0123456789abcdef"


def make_credentials(organization, count: int, *, key: str = OLD_KEY, start: int = 0) -> list[str]:
    """``count`` credentials encrypted with ``key`` in one INSERT; their plain keys by id order."""
    keys = KeyMaterial(key)
    provider = ProviderFactory(slug="openai")
    plain = [api_key_number(n) for n in range(start, start + count)]
    ProviderCredential.objects.bulk_create(
        ProviderCredential(
            organization=organization,
            provider=provider,
            name=f"key {start + n}",
            api_key_encrypted=encrypt_secret(api_key, keys=keys),
            key_version=keys.version,
            fingerprint=fingerprint_of(api_key),
            last4=api_key[-4:],
        )
        for n, api_key in enumerate(plain)
    )
    return plain


def stored_rows() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, api_key_encrypted, key_version FROM providers_providercredential ORDER BY id"
        )
        return [(row[0], bytes(row[1]), row[2]) for row in cursor.fetchall()]


def rotate(**options) -> str:
    out = io.StringIO()
    with override_settings(**WINDOW):
        call_command("rotate_encryption_key", no_progress=True, stdout=out, **options)
    return out.getvalue()


def test_rotation_moves_every_secret_and_a_second_run_finds_nothing(organization):
    plain = make_credentials(organization, 300)

    first = rotate(batch_size=50)
    second = rotate()

    new = KeyMaterial(NEW_KEY)
    assert "300 to rotate" in first and "300 of 300 secrets re-encrypted" in first
    assert "0 to rotate" in second and "0 of 0" in second
    rows = stored_rows()
    assert {version for _, _, version in rows} == {new.version}
    assert {ciphertext_version(token) for _, token, _ in rows} == {new.version}
    assert [decrypt_secret(token, keys=new) for _, token, _ in rows] == plain
    assert AuditEvent.objects.filter(object_type="providers.encryptionkey").count() == 1


def test_a_secret_no_configured_key_made_stops_the_rotation_naming_the_rows(organization):
    make_credentials(organization, 5)
    strangers = make_credentials(organization, 2, key="a-third-key-nobody-configured-0123456789", start=5)
    assert len(strangers) == 2
    before = stored_rows()

    with pytest.raises(
        CommandError, match=r"2 secret\(s\).*ProviderCredential.api_key_encrypted row"
    ) as raised:
        rotate()

    for row_id, _, _ in before[-2:]:
        assert f"row {row_id} " in str(raised.value)
    assert stored_rows() == before


def test_dry_run_verifies_then_changes_nothing(organization):
    make_credentials(organization, 10)
    before = stored_rows()
    assert "rolled back (dry run)" in rotate(dry_run=True)
    assert stored_rows() == before


def test_without_the_old_key_rows_do_not_decrypt(organization):
    make_credentials(organization, 1)
    token = stored_rows()[0][1]
    with (
        override_settings(CRYPTOGRAPHY_KEY=NEW_KEY, CRYPTOGRAPHY_OLD_KEYS=[]),
        pytest.raises(SecretUnreadable),
    ):
        decrypt_secret(token)


@pytest.mark.django_db(transaction=True)
def test_killed_midway_then_run_again_then_a_third_time(organization, tmp_path):
    """kill -9 during a rotation in another process; the next run finishes it, the third rotates
    nothing, and every secret decrypts with the new key."""
    total = 1500
    plain = make_credentials(organization, total)
    new = KeyMaterial(NEW_KEY)
    relay = DatabaseRelay(connection.settings_dict)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": relayed_database_url(relay.port),
        "CRYPTOGRAPHY_KEY": NEW_KEY,
        "CRYPTOGRAPHY_OLD_KEYS": OLD_KEY,
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "rotate_encryption_key", "--batch-size", "1", "--no-progress"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while ProviderCredential.objects.filter(key_version=new.version).count() < 10:
            assert process.poll() is None, "the rotation ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)  # polling for progress, not timing an assertion
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
        relay.cut()
    rotated_before = ProviderCredential.objects.filter(key_version=new.version).count()
    assert 10 <= rotated_before < total

    second = rotate(batch_size=500)
    third = rotate()

    assert f"{total - rotated_before} to rotate" in second
    assert "0 to rotate" in third
    rows = stored_rows()
    assert [decrypt_secret(token, keys=new) for _, token, _ in rows] == plain
    assert {version for _, _, version in rows} == {new.version}
