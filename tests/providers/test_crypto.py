"""providers.crypto: django-cryptography's format, its traps, and a fixed vector that fails
loudly if a library upgrade changes the format.

These tests import django_cryptography on purpose, to prove the wrapper stores exactly what the
library's own encrypted field stores; application code never imports it outside crypto.py.
"""

from __future__ import annotations

import pickle
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.db import models
from django.test import override_settings

from providers.crypto import (
    KeyMaterial,
    SecretUnreadable,
    decrypt_secret,
    encrypt_secret,
    reencrypt_secret,
)
from providers.models import ProviderCredential

# Committed ciphertext (hex) of PLAINTEXT under VECTOR_KEYS, written by django-cryptography-5 2.0.3.
VECTOR_KEYS = KeyMaterial(
    cryptography_key="inkwell-fixed-vector-cryptography-key-do-not-use",
    secret_key="inkwell-fixed-vector-secret-key-do-not-use",
)
VECTOR_VERSION = "ace4348a3789f09b"
PLAINTEXT = "sk-vector-0123456789abcdefXYZ"
VECTOR = bytes.fromhex(
    "80000000006b0414a7b544cb79f8e91f1447b45abffe6dfb5ee50cd60fb792f61d21d18fb69f0f53e9a8d9cc4b2f"
    "6382e8b1611cb8f35ce101ea4e6ad612c4f9d9c684fdeacc93f6825c295845ccd2e5af2013b06450beed74651c7a"
    "5e3cf257660df1525514758598"
)
REPO = Path(__file__).resolve().parents[2]


def library_field():
    """django-cryptography's own encrypted TextField, keyed from the settings of the moment."""
    from django_cryptography.fields import encrypt

    return encrypt(models.TextField())


def test_fixed_vector_still_decrypts():
    assert decrypt_secret(VECTOR, keys=VECTOR_KEYS) == PLAINTEXT
    assert VECTOR_KEYS.version == VECTOR_VERSION


def test_fixed_vector_reads_through_the_librarys_own_field():
    with override_settings(CRYPTOGRAPHY_KEY=VECTOR_KEYS.aes_key, SECRET_KEY=VECTOR_KEYS.secret_key):
        assert library_field()._load(VECTOR) == PLAINTEXT


def test_our_ciphertext_and_the_librarys_are_interchangeable():
    keys = KeyMaterial.from_settings()
    with override_settings(CRYPTOGRAPHY_KEY=keys.aes_key):
        field = library_field()
        assert field._load(encrypt_secret("sk-ours", keys=keys)) == "sk-ours"
        assert decrypt_secret(field._dump("sk-theirs"), keys=keys) == "sk-theirs"


def test_we_derive_the_aes_key_exactly_as_the_library_does():
    import django_cryptography.utils.crypto  # noqa: F401 - its AppConf writes the derived key into settings

    from config.settings import test as test_settings

    raw = test_settings.CRYPTOGRAPHY_KEY
    assert isinstance(raw, str)
    assert KeyMaterial(raw, settings.SECRET_KEY).aes_key == settings.CRYPTOGRAPHY_KEY
    # Either form of the setting names the same key material.
    assert KeyMaterial(raw, settings.SECRET_KEY).version == KeyMaterial.from_settings().version


def test_each_encryption_uses_a_fresh_iv():
    assert encrypt_secret("same") != encrypt_secret("same")


@pytest.mark.parametrize(
    "keys",
    [
        KeyMaterial("another-cryptography-key", VECTOR_KEYS.secret_key),
        # The trap: the HMAC signs with the raw SECRET_KEY, so changing it alone breaks every secret.
        KeyMaterial(VECTOR_KEYS.cryptography_key, "another-secret-key"),
    ],
    ids=["wrong CRYPTOGRAPHY_KEY", "wrong SECRET_KEY"],
)
def test_wrong_key_material_is_refused_without_leaking(keys):
    with pytest.raises(SecretUnreadable) as error:
        decrypt_secret(VECTOR, keys=keys)
    assert PLAINTEXT not in str(error.value)
    assert keys.version != VECTOR_VERSION


def test_tampered_ciphertext_is_refused():
    tampered = bytearray(VECTOR)
    tampered[30] ^= 0x01
    with pytest.raises(SecretUnreadable):
        decrypt_secret(bytes(tampered), keys=VECTOR_KEYS)


def test_only_strings_are_encrypted_and_only_strings_come_back():
    with pytest.raises(TypeError):
        encrypt_secret(b"bytes")  # type: ignore[arg-type]
    # A validly signed pickle of something else is still refused (we store strings only).
    forged = VECTOR_KEYS._cipher().encrypt(pickle.dumps({"not": "a string"}))
    with pytest.raises(SecretUnreadable):
        decrypt_secret(forged, keys=VECTOR_KEYS)


def test_reencrypt_moves_a_secret_to_new_key_material():
    new = KeyMaterial("new-cryptography-key", "new-secret-key")
    fresh = reencrypt_secret(VECTOR, old=VECTOR_KEYS, new=new)
    assert decrypt_secret(fresh, keys=new) == PLAINTEXT
    with pytest.raises(SecretUnreadable):
        decrypt_secret(fresh, keys=VECTOR_KEYS)


def test_key_material_never_prints_its_keys():
    text = repr(VECTOR_KEYS) + str(VECTOR_KEYS)
    assert VECTOR_KEYS.cryptography_key not in text
    assert VECTOR_KEYS.secret_key not in text


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
