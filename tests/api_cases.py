"""The shared API test mixins every tenant endpoint reuses (after NetBox's APIViewTestCases).

Read-only endpoints compose :class:`TenantReadAPITests`; endpoints with writes compose
:class:`TenantCRUDAPITests`::

    class TestWidgetAPI(TenantCRUDAPITests):
        model = Widget
        url = "/api/v1/widgets/"
        create_data = {"name": "A", "slug": "a"}
        update_data = {"name": "B"}
        related_factories = {"parent": lambda organization: WidgetFactory(organization=organization)}

        @pytest.fixture
        def make_object(self):
            return lambda organization, **kw: WidgetFactory(organization=organization, **kw)

Reads: list/get scoped to the caller, the list query count. Writes: create and update round-trip
every field sent (the response and the database row hold what was sent), delete, restore,
cross-tenant refusal, another tenant's id in every foreign key of the payload (400, nothing
written), viewer keys cannot write, the audit trail. ``related_factories`` makes a row of the
related model for a tenant, for every writable foreign key to a tenant model; the mixin finds those
keys in the endpoint's serializer and fails when one has no factory. ``write_only_fields`` are
sent but never answered (secrets). Set ``soft_delete = False`` for hard-deleted models.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, models
from django.test.utils import CaptureQueriesContext
from django.urls import resolve
from rest_framework import relations

from tenancy.models import AuditEvent

pytestmark = pytest.mark.django_db


def matches(sent: Any, got: Any) -> bool:
    """Whether ``got`` (answered or stored) holds what was ``sent``: dicts by the keys sent, lists
    item by item, numbers and decimals by value, dates by their ISO form."""
    if isinstance(got, datetime.date):
        got = got.isoformat()
    if isinstance(sent, dict):
        return isinstance(got, dict) and all(
            key in got and matches(value, got[key]) for key, value in sent.items()
        )
    if isinstance(sent, list | tuple):
        return isinstance(got, list | tuple) and len(sent) == len(got) and all(map(matches, sent, got))
    if sent == got:
        return True
    if isinstance(sent, bool) or isinstance(got, bool) or sent is None or got is None:
        return False
    try:
        return decimal.Decimal(str(sent)) == decimal.Decimal(str(got))
    except (decimal.InvalidOperation, ValueError):
        return False


def stored(row: models.Model, name: str) -> tuple[bool, Any]:
    """``(True, value)`` of a concrete field of ``row`` as the API names it (a foreign key as its
    id, or as the slug or name it is looked up by), or ``(False, None)`` for anything else."""
    try:
        field = row._meta.get_field(name)
    except Exception:
        return False, None
    if not field.concrete or field.many_to_many:
        return False, None
    if field.is_relation:
        related = getattr(row, name)
        if related is None and hasattr(row, f"{name}_name"):
            return True, getattr(row, f"{name}_name")  # a provider or model we do not know, by name
        return True, related
    return True, getattr(row, name)


def matches_stored(sent: Any, value: Any) -> bool:
    if isinstance(value, models.Model):
        return sent in (value.pk, getattr(value, "slug", None), getattr(value, "name", None))
    if value is None and sent is None:
        return True
    return matches(sent, value)


class TenantReadAPITests:
    """List and retrieve inside the caller's organization; list query count pinned."""

    model = None
    url: str = ""
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

    def test_list_query_count_does_not_grow_with_rows(self, api_client, organization, make_object, settings):
        # Throttle counts in the cache: a database lease renewed at a minute boundary between
        # the two requests would be one query more that has nothing to do with the rows.
        settings.API_THROTTLE_STORE = "cache"
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


