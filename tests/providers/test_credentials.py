"""A credential's key is encrypted at rest and comes back only through credential_secret."""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection

from providers.credentials import credential_secret
from providers.models import Provider
from providers.services import credential_create

pytestmark = pytest.mark.django_db

API_KEY = "sk-test-51HdQ0pX9zYvWq3rT7uV2wXyZ4aBcDeFgHiJkLmN"


def test_credential_secret_round_trips_and_the_column_holds_no_key(organization):
    provider = Provider.objects.create(slug="openai", name="OpenAI")
    credential = credential_create(organization=organization, provider=provider, name="main", api_key=API_KEY)

    assert credential_secret(credential=credential) == API_KEY
    assert credential.fingerprint == hashlib.sha256(API_KEY.encode()).hexdigest()
    assert credential.last4 == API_KEY[-4:]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT api_key_encrypted FROM providers_providercredential WHERE id = %s", [credential.pk]
        )
        (stored,) = cursor.fetchone()
    assert API_KEY.encode() not in bytes(stored)


@pytest.mark.parametrize("state", ["revoked", "deleted", "expired"])
def test_an_unusable_credential_hands_out_no_key(organization, state):
    import datetime

    from django.utils import timezone

    from providers.errors import CredentialUnusable
    from providers.services import credential_revoke

    provider = Provider.objects.create(slug="openai", name="OpenAI")
    credential = credential_create(organization=organization, provider=provider, name="main", api_key=API_KEY)
    if state == "revoked":
        credential_revoke(organization=organization, credential=credential)
    elif state == "deleted":
        credential.delete()
    else:
        credential.expires_at = timezone.now() - datetime.timedelta(seconds=1)
    with pytest.raises(CredentialUnusable) as error:
        credential_secret(credential=credential)
    assert API_KEY not in str(error.value)
