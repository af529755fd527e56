"""Encryption at rest for secrets (provider API keys, and any other ``EncryptedSecretField``).

Format (``v2``): ``b"v2:" + <key version> + b":" + <Fernet token>``. Fernet (``cryptography``) is
AES-128-CBC with an HMAC-SHA256 over the whole token, both keys taken from one 32-byte key that is
derived from ``CRYPTOGRAPHY_KEY`` by PBKDF2 (exactly as django-cryptography derived it, so the
configured value keeps its meaning). The plaintext is the secret's UTF-8 bytes: **nothing is
pickled**, and a wrong key is an HMAC failure (:class:`SecretUnreadable`), never garbage handed to
a deserialiser.

Each ciphertext is tagged with the version of the key that made it (also stored in a sibling
column named by ``EncryptedSecretField(version_field=…)``, which rotation filters on). Decryption
picks the key by that tag from the key ring: ``CRYPTOGRAPHY_KEY`` (the one new values are written
with) plus ``CRYPTOGRAPHY_OLD_KEYS`` during a rotation window, so both keys work while
``manage.py rotate_encryption_key`` moves rows to the new one, batch by batch.

The previous format (django-cryptography's pickled value, HMAC-signed with ``SECRET_KEY``) is
read only by :func:`decrypt_legacy_secret`, used by the data migration that converted existing
rows; it is the one place that still touches django-cryptography or ``pickle``.

Plaintext exists only in the return value of :func:`decrypt_secret` (called by
``providers.credentials.credential_secret``), never on a model, in a form, a serializer or the
audit log: the model attribute is the ciphertext.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from django.conf import settings
from django.db import models
from django.utils.encoding import force_bytes

# django-cryptography's key derivation (its CryptographyConf.configure): PBKDF2-HMAC-SHA256,
# 30,000 iterations, 32 bytes, salt CRYPTOGRAPHY_SALT. Tests check we derive what it derives.
_KDF_ITERATIONS = 30_000
_KDF_LENGTH = 32
_DEFAULT_SALT = "django-cryptography"
FORMAT_PREFIX = b"v2:"


class SecretUnreadable(Exception):
    """A ciphertext does not verify or decrypt under the configured keys (wrong or missing key,
    corrupted or foreign data). The message never contains key material or plaintext."""


def _salt() -> bytes:
    return force_bytes(getattr(settings, "CRYPTOGRAPHY_SALT", None) or _DEFAULT_SALT)


@lru_cache(maxsize=32)
def _derive(raw_key: bytes, salt: bytes) -> bytes:
    # PBKDF2 is slow on purpose (~20 ms); a process derives each key once.
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=_KDF_LENGTH, salt=salt, iterations=_KDF_ITERATIONS)
    return kdf.derive(raw_key)


@lru_cache(maxsize=32)
def _fernet(derived: bytes) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derived))


@dataclass(frozen=True)
class KeyMaterial:
    """One encryption key (a ``CRYPTOGRAPHY_KEY`` value). Never printed: hidden from repr."""

    cryptography_key: str | bytes = field(repr=False)

    @classmethod
    def from_settings(cls) -> KeyMaterial:
        """The key new secrets are written with."""
        return cls(cryptography_key=settings.CRYPTOGRAPHY_KEY or settings.SECRET_KEY)

    @property
    def derived_key(self) -> bytes:
        """The 32-byte key, derived exactly as django-cryptography derives it. A ``bytes`` value of
        32 bytes is taken as already derived (importing django-cryptography writes the derived
        key back into ``settings.CRYPTOGRAPHY_KEY``)."""
        if not self.cryptography_key:
            raise SecretUnreadable("CRYPTOGRAPHY_KEY is empty.")
        if isinstance(self.cryptography_key, bytes) and len(self.cryptography_key) == _KDF_LENGTH:
            return self.cryptography_key
        return _derive(force_bytes(self.cryptography_key), _salt())

    @property
    def version(self) -> str:
        """A short, non-secret identifier of this key (16 hex characters): a hash of the derived
        key, stored beside and inside every ciphertext it makes."""
        return hashlib.sha256(b"inkwell-key-v2\x00" + self.derived_key).hexdigest()[:16]


@dataclass(frozen=True)
class KeyRing:
    """The key new values are written with, and the older keys still accepted for reading
    (``CRYPTOGRAPHY_OLD_KEYS``, during a rotation window)."""

    current: KeyMaterial
    old: tuple[KeyMaterial, ...] = ()

    @classmethod
    def from_settings(cls) -> KeyRing:
        old = tuple(KeyMaterial(value) for value in getattr(settings, "CRYPTOGRAPHY_OLD_KEYS", ()) if value)
        return cls(current=KeyMaterial.from_settings(), old=old)

    @property
    def versions(self) -> list[str]:
        return [self.current.version, *(key.version for key in self.old)]

    def key_for(self, version: str) -> KeyMaterial | None:
        for key in (self.current, *self.old):
            if key.version == version:
                return key
        return None


def encrypt_secret(value: str, *, keys: KeyMaterial | None = None) -> bytes:
    """Encrypt a string with ``keys`` (``CRYPTOGRAPHY_KEY`` by default); the result is tagged with
    the key's version."""
    if not isinstance(value, str):
        raise TypeError("Only strings are encrypted.")
    keys = keys or KeyMaterial.from_settings()
    token = _fernet(keys.derived_key).encrypt(value.encode("utf-8"))
    return FORMAT_PREFIX + keys.version.encode() + b":" + token


