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


def test_admin_delete_soft_deletes_and_restore_action_brings_back(superuser_client, organization):
    widget = Widget.objects.create(organization=organization, name="Sign", slug="sign")
    response = superuser_client.post(f"/admin/testapp/widget/{widget.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    widget.refresh_from_db()
    assert widget.is_deleted
    assert AuditEvent.objects.for_object(widget).filter(action="delete").exists()

    live_list = superuser_client.get("/admin/testapp/widget/").content.decode()
    trash = superuser_client.get("/admin/testapp/widget/?deleted=yes").content.decode()
    assert f"/admin/testapp/widget/{widget.pk}/change/" not in live_list
    assert f"/admin/testapp/widget/{widget.pk}/change/" in trash

    response = superuser_client.post(
        "/admin/testapp/widget/?deleted=yes",
        {"action": "restore_selected", "_selected_action": [widget.pk]},
        follow=True,
    )
    assert "Restored 1 row(s)." in response.content.decode()
    widget.refresh_from_db()
    assert not widget.is_deleted
    assert AuditEvent.objects.for_object(widget).filter(action="restore").exists()


def test_admin_edit_is_audited_with_changed_fields(superuser_client, organization):
    widget = Widget.objects.create(organization=organization, name="Old", slug="old")
    response = superuser_client.post(
        f"/admin/testapp/widget/{widget.pk}/change/",
        {"organization": organization.pk, "name": "New", "slug": "old", "parent": ""},
    )
    assert response.status_code == 302, response.content.decode()
    event = AuditEvent.objects.for_object(widget).get(action="update")
    assert event.changes == {"name": ["Old", "New"]}
    assert event.actor_label == "user:root"


def test_staff_see_only_their_organizations_rows(client, organization, other_organization):
    from django.contrib.auth.models import Permission

    from tests.factories import MembershipFactory

    membership = MembershipFactory(organization=organization)
    membership.user.user_permissions.add(*Permission.objects.filter(codename__endswith="_widget"))
    client.force_login(membership.user)
    mine = Widget.objects.create(organization=organization, name="Mine", slug="mine")
    theirs = Widget.objects.create(organization=other_organization, name="Theirs", slug="theirs")

    listing = client.get("/admin/testapp/widget/").content.decode()
    assert f"/admin/testapp/widget/{mine.pk}/change/" in listing
    assert f"/admin/testapp/widget/{theirs.pk}/change/" not in listing
    assert client.get(f"/admin/testapp/widget/{theirs.pk}/change/").status_code == 404
    add_form = client.get("/admin/testapp/widget/add/").content.decode()
    assert "Acme Hotels" in add_form
    assert "Globex Health" not in add_form
