"""Admin: branding, API keys shown once, audit log read-only, soft delete and restore."""

import re

import pytest
from django.contrib.auth import get_user_model

from tenancy.models import AuditEvent, OrganizationAPIKey
from tests.conftest import client_for_key
from tests.testapp.models import Widget

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def test_admin_is_branded(superuser_client):
    html = superuser_client.get("/admin/").content.decode()
    assert "| Inkwell admin</title>" in html
    assert ">Inkwell</a>" in html


def test_api_key_is_shown_once_on_creation(superuser_client, organization):
    response = superuser_client.post(
        "/admin/tenancy/organizationapikey/add/",
        {
            "organization": organization.pk,
            "name": "ci",
            "role": "editor",
            "expiry_date_0": "",
            "expiry_date_1": "",
        },
        follow=True,
    )
    assert response.status_code == 200
    html = response.content.decode()
    match = re.search(r"The API key for ci is: (\S+) \.", html)
    assert match, html
    plain_key = match.group(1)
    api_key = OrganizationAPIKey.objects.get(name="ci")
    assert api_key.organization == organization
    assert client_for_key(plain_key).get("/api/v1/widgets/").status_code == 200
    assert AuditEvent.objects.filter(action="create", object_id=api_key.prefix).exists()

    change_page = superuser_client.get(
        f"/admin/tenancy/organizationapikey/{api_key.pk}/change/"
    ).content.decode()
    assert plain_key not in change_page
    assert plain_key.split(".")[1] not in change_page
    assert api_key.hashed_key not in change_page


def test_audit_events_are_read_only(superuser_client, api_client, organization):
    Widget.objects.create(organization=organization, name="A", slug="a")
    api_client.delete(f"/api/v1/widgets/{Widget.objects.get().pk}/")
    event = AuditEvent.objects.filter(action="delete").get()
    assert superuser_client.get("/admin/tenancy/auditevent/").status_code == 200
    assert superuser_client.get("/admin/tenancy/auditevent/add/").status_code == 403
    page = superuser_client.get(f"/admin/tenancy/auditevent/{event.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert (
        superuser_client.post(f"/admin/tenancy/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert AuditEvent.objects.filter(pk=event.pk).exists()
