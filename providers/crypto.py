"""Encryption at rest for secrets (provider API keys): the one module that imports
django-cryptography.

What we use of the library is its cipher, unchanged: AES-CBC with a key derived by PBKDF2 from
``CRYPTOGRAPHY_KEY``, signed by HMAC-SHA256 (``FernetBytes`` + ``FernetSigner``), over a pickled
value. A stored value is byte-for-byte what ``django_cryptography.fields.encrypt(TextField())``
would store, so either side can read the other (``tests/providers/test_crypto.py`` proves it and
decrypts a committed vector, so a library upgrade that changes the format fails loudly).

Its traps, and what this module does about each:

- **It pickles values.** Unpickling is code execution in the wrong hands. We only ever encrypt
  ``str`` (anything else is refused) and unpickle only after the HMAC has verified, and refuse
  whatever is not a ``str``.
- **Two keys, not one.** The AES key is derived from ``CRYPTOGRAPHY_KEY`` (or ``SECRET_KEY``
  when that is empty), but the HMAC signs with the *raw* ``SECRET_KEY``: changing
  ``SECRET_KEY`` alone makes every secret unreadable. :class:`KeyMaterial` always carries both,
  and ``manage.py rotate_encryption_key`` takes old and new values of each.
- **Importing it rewrites settings.** Its ``AppConf`` replaces ``settings.CRYPTOGRAPHY_KEY``
  with the derived 32 bytes the first time the library is imported. :meth:`KeyMaterial.aes_key`
  accepts either form.
- **Its fields cannot be filtered on** (a fresh IV per write) and decrypt on every load, so a
  wrong key breaks every query that touches the row. :class:`EncryptedSecretField` therefore
  holds the *ciphertext* on the model instance; plaintext exists only in the return value of
  :func:`decrypt_secret` (called by ``providers.credentials.credential_secret``), never on a
  model, in a form, a serializer or the audit log. Rows are matched by a fingerprint column.

Each encrypted value records the :attr:`KeyMaterial.version` it was written with (a sibling
column named by ``EncryptedSecretField(version_field=…)``), so a rotation can be verified and
resumed.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass, field
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from django.conf import settings
from django.db import models
from django.utils.encoding import force_bytes
from django_cryptography.core.signing import BadSignature, FernetSigner
from django_cryptography.utils.crypto import FernetBytes, InvalidToken, pbkdf2

# django-cryptography's key derivation (its CryptographyConf.configure): PBKDF2-HMAC-SHA256,
# 30,000 iterations, 32 bytes, salt CRYPTOGRAPHY_SALT. Tests check we derive what it derives.
_KDF_ITERATIONS = 30_000
_KDF_LENGTH = 32
_DEFAULT_SALT = "django-cryptography"


class SecretUnreadable(Exception):
    """A ciphertext does not verify or decrypt under the given key material (wrong key,
    corrupted or foreign data). The message never contains key material or plaintext."""


def _salt() -> bytes:
    return force_bytes(getattr(settings, "CRYPTOGRAPHY_SALT", None) or _DEFAULT_SALT)


@lru_cache(maxsize=32)
def _derive(raw_key: bytes, salt: bytes) -> bytes:
    # PBKDF2 is slow on purpose (~20 ms); a process derives each key once.
    return pbkdf2(raw_key, salt, _KDF_ITERATIONS, dklen=_KDF_LENGTH, digest=hashes.SHA256())


@lru_cache(maxsize=32)
def _fernet(aes_key: bytes, secret_key: bytes) -> FernetBytes:
    return FernetBytes(key=aes_key, signer=FernetSigner(key=secret_key))


@dataclass(frozen=True)
class KeyMaterial:
    """The pair of settings an encrypted value depends on: ``CRYPTOGRAPHY_KEY`` (AES key
    source) and ``SECRET_KEY`` (HMAC key). Never printed: both fields are hidden from repr."""

    cryptography_key: str | bytes = field(repr=False)
    secret_key: str = field(repr=False)

    @classmethod
    def from_settings(cls) -> KeyMaterial:
        """The key material the running process is configured with."""
        return cls(
            cryptography_key=settings.CRYPTOGRAPHY_KEY or settings.SECRET_KEY, secret_key=settings.SECRET_KEY
        )

    @property
    def aes_key(self) -> bytes:
        """The 32-byte AES key, derived exactly as django-cryptography derives it.

        A ``bytes`` value of 32 bytes is taken as already derived: django-cryptography writes
        the derived key back into ``settings.CRYPTOGRAPHY_KEY`` when it is first imported.
        """
        if not self.cryptography_key or not self.secret_key:
            raise SecretUnreadable(
                "Key material is incomplete: CRYPTOGRAPHY_KEY and SECRET_KEY are both needed."
            )
        if isinstance(self.cryptography_key, bytes) and len(self.cryptography_key) == _KDF_LENGTH:
            return self.cryptography_key
        return _derive(force_bytes(self.cryptography_key), _salt())

    @property
    def version(self) -> str:
        """A short, non-secret identifier of this key material (16 hex characters).

        Stored beside every ciphertext; equal versions mean "written with these keys". It is a
        hash of the derived key and the HMAC key, so it reveals nothing usable about either.
        """
        digest = hashlib.sha256(
            b"inkwell-key-version\x00" + self.aes_key + b"\x00" + force_bytes(self.secret_key)
        )
        return digest.hexdigest()[:16]

    def _cipher(self) -> FernetBytes:
        return _fernet(self.aes_key, force_bytes(self.secret_key))


def encrypt_secret(value: str, *, keys: KeyMaterial | None = None) -> bytes:
    """Encrypt a string with ``keys`` (the configured keys by default); returns the ciphertext."""
    if not isinstance(value, str):
        # django-cryptography pickles whatever it is given; we store strings only.
        raise TypeError("Only strings are encrypted.")
    keys = keys or KeyMaterial.from_settings()
    return keys._cipher().encrypt(pickle.dumps(value))


def decrypt_secret(token: bytes | memoryview, *, keys: KeyMaterial | None = None) -> str:
    """Decrypt a ciphertext made by :func:`encrypt_secret`; raises :class:`SecretUnreadable`."""
    keys = keys or KeyMaterial.from_settings()
    try:
        payload = keys._cipher().decrypt(bytes(token))
    except (BadSignature, InvalidToken, ValueError) as exc:
        raise SecretUnreadable("The secret does not decrypt with this key material.") from exc
    # Unpickled only now that the HMAC proved we wrote it; anything but a string is refused.
    value = pickle.loads(payload)  # noqa: S301 - authenticated (HMAC-verified) payload of our own
    if not isinstance(value, str):
        raise SecretUnreadable("The decrypted secret is not a string.")
    return value


def reencrypt_secret(token: bytes | memoryview, *, old: KeyMaterial, new: KeyMaterial) -> bytes:
    """Decrypt with ``old``, encrypt with ``new``, and prove the result reads back under ``new``."""
    plain = decrypt_secret(token, keys=old)
    fresh = encrypt_secret(plain, keys=new)
    if decrypt_secret(fresh, keys=new) != plain:  # pragma: no cover - a broken cipher, not a case
        raise SecretUnreadable("Re-encrypted secret did not verify under the new key.")
    return fresh


class EncryptedSecretField(models.BinaryField):
    """A ``bytea`` column holding a ciphertext from :func:`encrypt_secret`.

    The model attribute is the ciphertext, not the plaintext (see the module docstring).
    ``version_field`` names the sibling ``CharField`` that records :attr:`KeyMaterial.version`;
    ``manage.py rotate_encryption_key`` finds every field of this class in every model.
    Only ``isnull`` lookups exist: ciphertexts cannot be compared.
    """

    description = "Encrypted secret (django-cryptography format)"

    def __init__(self, *args, version_field: str = "", **kwargs):
        self.version_field = version_field
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if self.version_field:
            kwargs["version_field"] = self.version_field
        return name, path, args, kwargs

    def get_lookup(self, lookup_name):
        if lookup_name != "isnull":
            return None
        return super().get_lookup(lookup_name)

    def get_transform(self, lookup_name):
        return None

    def from_db_value(self, value, expression, connection):
        return None if value is None else bytes(value)


def encrypted_fields() -> list[tuple[type[models.Model], EncryptedSecretField]]:
    """Every (model, field) pair holding encrypted secrets, in a stable order."""
    from django.apps import apps

    found = []
    for model in apps.get_models():
        for model_field in model._meta.concrete_fields:
            if isinstance(model_field, EncryptedSecretField):
                found.append((model, model_field))
    return sorted(found, key=lambda pair: (pair[0]._meta.label, pair[1].name))
