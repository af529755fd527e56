"""Convert every stored provider key from django-cryptography's pickled format to the v2 format
(key-tagged Fernet over the UTF-8 bytes, no pickle), tagging each row with its key version.

Reads with the running ``CRYPTOGRAPHY_KEY``/``SECRET_KEY`` (what wrote the rows) and writes with
``CRYPTOGRAPHY_KEY``. Rows already in v2 are left alone, so the migration can be re-run. Reverse
writes the old format back.
"""

from django.conf import settings
from django.db import migrations

BATCH = 500


def _settings_keys():
    return settings.CRYPTOGRAPHY_KEY or settings.SECRET_KEY, settings.SECRET_KEY


def forwards(apps, schema_editor):
    from providers.crypto import KeyMaterial, ciphertext_version, decrypt_legacy_secret, encrypt_secret

    credential_model = apps.get_model("providers", "ProviderCredential")
    cryptography_key, secret_key = _settings_keys()
    keys = KeyMaterial(cryptography_key)
    for credential in credential_model._base_manager.filter(api_key_encrypted__isnull=False).iterator(
        chunk_size=BATCH
    ):
        token = bytes(credential.api_key_encrypted)
        if ciphertext_version(token) is not None:
            continue
        plain = decrypt_legacy_secret(token, cryptography_key=cryptography_key, secret_key=secret_key)
        credential.api_key_encrypted = encrypt_secret(plain, keys=keys)
        credential.key_version = keys.version
        credential.save(update_fields=["api_key_encrypted", "key_version"])


def backwards(apps, schema_editor):
    from providers.crypto import KeyRing, ciphertext_version, decrypt_secret, encrypt_legacy_secret

    credential_model = apps.get_model("providers", "ProviderCredential")
    cryptography_key, secret_key = _settings_keys()
    ring = KeyRing.from_settings()
    for credential in credential_model._base_manager.filter(api_key_encrypted__isnull=False).iterator(
        chunk_size=BATCH
    ):
        token = bytes(credential.api_key_encrypted)
        if ciphertext_version(token) is None:
            continue
        plain = decrypt_secret(token, keys=ring)
        credential.api_key_encrypted = encrypt_legacy_secret(
            plain, cryptography_key=cryptography_key, secret_key=secret_key
        )
        credential.key_version = ""
        credential.save(update_fields=["api_key_encrypted", "key_version"])


class Migration(migrations.Migration):
    dependencies = [("providers", "0002_modelprice_units")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
