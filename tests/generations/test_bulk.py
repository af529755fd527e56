"""``POST generations/bulk/``: up to 1,000 items, all or nothing, errors naming the item."""

from __future__ import annotations

import pytest

from generations.models import Generation
from generations.signals import generations_recorded
from tenancy.models import AuditEvent
from tests.generations.factories import CampaignFactory, GenerationFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/generations/bulk/"


def item(n: int, **overrides):
    data = {
        "request_id": f"bulk-{n:05d}",
        "content_type": "social",
        "model": "an-unknown-model",
        "content": f"Post number {n}",
        "input_tokens": 100 + n,
        "output_tokens": 20,
        "status": "success",
        "user_ref": f"user-{n % 7}",
    }
    data.update(overrides)
    return data


def test_a_thousand_valid_items_write_a_thousand_rows_in_few_queries(
    api_client, organization, django_assert_max_num_queries
):
    signals = []
    generations_recorded.connect(receiver := lambda sender, **kw: signals.append(kw), weak=False)
    try:
        with django_assert_max_num_queries(20):
            response = api_client.post(URL, {"items": [item(n) for n in range(1000)]})
    finally:
        generations_recorded.disconnect(receiver)

    assert response.status_code == 201, response.content[:500]
    data = response.json()
    assert (data["created"], data["replayed"]) == (1000, 0)
    assert [row["index"] for row in data["results"]] == list(range(1000))
    assert Generation.objects.filter(organization=organization).count() == 1000
    row = Generation.objects.get(request_id="bulk-00042")
    assert (row.input_tokens, row.total_tokens, row.user_ref) == (142, 162, "user-0")
    assert data["results"][42]["id"] == row.pk
    # Ingestion is not audited (DESIGN §3): every row records the key that wrote it.
    assert not AuditEvent.objects.filter(object_type="generations.generation").exists()
    assert set(Generation.objects.values_list("recorded_by_key", flat=True)) == {api_client.api_key.pk}
    [signal] = signals
    assert len(signal["generations"]) == 1000


@pytest.mark.parametrize(
    ("bad", "attr", "code"),
    [
        ({"input_tokens": -1}, "items.537.input_tokens", "min_value"),
        ({"status": "exploded"}, "items.537.status", "invalid_choice"),
        ({"request_id": "bulk-00001"}, "items.537.request_id", "invalid"),
        ({"campaign": 999999}, "items.537.campaign", "does_not_exist"),
        ({"parent_request_id": "nobody"}, "items.537.parent_request_id", "does_not_exist"),
        ({"kind": "revision"}, "items.537.kind", "invalid"),
        # Each count fits its column, their sum does not (the bulk COPY skips full_clean).
        ({"input_tokens": 2**62, "output_tokens": 2**62}, "items.537.input_tokens", "invalid_usage"),
    ],
)
def test_one_bad_item_writes_nothing_and_is_named(api_client, organization, bad, attr, code):
    items = [item(n) for n in range(1000)]
    items[537].update(bad)

    response = api_client.post(URL, {"items": items})

    assert response.status_code == 400, response.content[:500]
    [error] = response.json()["errors"]
    assert (error["attr"], error["code"]) == (attr, code)
    assert Generation.all_objects.count() == 0


def test_a_bulk_of_1001_is_refused(api_client):
    response = api_client.post(URL, {"items": [item(n) for n in range(1001)]})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["attr"].startswith("items")  # "items.non_field_errors": the list itself
    assert "1000" in error["detail"]
    assert Generation.all_objects.count() == 0


def test_an_empty_bulk_is_refused(api_client):
    assert api_client.post(URL, {"items": []}).status_code == 400


def test_a_replayed_bulk_answers_200_and_writes_nothing(api_client, organization):
    items = [item(n) for n in range(10)]
    first = api_client.post(URL, {"items": items}).json()
    events = AuditEvent.objects.count()

    again = api_client.post(URL, {"items": items})

    assert again.status_code == 200
    assert again.json()["replayed"] == 10
    assert [row["id"] for row in again.json()["results"]] == [row["id"] for row in first["results"]]
    assert Generation.objects.count() == 10
    assert AuditEvent.objects.count() == events


def test_a_bulk_mixing_new_and_replayed_items_creates_only_the_new(api_client):
    api_client.post(URL, {"items": [item(n) for n in range(5)]})
    response = api_client.post(URL, {"items": [item(n) for n in range(8)]})
    assert response.status_code == 201
    assert (response.json()["created"], response.json()["replayed"]) == (3, 5)
    assert Generation.objects.count() == 8


