"""A credential's key is encrypted at rest and comes back only through credential_secret."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings

from providers.credentials import credential_secret
from providers.models import Provider
from providers.services import credential_create

pytestmark = pytest.mark.django_db

API_KEY = "sk-test-51HdQ0pX9zYvWq3rT7uV2wXyZ4aBcDeFgHiJkLmN"


def test_credential_secret_round_trips_and_the_column_holds_no_key(organization):
    provider = Provider.objects.create(slug="openai", name="OpenAI")
    credential = credential_create(organization=organization, provider=provider, name="main", api_key=API_KEY)

    assert credential_secret(credential=credential) == API_KEY
    assert (
        credential.fingerprint
        == hmac.new(
            settings.FINGERPRINT_KEY.encode(),
            hashlib.sha256(API_KEY.encode()).hexdigest().encode(),
            hashlib.sha256,
        ).hexdigest()
    )
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


def test_the_fingerprint_is_keyed_so_a_guess_cannot_be_confirmed_without_the_server_key(organization):
    provider = Provider.objects.create(slug="openai", name="OpenAI")
    credential = credential_create(organization=organization, provider=provider, name="main", api_key=API_KEY)
    with override_settings(FINGERPRINT_KEY="another-server-" + "k" * 40):
        other = credential_create(organization=organization, provider=provider, name="other", api_key=API_KEY)

    assert credential.fingerprint != hashlib.sha256(API_KEY.encode()).hexdigest()
    assert other.fingerprint != credential.fingerprint


def test_a_call_reported_with_the_keys_sha256_is_named_by_its_credentials_fingerprint(
    organization, api_client
):
    provider = Provider.objects.create(slug="openai", name="OpenAI")
    credential = credential_create(organization=organization, provider=provider, name="main", api_key=API_KEY)

    response = api_client.post(
        "/api/v1/usage/",
        {
            "request_id": "call-1",
            "provider": "openai",
            "model": "gpt-4o",
            "endpoint": "/v1/chat/completions",
            "status_code": 200,
            "key_fingerprint": hashlib.sha256(API_KEY.encode()).hexdigest(),
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert response.json()["key_fingerprint"] == credential.fingerprint
    listed = api_client.get("/api/v1/usage/", {"key_fingerprint": credential.fingerprint}).json()
    assert [row["request_id"] for row in listed["results"]] == ["call-1"]