def ciphertext_version(token: bytes | memoryview) -> str | None:
    """The key version a ciphertext is tagged with, or None if it is not in the v2 format."""
    token = bytes(token)
    if not token.startswith(FORMAT_PREFIX):
        return None
    version, sep, _ = token[len(FORMAT_PREFIX) :].partition(b":")
    return version.decode("ascii", "replace") if sep else None


def decrypt_secret(token: bytes | memoryview, *, keys: KeyMaterial | KeyRing | None = None) -> str:
    """Decrypt a ciphertext made by :func:`encrypt_secret` with the key its tag names (from
    ``keys``, by default the configured key ring); raises :class:`SecretUnreadable`."""
    token = bytes(token)
    version = ciphertext_version(token)
    if version is None:
        raise SecretUnreadable("Not an Inkwell v2 ciphertext (run `manage.py migrate`).")
    ring = keys if isinstance(keys, KeyRing) else KeyRing(current=keys) if keys else KeyRing.from_settings()
    key = ring.key_for(version)
    if key is None:
        raise SecretUnreadable(
            f"Written with key version {version}; the configured keys are {', '.join(ring.versions)} "
            "(set CRYPTOGRAPHY_OLD_KEYS during a rotation)."
        )
    try:
        plain = _fernet(key.derived_key).decrypt(token[len(FORMAT_PREFIX) + len(version) + 1 :])
    except InvalidToken as exc:
        raise SecretUnreadable("The secret does not verify under its key (corrupted?).") from exc
    return plain.decode("utf-8")


def reencrypt_secret(token: bytes | memoryview, *, ring: KeyRing) -> bytes:
    """Decrypt with whichever key of ``ring`` made it, encrypt with ``ring.current``, and prove the
    result reads back to the same secret."""
    plain = decrypt_secret(token, keys=ring)
    fresh = encrypt_secret(plain, keys=ring.current)
    if decrypt_secret(fresh, keys=ring.current) != plain:  # pragma: no cover - a broken cipher
        raise SecretUnreadable("Re-encrypted secret did not verify under the new key.")
    return fresh


# --- The previous format, for the data migration only ---------------------------------------


def _legacy_cipher(cryptography_key: str | bytes, secret_key: str):
    from django_cryptography.core.signing import FernetSigner
    from django_cryptography.utils.crypto import FernetBytes

    return FernetBytes(
        key=KeyMaterial(cryptography_key).derived_key, signer=FernetSigner(key=force_bytes(secret_key))
    )


def decrypt_legacy_secret(
    token: bytes | memoryview, *, cryptography_key: str | bytes, secret_key: str
) -> str:
    """Read a value in django-cryptography's format (pickled, HMAC-signed with ``SECRET_KEY``).

    Only the migration that converts existing rows calls this. The payload is unpickled only after
    its HMAC verified, and only a ``str`` is accepted; any failure is :class:`SecretUnreadable`.
    """
    import pickle

    from django_cryptography.core.signing import BadSignature
    from django_cryptography.utils.crypto import InvalidToken as LegacyInvalidToken

    try:
        payload = _legacy_cipher(cryptography_key, secret_key).decrypt(bytes(token))
        value = pickle.loads(payload)  # noqa: S301 - HMAC-verified payload we wrote, migration only
    except (BadSignature, LegacyInvalidToken, ValueError, pickle.UnpicklingError, EOFError) as exc:
        raise SecretUnreadable(
            "The legacy secret does not decrypt with CRYPTOGRAPHY_KEY/SECRET_KEY."
        ) from exc
    if not isinstance(value, str):
        raise SecretUnreadable("The legacy secret is not a string.")
    return value


def encrypt_legacy_secret(value: str, *, cryptography_key: str | bytes, secret_key: str) -> bytes:
    """The previous format, for reversing that migration (pickling a ``str`` we hold is safe)."""
    import pickle

    return _legacy_cipher(cryptography_key, secret_key).encrypt(pickle.dumps(value))


class EncryptedSecretField(models.BinaryField):
    """A ``bytea`` column holding a ciphertext from :func:`encrypt_secret`.

    The model attribute is the ciphertext, not the plaintext (see the module docstring).
    ``version_field`` names the sibling ``CharField`` that records :attr:`KeyMaterial.version`;
    ``manage.py rotate_encryption_key`` finds every field of this class in every model.
    Only ``isnull`` lookups exist: ciphertexts cannot be compared.
    """

    description = "Encrypted secret (Inkwell v2: key-tagged Fernet, no pickle)"

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


def store_secret(
    instance: models.Model,
    field_name: str,
    value: str | None,
    *,
    last4_field: str,
    fingerprint_field: str = "",
) -> None:
    """Put ``value`` on ``instance`` as a secret is stored: encrypted into the
    :class:`EncryptedSecretField` ``field_name`` with the current key, that key's version in the
    field's ``version_field``, the last four characters in ``last4_field`` and, if named, the
    keyed fingerprint in ``fingerprint_field``. ``None`` clears them all. Nothing is saved.

    The one way a model takes a secret (provider credentials, social accounts): a new secret
    column cannot forget its key version, which rotation depends on."""
    version_field = instance._meta.get_field(field_name).version_field
    if value is None:
        setattr(instance, field_name, None)
        setattr(instance, version_field, "")
        setattr(instance, last4_field, "")
        if fingerprint_field:
            setattr(instance, fingerprint_field, "")
        return
    keys = KeyMaterial.from_settings()
    setattr(instance, field_name, encrypt_secret(value, keys=keys))
    setattr(instance, version_field, keys.version)
    setattr(instance, last4_field, value[-4:])
    if fingerprint_field:
        # Imported here: providers.credentials imports the models, which import this module.
        from providers.credentials import fingerprint_of

        setattr(instance, fingerprint_field, fingerprint_of(value))