class TenantCRUDAPITests(TenantReadAPITests):
    """Everything :class:`TenantReadAPITests` checks, plus create, update, delete and restore."""

    create_data: dict = {}
    update_data: dict = {}
    soft_delete = True
    related_factories: dict[str, Callable] = {}
    #: the serializer that parses writes, when the endpoint's ``serializer_class`` only answers
    input_serializer = None

    # --- helpers -------------------------------------------------------------------------------
    def serializer_class(self):
        return resolve(self.url).func.cls.serializer_class

    def tenant_foreign_keys(self) -> list[str]:
        """Writable fields of the endpoint's serializer that name a row of a tenant model."""
        names = []
        for name, field in (self.input_serializer or self.serializer_class())().fields.items():
            if field.read_only:
                continue
            related = field.child_relation if isinstance(field, relations.ManyRelatedField) else field
            if not isinstance(related, relations.RelatedField):
                continue
            queryset = related.queryset
            if queryset is not None and any(f.name == "organization" for f in queryset.model._meta.fields):
                names.append(name)
        return names

    def stored_write_only(self, row: models.Model) -> dict:
        """Where the write-only fields sent ended up (a template's body lives in its versions);
        those not named here (secrets) are only checked never to be answered."""
        return {}

    def assert_holds(self, row: models.Model, answer: dict, data: dict) -> None:
        answered = {name for name, field in self.serializer_class()().fields.items() if not field.write_only}
        elsewhere = self.stored_write_only(row)
        for name, sent in data.items():
            if name not in answered:
                assert name not in answer, f"{name} is write-only but was answered"
                if name in elsewhere:
                    assert matches(sent, elsewhere[name]), (
                        f"{name}: sent {sent!r}, stored {elsewhere[name]!r}"
                    )
                continue
            assert name in answer, f"{name} was sent but is not in the response"
            assert matches(sent, answer[name]), f"{name}: sent {sent!r}, answered {answer[name]!r}"
            concrete, value = stored(row, name)
            if concrete:
                assert matches_stored(sent, value), f"{name}: sent {sent!r}, stored {value!r}"

    def row_count(self) -> int:
        return self.model._base_manager.count()

    # --- create / update -----------------------------------------------------------------------
    def test_create_round_trips_every_field_sets_caller_organization_and_audits(
        self, api_client, organization
    ):
        response = api_client.post(self.url, self.create_data, format="json")
        assert response.status_code == 201, response.content
        row = self.model._base_manager.get(pk=response.json()["id"])
        assert row.organization_id == organization.pk
        self.assert_holds(row, response.json(), self.create_data)
        if self.ingested:
            assert row.recorded_by_key_id == api_client.api_key.pk
            assert not AuditEvent.objects.for_object(row).exists()
        else:
            assert AuditEvent.objects.for_object(row).filter(action="create").exists()

    def test_update_round_trips_own_and_not_other_tenants(
        self, api_client, organization, other_organization, make_object
    ):
        mine = make_object(organization)
        theirs = make_object(other_organization)
        response = api_client.patch(self.detail_url(mine), self.update_data, format="json")
        assert response.status_code == 200, response.content
        self.assert_holds(self.model._base_manager.get(pk=mine.pk), response.json(), self.update_data)
        assert AuditEvent.objects.for_object(mine).filter(action="update").exists()
        before = self.model._base_manager.filter(pk=theirs.pk).values().get()
        response = api_client.patch(self.detail_url(theirs), self.update_data, format="json")
        assert response.status_code == 404
        assert self.model._base_manager.filter(pk=theirs.pk).values().get() == before

    def test_another_tenants_id_in_any_foreign_key_is_refused_and_nothing_is_written(
        self, api_client, organization, other_organization, make_object
    ):
        foreign_keys = self.tenant_foreign_keys()
        missing = sorted(set(foreign_keys) - set(self.related_factories))
        assert not missing, f"declare related_factories for {missing}"
        mine = make_object(organization)
        for name in foreign_keys:
            theirs = self.related_factories[name](other_organization)
            value = [theirs.pk] if isinstance(self.create_data.get(name), list) else theirs.pk
            count, events = self.row_count(), AuditEvent.objects.count()
            response = api_client.post(self.url, {**self.create_data, name: value}, format="json")
            assert response.status_code == 400, (name, response.content)
            assert name in str(response.json()), (name, response.json())
            assert (self.row_count(), AuditEvent.objects.count()) == (count, events)

            before = self.model._base_manager.filter(pk=mine.pk).values().get()
            response = api_client.patch(self.detail_url(mine), {name: value}, format="json")
            assert response.status_code == 400, (name, response.content)
            assert self.model._base_manager.filter(pk=mine.pk).values().get() == before
            assert AuditEvent.objects.count() == events

    # --- delete / restore ----------------------------------------------------------------------
    def test_delete_own_and_not_other_tenants(
        self, api_client, organization, other_organization, make_object
    ):
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

    def test_restore_own_deleted_row_and_not_other_tenants(
        self, api_client, organization, other_organization, make_object
    ):
        mine = make_object(organization)
        if not self.soft_delete:  # nothing to restore: no such action
            assert api_client.post(f"{self.detail_url(mine)}restore/").status_code in (404, 405)
            return
        theirs = make_object(other_organization)
        for row in (mine, theirs):
            self.model.all_objects.filter(pk=row.pk).update(deleted_at=datetime.datetime.now(datetime.UTC))
        assert api_client.post(f"{self.detail_url(theirs)}restore/").status_code == 404
        assert self.model.all_objects.get(pk=theirs.pk).deleted_at is not None
        response = api_client.post(f"{self.detail_url(mine)}restore/")
        assert response.status_code == 200, response.content
        assert response.json()["id"] == mine.pk
        assert self.model.objects.filter(pk=mine.pk).exists()
        assert AuditEvent.objects.for_object(mine).filter(action="restore").exists()
        assert api_client.get(self.detail_url(mine)).status_code == 200
        again = api_client.post(f"{self.detail_url(mine)}restore/")  # a live row: a no-op
        assert again.status_code == 200
        assert AuditEvent.objects.for_object(mine).filter(action="restore").count() == 1

    def test_viewer_key_cannot_write(self, viewer_api_client, organization, make_object):
        mine = make_object(organization)
        count = self.row_count()
        assert viewer_api_client.get(self.url).status_code == 200
        assert viewer_api_client.post(self.url, self.create_data, format="json").status_code == 403
        assert (
            viewer_api_client.patch(self.detail_url(mine), self.update_data, format="json").status_code == 403
        )
        assert viewer_api_client.delete(self.detail_url(mine)).status_code == 403
        assert viewer_api_client.post(f"{self.detail_url(mine)}restore/").status_code in (403, 404, 405)
        assert self.row_count() == count