def test_a_conflicting_replay_in_a_bulk_is_409_naming_the_item(api_client):
    api_client.post(URL, {"items": [item(0)]})
    response = api_client.post(URL, {"items": [item(1), item(0, content="changed")]})
    assert response.status_code == 409
    error = response.json()["errors"][0]
    assert error["code"] == "conflicting_replay"
    assert "Item 1" in error["detail"]
    assert Generation.objects.count() == 1


def test_single_post_and_bulk_share_idempotency(api_client):
    single = api_client.post("/api/v1/generations/", item(3)).json()
    response = api_client.post(URL, {"items": [item(3)]})
    assert response.status_code == 200
    assert response.json()["results"][0]["id"] == single["id"]


def test_items_may_build_trees_inside_the_batch(api_client, organization):
    existing = GenerationFactory(organization=organization, request_id="old-root")
    items = [
        item(1, parent_request_id="bulk-00000"),  # a child listed before its parent
        item(0),
        item(2, parent_request_id="bulk-00001"),
        item(3, parent_request_id="old-root"),
        item(4, parent=existing.pk),
    ]

    response = api_client.post(URL, {"items": items})

    assert response.status_code == 201, response.content
    rows = {row.request_id: row for row in Generation.objects.all()}
    root, child, grandchild = rows["bulk-00000"], rows["bulk-00001"], rows["bulk-00002"]
    assert (root.root_id, root.depth, root.version, root.tree_last_version) == (None, 0, 1, 3)
    assert (child.parent_id, child.root_id, child.depth, child.version) == (root.pk, root.pk, 1, 2)
    assert (grandchild.parent_id, grandchild.root_id, grandchild.depth, grandchild.version) == (
        child.pk,
        root.pk,
        2,
        3,
    )
    assert sorted([rows["bulk-00003"].version, rows["bulk-00004"].version]) == [2, 3]
    assert {rows["bulk-00003"].root_id, rows["bulk-00004"].root_id} == {existing.pk}
    existing.refresh_from_db()
    assert existing.tree_last_version == 3


def test_a_cycle_inside_the_batch_is_refused(api_client):
    items = [
        item(0, parent_request_id="bulk-00002"),
        item(1, parent_request_id="bulk-00000"),
        item(2, parent_request_id="bulk-00001"),
    ]
    response = api_client.post(URL, {"items": items})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["code"] == "invalid_parent"
    assert error["attr"].startswith("items.") and error["attr"].endswith(".parent_request_id")
    assert Generation.all_objects.count() == 0


def test_an_item_naming_itself_as_parent_is_a_cycle(api_client):
    response = api_client.post(URL, {"items": [item(0, parent_request_id="bulk-00000")]})
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "items.0.parent_request_id"


def test_references_to_another_organization_are_refused_by_index(api_client, other_organization):
    their_campaign = CampaignFactory(organization=other_organization)
    their_generation = GenerationFactory(organization=other_organization, request_id="theirs")
    for bad, attr in [
        ({"campaign": their_campaign.pk}, "items.1.campaign"),
        ({"parent": their_generation.pk}, "items.1.parent"),
        ({"parent_request_id": "theirs"}, "items.1.parent_request_id"),
    ]:
        response = api_client.post(URL, {"items": [item(0), item(1, **bad)]})
        assert response.status_code == 400, response.content
        assert response.json()["errors"][0]["attr"] == attr
    assert Generation.objects.exclude(organization=other_organization).count() == 0


def test_a_usage_costing_more_than_the_column_holds_is_refused_by_index(api_client, organization):
    from tests.generations.otel_support import sync_prices

    sync_prices()
    items = [item(n, model="gpt-4o", provider="openai") for n in range(3)]
    items[2]["input_tokens"] = 2**61  # past what one call may count, and $5.8 trillion at gpt-4o's price

    response = api_client.post(URL, {"items": items})

    assert response.status_code == 400, response.content[:500]
    [error] = response.json()["errors"]
    assert (error["attr"], error["code"]) == ("items.2.input_tokens", "invalid_usage")
    assert "cannot be true" in error["detail"]
    assert Generation.all_objects.count() == 0


def test_a_provider_usage_object_past_the_columns_is_refused_by_index(api_client):
    items = [item(n) for n in range(3)]
    for name in ("input_tokens", "output_tokens"):
        del items[1][name]
    items[1]["usage"] = {"prompt_tokens": 2**70, "completion_tokens": 1}

    response = api_client.post(URL, {"items": items})

    assert response.status_code == 400, response.content[:500]
    [error] = response.json()["errors"]
    assert (error["attr"], error["code"]) == ("items.1.usage", "invalid_usage")
    assert Generation.all_objects.count() == 0
