"""Credential fingerprints become keyed: ``HMAC-SHA-256(FINGERPRINT_KEY, SHA-256 hex of the key)``
instead of the bare SHA-256 (issue 11: anyone with a guess could confirm an unsalted hash).

Each credential's key is decrypted (with the configured key ring) and fingerprinted again.
Reverse decrypts again and writes the bare SHA-256 back. The formula is written out here rather
than imported so the migration keeps meaning what it meant (``providers.credentials`` holds the
one the code uses). ``analytics`` 0005 does the same to the fingerprints stored on provider calls.
"""

import hashlib
import hmac

from django.conf import settings
from django.db import migrations

BATCH = 500


def _sha256(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def _keyed(key_sha256: str) -> str:
    return hmac.new(settings.FINGERPRINT_KEY.encode(), key_sha256.encode(), hashlib.sha256).hexdigest()


def _refingerprint(apps, fingerprint) -> None:
    from providers.crypto import decrypt_secret

    credential_model = apps.get_model("providers", "ProviderCredential")
    for credential in credential_model._base_manager.filter(api_key_encrypted__isnull=False).iterator(
        chunk_size=BATCH
    ):
        credential.fingerprint = fingerprint(decrypt_secret(bytes(credential.api_key_encrypted)))
        credential.save(update_fields=["fingerprint"])


def forwards(apps, schema_editor):
    _refingerprint(apps, lambda api_key: _keyed(_sha256(api_key)))


def backwards(apps, schema_editor):
    _refingerprint(apps, _sha256)


class Migration(migrations.Migration):
    dependencies = [("providers", "0004_row_level_security")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
