"""providers.crypto: the v2 format (key-tagged Fernet, no pickle), the key ring, and the legacy
django-cryptography format that the data migration reads (a committed vector proves it still can).
"""

from __future__ import annotations

import base64
import importlib
import subprocess
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.apps import apps as django_apps
from django.test import override_settings

from providers.crypto import (
    KeyMaterial,
    KeyRing,
    SecretUnreadable,
    ciphertext_version,
    decrypt_legacy_secret,
    decrypt_secret,
    encrypt_legacy_secret,
    encrypt_secret,
    reencrypt_secret,
)
from providers.models import ProviderCredential
from tests.providers.factories import make_credential

# Committed ciphertext (hex) of PLAINTEXT in django-cryptography-5 2.0.3's format (the format of
# rows written before v2), under these two keys.
LEGACY_CRYPTOGRAPHY_KEY = "inkwell-fixed-vector-cryptography-key-do-not-use"
LEGACY_SECRET_KEY = "inkwell-fixed-vector-secret-key-do-not-use"
PLAINTEXT = "sk-vector-0123456789abcdefXYZ"
VECTOR = bytes.fromhex(
    "80000000006b0414a7b544cb79f8e91f1447b45abffe6dfb5ee50cd60fb792f61d21d18fb69f0f53e9a8d9cc4b2f"
    "6382e8b1611cb8f35ce101ea4e6ad612c4f9d9c684fdeacc93f6825c295845ccd2e5af2013b06450beed74651c7a"
    "5e3cf257660df1525514758598"
)
REPO = Path(__file__).resolve().parents[2]
KEY = KeyMaterial("inkwell-test-key-one-0123456789-abcdefghijklmnop")
OTHER = KeyMaterial("inkwell-test-key-two-0123456789-abcdefghijklmnop")


def test_legacy_vector_still_decrypts_for_the_migration():
    assert (
        decrypt_legacy_secret(VECTOR, cryptography_key=LEGACY_CRYPTOGRAPHY_KEY, secret_key=LEGACY_SECRET_KEY)
        == PLAINTEXT
    )


def test_a_wrong_legacy_aes_key_under_the_right_hmac_key_is_a_clear_error_not_unpickling():
    # The HMAC verifies (SECRET_KEY is right), AES decrypts to garbage: never handed to pickle's errors.
    with pytest.raises(SecretUnreadable, match="does not decrypt"):
        decrypt_legacy_secret(VECTOR, cryptography_key="a-wrong-key-0123456789", secret_key=LEGACY_SECRET_KEY)


def test_v2_is_tagged_with_its_key_and_holds_no_pickle():
    token = encrypt_secret(PLAINTEXT, keys=KEY)
    assert token.startswith(b"v2:" + KEY.version.encode() + b":")
    assert ciphertext_version(token) == KEY.version
    # The Fernet payload is the secret's UTF-8 bytes, not a pickle.
    fernet = Fernet(base64.urlsafe_b64encode(KEY.derived_key))
    assert fernet.decrypt(token.split(b":", 2)[2]) == PLAINTEXT.encode()
    assert decrypt_secret(token, keys=KEY) == PLAINTEXT


def test_each_encryption_uses_a_fresh_iv():
    assert encrypt_secret(PLAINTEXT, keys=KEY) != encrypt_secret(PLAINTEXT, keys=KEY)


def test_a_key_not_configured_is_refused_naming_the_versions():
    token = encrypt_secret(PLAINTEXT, keys=OTHER)
    with pytest.raises(SecretUnreadable, match=OTHER.version) as raised:
        decrypt_secret(token, keys=KEY)
    assert PLAINTEXT not in str(raised.value)


