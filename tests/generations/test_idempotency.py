"""A request_id is recorded once, ever: replays after a delete (single, bulk, branch) are a 409
``deleted`` naming the restore URL and write nothing; restore works as before."""

from __future__ import annotations

import pytest
from django.db.models import Sum

from analytics.models import GenerationDailyRollup
from generations.models import Generation
from tenancy.models import AuditEvent
from tests.generations.factories import CampaignFactory, GenerationFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/generations/"


def body(**overrides):
    return {
        "request_id": "req-1",
        "model": "an-unknown-model",
        "content": "Wake up to the Atlantic.",
        "input_tokens": 1200,
        "output_tokens": 300,
        "status": "success",
        **overrides,
    }


def rollup_requests(organization) -> int:
    return GenerationDailyRollup.objects.filter(organization=organization).aggregate(
        total=Sum("requests", default=0)
    )["total"]


def posted_then_deleted(api_client, **overrides) -> dict:
    first = api_client.post(URL, body(**overrides), format="json")
    assert first.status_code == 201, first.content
    assert api_client.delete(f"{URL}{first.json()['id']}/").status_code == 204
    return first.json()


@pytest.mark.parametrize("changes", [{}, {"content": "Another body"}], ids=["same body", "another body"])
def test_replaying_a_deleted_generations_request_is_409_deleted_with_the_restore_url(
    api_client, organization, changes
):
    # Given a generation recorded, then deleted
    first = posted_then_deleted(api_client)
    events = AuditEvent.objects.count()

    # When its request is posted again
    response = api_client.post(URL, body(**changes), format="json")

    # Then it is refused, names the restore URL, and nothing is written or counted twice
    assert response.status_code == 409, response.content
    [error] = response.json()["errors"]
    assert error["code"] == "deleted"
    assert error["attr"] == "request_id"
    assert f"/api/v1/generations/{first['id']}/restore/" in error["detail"]
    assert Generation.all_objects.filter(organization=organization).count() == 1
    assert rollup_requests(organization) == 1
    assert AuditEvent.objects.count() == events


def test_restoring_then_replaying_answers_the_first_row(api_client, organization):
    first = posted_then_deleted(api_client)

    restored = api_client.post(f"{URL}{first['id']}/restore/")
    again = api_client.post(URL, body(), format="json")

    assert restored.status_code == 200
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert Generation.objects.filter(organization=organization).count() == 1
    assert rollup_requests(organization) == 1


def test_a_bulk_naming_a_deleted_request_id_is_409_deleted_for_that_item_and_writes_nothing(
    api_client, organization
):
    first = posted_then_deleted(api_client)
    items = [body(request_id="new-1"), body(), body(request_id="new-2")]

    response = api_client.post(f"{URL}bulk/", {"items": items}, format="json")

    assert response.status_code == 409, response.content
    [error] = response.json()["errors"]
    assert (error["code"], error["attr"]) == ("deleted", "items.1.request_id")
    assert f"/api/v1/generations/{first['id']}/restore/" in error["detail"]
    assert list(
        Generation.all_objects.filter(organization=organization).values_list("request_id", flat=True)
    ) == ["req-1"]
    assert rollup_requests(organization) == 1


def test_a_branch_reusing_a_deleted_request_id_is_409_deleted(api_client, organization):
    root = GenerationFactory(organization=organization)
    child = api_client.post(
        f"{URL}{root.pk}/branch/", {"request_id": "child-1", "content": "v2"}, format="json"
    )
    assert child.status_code == 201, child.content
    api_client.delete(f"{URL}{child.json()['id']}/")

    again = api_client.post(
        f"{URL}{root.pk}/branch/", {"request_id": "child-1", "content": "v2"}, format="json"
    )

    assert again.status_code == 409
    assert again.json()["errors"][0]["code"] == "deleted"
    assert Generation.all_objects.filter(parent=root).count() == 1


def test_another_organizations_deleted_request_id_does_not_block_ours(
    api_client, other_api_client, other_organization
):
    posted_then_deleted(other_api_client)

    response = api_client.post(URL, body(), format="json")

    assert response.status_code == 201
    assert Generation.all_objects.filter(request_id="req-1").count() == 2


def test_the_database_refuses_a_second_row_for_a_deleted_request_id(organization):
    from django.db import IntegrityError, transaction

    GenerationFactory(organization=organization, request_id="kept").delete()
    with pytest.raises(IntegrityError), transaction.atomic():
        GenerationFactory(organization=organization, request_id="kept")


@pytest.mark.parametrize("named", ["parent", "campaign"])
def test_a_retry_naming_a_row_deleted_since_answers_the_first_row(api_client, organization, named):
    """The retry of a request that succeeded is that request's answer, even when a row it names
    is deleted in between: a 400 would tell the client the call failed (it would re-send it
    without the row)."""
    if named == "parent":
        target = api_client.post(URL, body(request_id="root"), format="json").json()["id"]
        url = f"{URL}{target}/"
    else:
        target = CampaignFactory(organization=organization).pk
        url = f"/api/v1/campaigns/{target}/"
    first = api_client.post(URL, body(request_id="child", **{named: target}), format="json")
    assert first.status_code == 201, first.content
    assert api_client.delete(url).status_code == 204
    requests = rollup_requests(organization)

    again = api_client.post(URL, body(request_id="child", **{named: target}), format="json")
    other = api_client.post(URL, body(request_id="child", content="Other", **{named: target}), format="json")
    new = api_client.post(URL, body(request_id="new", **{named: target}), format="json")

    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])
    assert other.status_code == 409, other.content
    assert (new.status_code, new.json()["errors"][0]["attr"]) == (400, named)
    assert rollup_requests(organization) == requests


def _prepared_inserts() -> list[tuple[str, int]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE %s",
            ['%INSERT INTO "generations_generation"%'],
        )
        return cursor.fetchall()


def test_the_single_ingest_statement_is_prepared_once_and_reused(api_client, organization):
    # Given a connection that has not written a generation yet
    assert _prepared_inserts() == []

    # When three generations of the same shape are posted, and one replayed
    for n in range(3):
        assert api_client.post(URL, body(request_id=f"req-{n}"), format="json").status_code == 201
    assert api_client.post(URL, body(request_id="req-0"), format="json").status_code == 200

    # Then PostgreSQL parsed the statement once and ran that one four times
    [(statement, runs)] = _prepared_inserts()
    assert "ON CONFLICT" in statement
    assert runs == 4
    assert Generation.objects.filter(organization=organization).count() == 3


def test_without_prepared_statements_the_single_ingest_still_writes_once(api_client, organization):
    # Given a connection that prepares nothing (DATABASE_PREPARED_STATEMENTS=false: psycopg's
    # prepare_threshold None, for a transaction-mode pooler)
    from django.db import connection

    connection.ensure_connection()
    threshold, connection.connection.prepare_threshold = connection.connection.prepare_threshold, None
    try:
        # When a generation is posted and replayed
        assert api_client.post(URL, body(), format="json").status_code == 201
        assert api_client.post(URL, body(), format="json").status_code == 200
    finally:
        connection.connection.prepare_threshold = threshold

    # Then it is written once and nothing was prepared
    assert _prepared_inserts() == []
    assert Generation.objects.filter(organization=organization).count() == 1
