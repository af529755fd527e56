"""Tenant isolation, soft delete and audit through a small tenant model (tests.testapp.Widget)."""

import pytest

from tenancy.models import AuditEvent
from tests.api_cases import TenantCRUDAPITests
from tests.testapp.models import Widget

pytestmark = pytest.mark.django_db


def make_widget(organization, **fields):
    n = Widget.all_objects.count()
    fields.setdefault("name", f"Widget {n}")
    fields.setdefault("slug", f"widget-{n}")
    return Widget.objects.create(organization=organization, **fields)


class TestWidgetAPI(TenantCRUDAPITests):
    model = Widget
    url = "/api/v1/widgets/"
    create_data = {"name": "Lobby sign", "slug": "lobby-sign"}
    update_data = {"name": "Lobby sign, v2"}
    related_factories = {"parent": make_widget}

    @pytest.fixture
    def make_object(self):
        return make_widget


def test_payload_naming_another_tenants_row_is_refused(api_client, organization, other_organization):
    theirs = make_widget(other_organization)
    mine = make_widget(organization)

    created = api_client.post("/api/v1/widgets/", {"name": "x", "slug": "x", "parent": theirs.pk})
    updated = api_client.patch(f"/api/v1/widgets/{mine.pk}/", {"parent": theirs.pk})

    for response in (created, updated):
        assert response.status_code == 400
        error = response.json()["errors"][0]
        assert error["attr"] == "parent"
        assert error["code"] == "does_not_exist"
    assert not Widget.objects.filter(slug="x").exists()
    mine.refresh_from_db()
    assert mine.parent_id is None


def test_payload_cannot_choose_the_organization(api_client, organization, other_organization):
    response = api_client.post(
        "/api/v1/widgets/", {"name": "x", "slug": "x", "organization": other_organization.pk}
    )
    # Strict input: `organization` is not a field of the payload, so it is refused by name.
    assert response.status_code == 400
    assert [(e["attr"], e["code"]) for e in response.json()["errors"]] == [("organization", "unknown_field")]
    assert not Widget.all_objects.exists()


def test_api_delete_soft_deletes_and_restore_brings_back(api_client, organization):
    widget = make_widget(organization)

    assert api_client.delete(f"/api/v1/widgets/{widget.pk}/").status_code == 204
    assert api_client.get(f"/api/v1/widgets/{widget.pk}/").status_code == 404
    widget.refresh_from_db()
    assert widget.deleted_at is not None

    response = api_client.post(f"/api/v1/widgets/{widget.pk}/restore/")
    assert response.status_code == 200
    assert response.json()["id"] == widget.pk
    assert api_client.get(f"/api/v1/widgets/{widget.pk}/").status_code == 200
    actions = list(AuditEvent.objects.for_object(widget).values_list("action", flat=True))
    assert actions == ["restore", "delete"]


def test_restore_of_other_tenants_row_is_404(api_client, other_organization):
    theirs = make_widget(other_organization)
    theirs.delete()
    assert api_client.post(f"/api/v1/widgets/{theirs.pk}/restore/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.is_deleted


def test_duplicate_slug_in_one_organization_is_409_and_writes_nothing(
    api_client, organization, other_organization
):
    make_widget(organization, slug="taken")
    make_widget(other_organization, slug="same")

    response = api_client.post("/api/v1/widgets/", {"name": "Again", "slug": "taken"})
    assert response.status_code in (400, 409)
    assert response.json()["errors"][0]["detail"]
    assert Widget.objects.filter(organization=organization, slug="taken").count() == 1
    # Another organization's slug is no conflict.
    assert api_client.post("/api/v1/widgets/", {"name": "Same", "slug": "same"}).status_code == 201


def test_audit_event_records_actor_and_changed_fields(api_client, organization):
    widget = make_widget(organization, name="Old")
    api_client.patch(f"/api/v1/widgets/{widget.pk}/", {"name": "New"}, HTTP_X_REQUEST_ID="trace-123")
    event = AuditEvent.objects.for_object(widget).get(action="update")
    assert event.organization == organization
    assert event.api_key == api_client.api_key
    assert event.actor_label == f"api-key:{api_client.api_key.prefix}"
    assert event.changes == {"name": ["Old", "New"]}
    assert event.request_id == "trace-123"


def test_cursor_pagination_walks_every_row_once(api_client, organization):
    created = {make_widget(organization).pk for _ in range(7)}
    seen, url = [], "/api/v1/widgets/?page_size=3"
    while url:
        body = api_client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert sorted(seen) == sorted(created)