def test_a_forged_tag_or_tampered_token_is_refused():
    token = encrypt_secret(PLAINTEXT, keys=OTHER)
    forged = b"v2:" + KEY.version.encode() + token[len(b"v2:") + 16 :]
    with pytest.raises(SecretUnreadable):
        decrypt_secret(forged, keys=KEY)
    tampered = bytearray(encrypt_secret(PLAINTEXT, keys=KEY))
    tampered[-5] ^= 1
    with pytest.raises(SecretUnreadable):
        decrypt_secret(bytes(tampered), keys=KEY)
    with pytest.raises(SecretUnreadable, match="v2"):
        decrypt_secret(VECTOR, keys=KEY)


def test_only_strings_are_encrypted():
    with pytest.raises(TypeError):
        encrypt_secret(b"bytes", keys=KEY)


def test_old_keys_read_during_a_rotation_window_and_new_values_use_the_current_key():
    old_token = encrypt_secret(PLAINTEXT, keys=OTHER)
    with override_settings(
        CRYPTOGRAPHY_KEY=KEY.cryptography_key, CRYPTOGRAPHY_OLD_KEYS=[OTHER.cryptography_key]
    ):
        ring = KeyRing.from_settings()
        assert ring.versions == [KEY.version, OTHER.version]
        assert decrypt_secret(old_token) == PLAINTEXT
        fresh = reencrypt_secret(old_token, ring=ring)
        assert ciphertext_version(fresh) == KEY.version
        assert ciphertext_version(encrypt_secret("new")) == KEY.version
    after = override_settings(CRYPTOGRAPHY_KEY=KEY.cryptography_key, CRYPTOGRAPHY_OLD_KEYS=[])
    with after, pytest.raises(SecretUnreadable):
        decrypt_secret(old_token)


@pytest.mark.django_db
def test_the_data_migration_converts_legacy_rows_and_back(organization, settings):
    migration = importlib.import_module("providers.migrations.0003_secrets_without_pickle")
    credential = make_credential(organization, api_key="sk-legacy-0123456789abcdef")
    legacy = encrypt_legacy_secret(
        "sk-legacy-0123456789abcdef",
        cryptography_key=settings.CRYPTOGRAPHY_KEY,
        secret_key=settings.SECRET_KEY,
    )
    ProviderCredential.objects.filter(pk=credential.pk).update(api_key_encrypted=legacy, key_version="")

    migration.forwards(django_apps, None)
    migration.forwards(django_apps, None)  # re-runnable: v2 rows are left alone

    credential.refresh_from_db()
    assert credential.key_version == KeyMaterial.from_settings().version
    assert decrypt_secret(credential.api_key_encrypted) == "sk-legacy-0123456789abcdef"
    migration.backwards(django_apps, None)
    credential.refresh_from_db()
    assert ciphertext_version(credential.api_key_encrypted) is None
    assert (
        decrypt_legacy_secret(
            credential.api_key_encrypted,
            cryptography_key=settings.CRYPTOGRAPHY_KEY,
            secret_key=settings.SECRET_KEY,
        )
        == "sk-legacy-0123456789abcdef"
    )


def test_key_material_never_prints_its_keys():
    text = repr(KEY) + str(KEY) + repr(KeyRing(current=KEY, old=(OTHER,)))
    assert KEY.cryptography_key not in text
    assert OTHER.cryptography_key not in text


def test_encrypted_column_cannot_be_filtered_on():
    with pytest.raises(Exception, match="Unsupported lookup"):
        ProviderCredential.objects.filter(api_key_encrypted=b"x")
    assert str(ProviderCredential.objects.filter(api_key_encrypted__isnull=True).query)


def test_nothing_but_providers_crypto_imports_django_cryptography():
    found = subprocess.run(
        [  # noqa: S607 - grep from PATH, fixed arguments
            "grep",
            "-rlE",
            r"(import|from) django_cryptography",
            "--include=*.py",
            "--exclude-dir=.venv",
            "--exclude-dir=.pgdata",
            "--exclude-dir=tests",
            ".",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    assert found == ["./providers/crypto.py"]
