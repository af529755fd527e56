"""manage.py rotate_encryption_key: all secrets move to the new key in one verified transaction,
or none do."""

from __future__ import annotations

import io
import time

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from providers.credentials import credential_secret, fingerprint_of
from providers.crypto import KeyMaterial, SecretUnreadable, decrypt_secret, encrypt_secret
from providers.models import ProviderCredential
from tenancy.models import AuditEvent
from tests.providers.factories import ProviderFactory

pytestmark = pytest.mark.django_db

NEW_CRYPTOGRAPHY_KEY = "rotated-cryptography-key-0123456789-abcdefghijklmnopqrstuvwxyz"
NEW_SECRET_KEY = "rotated-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEF"


def api_key_number(n: int) -> str:
    return f"sk-rotation-{n:06d}-0123456789abcdef"


def make_credentials(organization, count: int) -> list[str]:
    """``count`` encrypted credentials in one INSERT; returns their plain keys by id order."""
    keys = KeyMaterial.from_settings()
    provider = ProviderFactory(slug="openai")
    plain = [api_key_number(n) for n in range(count)]
    ProviderCredential.objects.bulk_create(
        ProviderCredential(
            organization=organization,
            provider=provider,
            name=f"key {n}",
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
            "SELECT id, api_key_encrypted, key_version, updated_at "
            "FROM providers_providercredential ORDER BY id"
        )
        return [(row[0], bytes(row[1]), row[2], row[3]) for row in cursor.fetchall()]


def test_one_thousand_credentials_rotate_and_all_decrypt_under_the_new_key(organization, capsys):
    plain = make_credentials(organization, 1000)
    old = KeyMaterial.from_settings()
    new = KeyMaterial(NEW_CRYPTOGRAPHY_KEY, NEW_SECRET_KEY)

    started = time.perf_counter()
    call_command(
        "rotate_encryption_key",
        new_cryptography_key=NEW_CRYPTOGRAPHY_KEY,
        new_secret_key=NEW_SECRET_KEY,
        stdout=(out := io.StringIO()),
    )
    elapsed = time.perf_counter() - started

    rows = stored_rows()
    assert len(rows) == 1000
    assert [decrypt_secret(token, keys=new) for _, token, _, _ in rows] == plain
    assert {version for _, _, version, _ in rows} == {new.version}
    with pytest.raises(SecretUnreadable):
        decrypt_secret(rows[0][1], keys=old)
    assert "1000 of 1000 secrets re-encrypted" in out.getvalue()
    event = AuditEvent.objects.get(object_type="providers.encryptionkey")
    assert event.action == "rotate"
    assert event.changes["key_version"] == [old.version, new.version]
    assert "1000/1000" in capsys.readouterr().err  # the tqdm progress bar
    assert elapsed < 30, elapsed
    # The application, restarted on the new settings, reads its keys again.
    with override_settings(CRYPTOGRAPHY_KEY=NEW_CRYPTOGRAPHY_KEY, SECRET_KEY=NEW_SECRET_KEY):
        assert credential_secret(credential=ProviderCredential.objects.order_by("id").first()) == plain[0]


@pytest.mark.parametrize(
    "wrong",
    [
        {"old_cryptography_key": "not-the-old-cryptography-key"},
        {"old_secret_key": "not-the-old-secret-key"},
    ],
    ids=["wrong old CRYPTOGRAPHY_KEY", "wrong old SECRET_KEY"],
)
def test_a_wrong_old_key_aborts_and_leaves_every_row_byte_identical(organization, wrong):
    make_credentials(organization, 50)
    before = stored_rows()

    with pytest.raises(CommandError, match="nothing changed"):
        call_command(
            "rotate_encryption_key", new_cryptography_key=NEW_CRYPTOGRAPHY_KEY, no_progress=True, **wrong
        )

    assert stored_rows() == before
    assert not AuditEvent.objects.filter(object_type="providers.encryptionkey").exists()


def test_keys_from_the_environment_and_an_interrupted_rotation_resumes(organization, monkeypatch):
    plain = make_credentials(organization, 20)
    new = KeyMaterial(NEW_CRYPTOGRAPHY_KEY, KeyMaterial.from_settings().secret_key)
    # Simulate a rotation that died half way: the first five rows are already under the new key.
    first_five = list(ProviderCredential.objects.order_by("id")[:5])
    for credential, api_key in zip(first_five, plain, strict=False):
        ProviderCredential.objects.filter(pk=credential.pk).update(
            api_key_encrypted=encrypt_secret(api_key, keys=new), key_version=new.version
        )
    monkeypatch.setenv("NEW_CRYPTOGRAPHY_KEY", NEW_CRYPTOGRAPHY_KEY)

    call_command("rotate_encryption_key", no_progress=True, stdout=(out := io.StringIO()))

    assert "15 of 20 secrets re-encrypted, 5 already under the new key" in out.getvalue()
    assert [decrypt_secret(token, keys=new) for _, token, _, _ in stored_rows()] == plain


def test_dry_run_verifies_then_changes_nothing(organization):
    make_credentials(organization, 10)
    before = stored_rows()
    call_command(
        "rotate_encryption_key",
        new_cryptography_key=NEW_CRYPTOGRAPHY_KEY,
        dry_run=True,
        no_progress=True,
        stdout=(out := io.StringIO()),
    )
    assert "rolled back (dry run)" in out.getvalue()
    assert stored_rows() == before


def test_rotation_needs_a_new_key(organization):
    from config.settings import test as test_settings

    with pytest.raises(CommandError, match="new key"):
        call_command("rotate_encryption_key", no_progress=True)
    with pytest.raises(CommandError, match="same"):
        call_command(
            "rotate_encryption_key", new_cryptography_key=test_settings.CRYPTOGRAPHY_KEY, no_progress=True
        )
