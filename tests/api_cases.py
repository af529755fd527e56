"""One CRUD API test mixin that every tenant endpoint reuses (after NetBox's APIViewTestCases).

Subclass it with::

    class TestWidgetAPI(TenantCRUDAPITests):
        model = Widget
        url = "/api/v1/widgets/"
        create_data = {"name": "A", "slug": "a"}
        update_data = {"name": "B"}

        @pytest.fixture
        def make_object(self):
            return lambda organization, **kw: WidgetFactory(organization=organization, **kw)

and it checks list/get/create/update/delete, cross-tenant refusal, the audit trail and the list
query count. Set ``soft_delete = False`` for models that are hard-deleted, ``read_only = True``
for endpoints without writes.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tenancy.models import AuditEvent

pytestmark = pytest.mark.django_db


class TenantCRUDAPITests:
    model = None
    url: str = ""
    create_data: dict = {}
    update_data: dict = {}
    soft_delete = True
    read_only = False
    list_query_budget = 8
    # Ingested rows (generations, provider calls) are not audited one by one: they record the
    # key that wrote them (DESIGN §3).
    ingested = False

    @pytest.fixture
    def make_object(self):  # pragma: no cover - subclasses provide it
        raise NotImplementedError

    def detail_url(self, obj) -> str:
        return f"{self.url}{obj.pk}/"

    def test_list_shows_only_own_organization(
        self, api_client, organization, other_organization, make_object
    ):
        mine = make_object(organization)
        theirs = make_object(other_organization)
        response = api_client.get(self.url)
        assert response.status_code == 200, response.content
        ids = {row["id"] for row in response.json()["results"]}
        assert mine.pk in ids
        assert theirs.pk not in ids

    def test_list_query_count_does_not_grow_with_rows(self, api_client, organization, make_object):
        for _ in range(3):
            make_object(organization)
        api_client.get(self.url)  # warm up: the first call of a key records its last use
        with CaptureQueriesContext(connection) as few:
            assert api_client.get(self.url).status_code == 200
        for _ in range(10):
            make_object(organization)
        with CaptureQueriesContext(connection) as many:
            assert api_client.get(self.url).status_code == 200
        assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
        assert len(many) <= self.list_query_budget

    def test_retrieve_own_and_not_other_tenants(
        self, api_client, organization, other_organization, make_object
    ):
        mine = make_object(organization)
        theirs = make_object(other_organization)
        assert api_client.get(self.detail_url(mine)).status_code == 200
        response = api_client.get(self.detail_url(theirs))
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == "not_found"

    def test_create_sets_caller_organization_and_audits(self, api_client, organization):
        if self.read_only:
            pytest.skip("read-only endpoint")
        response = api_client.post(self.url, self.create_data, format="json")
        assert response.status_code == 201, response.content
        row = self.model._base_manager.get(pk=response.json()["id"])
        assert row.organization_id == organization.pk
        if self.ingested:
            assert row.recorded_by_key_id == api_client.api_key.pk
            assert not AuditEvent.objects.for_object(row).exists()
        else:
            assert AuditEvent.objects.for_object(row).filter(action="create").exists()

    def test_update_own_and_not_other_tenants(
        self, api_client, organization, other_organization, make_object
    ):
        if self.read_only:
            pytest.skip("read-only endpoint")
        mine = make_object(organization)
        theirs = make_object(other_organization)
        response = api_client.patch(self.detail_url(mine), self.update_data, format="json")
        assert response.status_code == 200, response.content
        assert AuditEvent.objects.for_object(mine).filter(action="update").exists()
        before = self.model._base_manager.filter(pk=theirs.pk).values().get()
        response = api_client.patch(self.detail_url(theirs), self.update_data, format="json")
        assert response.status_code == 404
        assert self.model._base_manager.filter(pk=theirs.pk).values().get() == before

    def test_delete_own_and_not_other_tenants(
        self, api_client, organization, other_organization, make_object
    ):
        if self.read_only:
            pytest.skip("read-only endpoint")
        mine = make_object(organization)
        theirs = make_object(other_organization)
        assert api_client.delete(self.detail_url(theirs)).status_code == 404
        assert self.model.objects.filter(pk=theirs.pk).exists()
        assert api_client.delete(self.detail_url(mine)).status_code == 204
        assert not self.model.objects.filter(pk=mine.pk).exists()
        if self.soft_delete:
            assert self.model.all_objects.filter(pk=mine.pk).exists()
            assert AuditEvent.objects.for_object(mine).filter(action="delete").exists()
            assert api_client.get(self.detail_url(mine)).status_code == 404

    def test_viewer_key_cannot_write(self, viewer_api_client, organization, make_object):
        if self.read_only:
            pytest.skip("read-only endpoint")
        mine = make_object(organization)
        count = self.model._base_manager.count()
        assert viewer_api_client.get(self.url).status_code == 200
        assert viewer_api_client.post(self.url, self.create_data, format="json").status_code == 403
        assert (
            viewer_api_client.patch(self.detail_url(mine), self.update_data, format="json").status_code == 403
        )
        assert viewer_api_client.delete(self.detail_url(mine)).status_code == 403
        assert self.model._base_manager.count() == count
