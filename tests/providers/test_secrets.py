"""A provider API key never leaves the encrypted column: not in the table in any readable
encoding, not in API responses, not on the admin page, not in logs, not in the audit log."""

from __future__ import annotations

import base64
import logging

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from providers.credentials import credential_secret
from providers.models import ProviderCredential
from tenancy.models import AuditEvent
from tests.providers.factories import BudgetFactory, ProviderFactory

pytestmark = pytest.mark.django_db

SECRET = "sk-live-4eC39HqLyjWDarjtT1zdp7dcQv9Xb2Lm"
ROTATED = "sk-live-Rotated0000aaaaBBBBccccDDDDeeee9Z"


def encodings(secret: str) -> list[bytes]:
    raw = secret.encode()
    return [
        raw,
        base64.b64encode(raw),
        base64.urlsafe_b64encode(raw),
        base64.b64encode(raw).rstrip(b"="),
        raw.hex().encode(),
        secret[4:-4].encode(),  # any long middle slice
    ]


def assert_absent(secret: str, haystack: bytes | str, where: str):
    data = haystack.encode() if isinstance(haystack, str) else bytes(haystack)
    for encoded in encodings(secret):
        assert encoded not in data, f"{where} contains the key ({encoded[:12]!r}…)"


@pytest.fixture
def superuser_client(client):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    return client


def test_the_key_is_nowhere_but_in_credential_secret(
    admin_api_client, superuser_client, organization, caplog
):
    caplog.set_level(logging.DEBUG)
    ProviderFactory(slug="openai")
    responses = []

    created = admin_api_client.post(
        "/api/v1/credentials/", {"provider": "openai", "name": "prod", "api_key": SECRET}, format="json"
    )
    assert created.status_code == 201
    pk = created.json()["id"]
    responses += [
        created,
        admin_api_client.get("/api/v1/credentials/"),
        admin_api_client.get(f"/api/v1/credentials/{pk}/"),
        admin_api_client.get(f"/api/v1/credentials/?search={SECRET}"),
        admin_api_client.patch(f"/api/v1/credentials/{pk}/", {"name": "prod 2"}, format="json"),
        admin_api_client.patch(f"/api/v1/credentials/{pk}/", {"api_key": SECRET}, format="json"),  # 400
        admin_api_client.post(
            "/api/v1/credentials/", {"provider": "nope", "name": "x", "api_key": SECRET}, format="json"
        ),  # 400
    ]
    BudgetFactory(organization=organization, credential_id=pk)
    responses.append(admin_api_client.get(f"/api/v1/budgets/check/?credential={pk}"))
    credential = ProviderCredential.objects.get(pk=pk)
    assert credential_secret(credential=credential) == SECRET

    # The column, read with raw SQL, holds neither the key nor any encoding of it.
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key_encrypted FROM providers_providercredential WHERE id = %s", [pk])
        (stored,) = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM providers_providercredential "
            "WHERE encode(api_key_encrypted, 'escape') LIKE %s",
            [f"%{SECRET}%"],
        )
        assert cursor.fetchone() == (0,)
    assert_absent(SECRET, stored, "the api_key_encrypted column")
    # Nor does any other column of the row.
    row = ProviderCredential.objects.filter(pk=pk).values().get()
    assert_absent(
        SECRET, repr({k: v for k, v in row.items() if k != "api_key_encrypted"}), "the credential row"
    )

    for response in responses:
        assert response.status_code < 500
        assert_absent(SECRET, response.content, f"{response.request['PATH_INFO']} response")

    # The admin change page shows fingerprint and last four, and never the key.
    page = superuser_client.get(f"/admin/providers/providercredential/{pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert credential.fingerprint in html
    assert credential.last4 in html
    assert_absent(SECRET, html, "the admin change page")
    assert_absent(SECRET, superuser_client.get("/admin/providers/providercredential/").content, "admin list")

    # Rotating through the admin: the new key reaches neither the page nor the log.
    superuser_client.post(
        f"/admin/providers/providercredential/{pk}/change/",
        {
            "name": "prod 2",
            "status": "active",
            "new_api_key": ROTATED,
            "expires_at_0": "",
            "expires_at_1": "",
        },
        follow=True,
    )
    credential.refresh_from_db()
    assert credential_secret(credential=credential) == ROTATED
    assert_absent(
        ROTATED, superuser_client.get(f"/admin/providers/providercredential/{pk}/change/").content, "page"
    )

    for secret in (SECRET, ROTATED):
        assert_absent(secret, caplog.text, "the log")
        assert_absent(
            secret, repr(list(AuditEvent.objects.values("changes", "object_repr"))), "the audit log"
        )
        assert_absent(secret, repr(credential) + str(credential), "the model's repr")
