"""Fingerprints on provider calls and their daily rollups become keyed, as credentials' did in
``providers`` 0005: ``HMAC-SHA-256(FINGERPRINT_KEY, the SHA-256 hex stored so far)``, so budgets
by credential keep matching and no bare SHA-256 of a key stays in the database.

One ``UPDATE … FROM (VALUES …)`` per table maps every distinct value at once (a handful of keys,
however many rows). Reverse maps back the fingerprints of keys Inkwell holds (credentials,
decrypted); a key the organization never stored as a credential cannot be un-keyed (HMAC is one
way) and keeps its keyed fingerprint.
"""

import hashlib
import hmac

from django.conf import settings
from django.db import migrations

TABLES = ("analytics_providercall", "analytics_providercalldailyrollup")


def _keyed(key_sha256: str) -> str:
    return hmac.new(settings.FINGERPRINT_KEY.encode(), key_sha256.encode(), hashlib.sha256).hexdigest()


def _remap(schema_editor, mapping: dict[str, str]) -> None:
    if not mapping:
        return
    values = ", ".join(["(%s, %s)"] * len(mapping))
    parameters = [value for pair in mapping.items() for value in pair]
    with schema_editor.connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(
                f"UPDATE {table} AS t SET key_fingerprint = m.new "  # noqa: S608 - table names are constants
                f"FROM (VALUES {values}) AS m(old, new) WHERE t.key_fingerprint = m.old",
                parameters,
            )


def _distinct_fingerprints(schema_editor) -> set[str]:
    found = set()
    with schema_editor.connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"SELECT DISTINCT key_fingerprint FROM {table} WHERE key_fingerprint <> ''")  # noqa: S608
            found.update(row[0] for row in cursor.fetchall())
    return found


def forwards(apps, schema_editor):
    _remap(schema_editor, {old: _keyed(old) for old in _distinct_fingerprints(schema_editor)})


def backwards(apps, schema_editor):
    from providers.crypto import decrypt_secret

    credential_model = apps.get_model("providers", "ProviderCredential")
    digests = {
        hashlib.sha256(decrypt_secret(bytes(token)).encode()).hexdigest()
        for token in credential_model._base_manager.filter(api_key_encrypted__isnull=False).values_list(
            "api_key_encrypted", flat=True
        )
    }
    present = _distinct_fingerprints(schema_editor)
    _remap(schema_editor, {_keyed(digest): digest for digest in digests if _keyed(digest) in present})


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0005_provider_call_recorded_by_key"),
        ("providers", "0005_credential_fingerprint_hmac"),
    ]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
