"""The generations API: idempotent ingestion, status changes, filters, bad input, tenancy."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework import serializers

from analytics.models import GenerationDailyRollup
from generations.api.serializers import GenerationCreateSerializer, no_nul_characters
from generations.models import Generation
from generations.signals import generations_recorded
from providers.price_sync import price_sync, snapshot_catalogue
from styleguides import services as style_guide_services
from tenancy.api.strict import JSONBody
from tenancy.models import AuditEvent
from tests.api_cases import TenantCRUDAPITests
from tests.generations.factories import CampaignFactory, GenerationFactory, GenerationRunFactory, vertical
from tests.providers.factories import AIModelFactory, ProviderFactory
from tests.styleguides.factories import StyleGuideFactory, make_template

pytestmark = pytest.mark.django_db
URL = "/api/v1/generations/"


def body(**overrides):
    data = {
        "request_id": "req-1",
        "content_type": "blog",
        "provider": "openai",
        "model": "an-unknown-model",
        "target_channel": "linkedin",
        "prompt": "Write about sea-view rooms.",
        "content": "# Sea-view rooms\n\nWake up to the Atlantic.",
        "content_format": "markdown",
        "input_tokens": 1200,
        "output_tokens": 300,
        "status": "success",
        "generation_time_ms": 2150,
        "metadata": {"agent_version": "3.2"},
    }
    data.update(overrides)
    return data


@pytest.fixture
def received():
    """Every ``generations_recorded`` signal sent during the test."""
    calls = []

    def receiver(sender, **kwargs):
        calls.append(kwargs)

    generations_recorded.connect(receiver, weak=False)
    yield calls
    generations_recorded.disconnect(receiver)


class TestGenerationCRUD(TenantCRUDAPITests):
    model = Generation
    url = URL
    create_data = body()
    update_data = {"metadata": {"reviewed": True}}
    input_serializer = GenerationCreateSerializer
    related_factories = {
        "campaign": lambda organization: CampaignFactory(organization=organization),
        "run": lambda organization: GenerationRunFactory(organization=organization),
        "parent": lambda organization: GenerationFactory(organization=organization),
        "style_guide_version": lambda organization: style_guide_services.style_guide_publish(
            organization=organization, guide=StyleGuideFactory(organization=organization)
        ),
        "template_version": lambda organization: make_template(organization).versions.get(),
    }
    ingested = True

    @pytest.fixture
    def make_object(self):
        return lambda organization, **fields: GenerationFactory(organization=organization, **fields)


# --- idempotency --------------------------------------------------------------------------------


def test_same_request_again_answers_200_with_the_first_row_and_writes_nothing(api_client, organization):
    first = api_client.post(URL, body())
    assert first.status_code == 201, first.content
    events = AuditEvent.objects.count()

    again = api_client.post(URL, body())

    assert again.status_code == 200
    assert again.json() == first.json()
    assert Generation.objects.filter(organization=organization).count() == 1
    assert AuditEvent.objects.count() == events
    # The replay's rollup writes went with its INSERT, which wrote nothing: one request counted.
    counted = GenerationDailyRollup.objects.filter(organization=organization).aggregate(n=Sum("requests"))
    assert counted["n"] == 1


def test_same_request_id_with_another_body_is_409_and_changes_nothing(api_client, organization):
    first = api_client.post(URL, body())

    response = api_client.post(URL, body(content="Something else"))

    assert response.status_code == 409
    error = response.json()["errors"][0]
    assert error["code"] == "conflicting_replay"
    assert "req-1" in error["detail"]
    row = Generation.objects.get(organization=organization)
    assert row.pk == first.json()["id"]
    assert row.content.startswith("# Sea-view rooms")


def test_request_ids_are_per_organization(api_client, other_api_client, organization, other_organization):
    assert api_client.post(URL, body()).status_code == 201
    assert other_api_client.post(URL, body()).status_code == 201
    assert Generation.objects.filter(request_id="req-1").count() == 2


def test_a_soft_deleted_request_id_is_not_recorded_again(api_client, organization):
    # Was "can be recorded again" (201, a second row): now a 409 ``deleted`` (test_idempotency.py).
    first = api_client.post(URL, body()).json()
    api_client.delete(f"{URL}{first['id']}/")

    again = api_client.post(URL, body())

    assert again.status_code == 409
    assert again.json()["errors"][0]["code"] == "deleted"
    assert Generation.all_objects.filter(organization=organization).count() == 1


def test_what_the_client_sent_is_kept_apart_from_what_we_computed(api_client):
    response = api_client.post(URL, body(model="GPT-4o-typo", client_cost_usd="0.0042"))
    data = response.json()
    assert data["model"] == "GPT-4o-typo"
    assert data["client_cost_usd"] == "0.0042000000"
    assert data["cost_status"] == "unpriced"
    assert data["cost_usd"] is None
    assert data["total_tokens"] == 1500


def test_create_records_its_key_not_an_audit_row_and_is_signalled(api_client, organization, received):
    response = api_client.post(URL, body())
    row = Generation.objects.get(pk=response.json()["id"])
    # Ingestion is not audited row by row (DESIGN §3): the row records the key that wrote it.
    assert row.recorded_by_key_id == api_client.api_key.pk
    assert not AuditEvent.objects.for_object(row).exists()
    [call] = received
    assert call["organization"] == organization
    assert call["action"] == "created"
    assert [generation.pk for generation in call["generations"]] == [row.pk]


# --- status and completion ------------------------------------------------------------------------


def test_patch_completes_a_pending_generation_with_content_and_usage(api_client, organization, received):
    created = api_client.post(
        URL, {"request_id": "job-7", "model": "an-unknown-model", "status": "pending"}
    ).json()
    assert created["status"] == "pending"
    assert created["completed_at"] is None
    received.clear()

    response = api_client.patch(
        f"{URL}{created['id']}/",
        {"status": "success", "content": "Done.", "input_tokens": 900, "output_tokens": 100},
    )

    assert response.status_code == 200, response.content
    data = response.json()
    assert data["status"] == "success"
    assert data["content"] == "Done."
    assert data["total_tokens"] == 1000
    assert data["completed_at"] is not None
    [call] = received
    assert call["action"] == "updated"
    assert call["previous"][created["id"]]["status"] == "pending"
    assert call["previous"][created["id"]]["total_tokens"] == 0


def test_status_moves_through_processing(api_client):
    created = api_client.post(URL, {"request_id": "job-8", "status": "pending"}).json()
    url = f"{URL}{created['id']}/"
    assert api_client.patch(url, {"status": "processing"}).json()["status"] == "processing"
    assert api_client.patch(url, {"status": "processing"}).status_code == 200  # no change is fine
    assert (
        api_client.patch(url, {"status": "failed", "error_message": "timeout"}).json()["status"] == "failed"
    )


@pytest.mark.parametrize(
    ("start", "change", "status_code", "code"),
    [
        ("success", {"status": "pending"}, 400, "invalid_transition"),
        ("processing", {"status": "pending"}, 400, "invalid_transition"),
        ("failed", {"status": "success"}, 400, "invalid_transition"),
        ("success", {"content": "rewritten"}, 409, "generation_finished"),
        ("success", {"output_tokens": 5}, 409, "generation_finished"),
        # Its usage would be metered again: a closed generation's cost went from null to $0.75.
        (
            "success",
            {"raw_response": {"usage": {"prompt_tokens": 100000, "completion_tokens": 50000}}},
            409,
            "generation_finished",
        ),
        ("pending", {"parent": 1}, 400, "unknown_field"),
        ("pending", {"request_id": "other"}, 400, "unknown_field"),
        ("pending", {"status": "done"}, 400, "invalid_choice"),
        ("pending", {"input_tokens": -1}, 400, "min_value"),
    ],
)
def test_bad_changes_are_refused_and_change_nothing(
    api_client, organization, start, change, status_code, code
):
    generation = GenerationFactory(organization=organization, status=start)
    before = Generation.objects.filter(pk=generation.pk).values().get()
    events = AuditEvent.objects.count()

    response = api_client.patch(f"{URL}{generation.pk}/", change)

    assert response.status_code == status_code, response.content
    assert response.json()["errors"][0]["code"] == code
    assert Generation.objects.filter(pk=generation.pk).values().get() == before
    assert AuditEvent.objects.count() == events


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "status_code", "attr"),
    [
        ({"input_tokens": -5}, 400, "input_tokens"),
        ({"cache_read_tokens": -1}, 400, "cache_read_tokens"),
        ({"status": "exploded"}, 400, "status"),
        ({"content_type": "poem"}, 400, "content_type"),
        ({"target_channel": "fax"}, 400, "target_channel"),
        ({"content_format": "docx"}, 400, "content_format"),
        ({"generation_time_ms": -3}, 400, "generation_time_ms"),
        ({"client_cost_usd": "-0.01"}, 400, "client_cost_usd"),
        ({"request_id": ""}, 400, "request_id"),
        ({"kind": "variant"}, 400, "kind"),
        ({"campaign": 999999}, 400, "campaign"),
        ({"usage": {"prompt_tokens": 1}, "input_tokens": 1}, 400, "usage"),
        ({"content": "x" * (1024 * 1024 + 1)}, 413, None),
        ({"metadata": {"note": "nul \x00 inside"}}, 400, "metadata.note"),
        ({"raw_request": {"nul\x00key": 1}}, 400, "raw_request"),
        ({"content": "nul \x00 in text"}, 400, "content"),
        # A total below the tokens it totals (was stored as sent; reports then did not add up).
        ({"total_tokens": 3}, 400, "total_tokens"),
        # Past a column's bounds: the serializer's refusal is the only check these fields get
        # (the row's own check skips what it vouched for: tenancy.api.checked_fields).
        ({"agent_name": "a" * 101}, 400, "agent_name"),
        ({"user_ref": "u" * 201}, 400, "user_ref"),
        ({"user_ref": ""}, 400, "user_ref"),
        ({"conversation_id": "c" * 201}, 400, "conversation_id"),
        ({"branch_name": "b" * 101}, 400, "branch_name"),
        ({"model": "m" * 201}, 400, "model"),
        ({"provider": "p" * 51}, 400, "provider"),
        ({"error_message": "e" * 10_001}, 400, "error_message"),
        ({"generation_time_ms": 2**31}, 400, "generation_time_ms"),
        ({"input_tokens": 2**62 + 1}, 400, "input_tokens"),
        ({"client_cost_usd": "0.00000000001"}, 400, "client_cost_usd"),
        ({"client_cost_usd": "12345678901"}, 400, "client_cost_usd"),
        ({"status": None}, 400, "status"),
        ({"content_type": ""}, 400, "content_type"),
        ({"occurred_at": None}, 400, "occurred_at"),
        ({"metadata": []}, 400, "metadata"),
    ],
)
def test_bad_input_is_a_clear_4xx_and_writes_nothing(api_client, organization, overrides, status_code, attr):
    events = AuditEvent.objects.count()

    response = api_client.post(URL, body(**overrides))

    assert response.status_code == status_code, response.content
    error = response.json()["errors"][0]
    assert error["detail"]
    assert error["attr"] == attr
    assert Generation.all_objects.count() == 0
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize(("given", "valid"), [(dict, False), (JSONBody, True)], ids=["built", "json-body"])
def test_a_json_field_walks_its_value_for_nul_unless_the_parser_walked_the_body(given, valid):
    """A JSON field refuses a NUL in what a serializer is given by our own code (an integration's
    translation); a request body's values were walked by ``StrictJSONParser``, which refuses
    them with their path (above), and are not walked again."""

    class Probe(serializers.Serializer):
        metadata = serializers.DictField(validators=[no_nul_characters])

    probe = Probe(data=given(metadata={"note": "nul \x00 inside"}))

    assert probe.is_valid() is valid
    if not valid:
        assert "U+0000" in str(probe.errors["metadata"][0])


def test_content_over_one_mebibyte_in_a_bulk_item_is_refused_by_the_field(api_client):
    response = api_client.post(f"{URL}bulk/", {"items": [body(content="x" * (1024 * 1024 + 1))]})
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "items.0.content"
    assert Generation.all_objects.count() == 0


def test_a_parent_in_another_organization_is_refused(api_client, other_organization):
    theirs = GenerationFactory(organization=other_organization)

    response = api_client.post(URL, body(parent=theirs.pk))

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["attr"], error["code"]) == ("parent", "does_not_exist")
    assert Generation.all_objects.count() == 1


def test_a_campaign_in_another_organization_is_refused(api_client, other_organization):
    theirs = CampaignFactory(organization=other_organization)
    response = api_client.post(URL, body(campaign=theirs.pk))
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "campaign"
    assert Generation.all_objects.count() == 0


# --- reading ------------------------------------------------------------------------------------


def test_filters_narrow_the_list(api_client, organization, other_organization):
    campaign = CampaignFactory(organization=organization)
    old = timezone.now() - datetime.timedelta(days=40)
    GenerationFactory(
        organization=organization, request_id="a", status="failed", user_ref="u1", vertical=vertical("tech")
    )
    GenerationFactory(organization=organization, request_id="b", campaign=campaign, content_type="social")
    GenerationFactory(
        organization=organization, request_id="c", model_name="claude-sonnet-4-0", created_at=old
    )
    GenerationFactory(organization=other_organization, request_id="d", status="failed")

    def ids(query):
        response = api_client.get(f"{URL}?{query}")
        assert response.status_code == 200, response.content
        return sorted(row["request_id"] for row in response.json()["results"])

    assert ids("status=failed") == ["a"]
    assert ids("status=failed&status=success") == ["a", "b", "c"]
    assert ids(f"campaign={campaign.pk}") == ["b"]
    assert ids("content_type=social") == ["b"]
    assert ids("model=claude-sonnet-4-0") == ["c"]
    assert ids("provider=openai") == ["a", "b", "c"]
    assert ids("user_ref=u1") == ["a"]
    assert ids("vertical=tech") == ["a"]
    assert ids("vertical=no-such-vertical") == []  # an unknown slug matches nothing
    assert ids("cost_status=unpriced") == ["a", "b", "c"]
    since = (timezone.now() - datetime.timedelta(days=1)).isoformat()
    assert ids(f"created_after={since.replace('+', '%2B')}") == ["a", "b"]
    assert ids(f"created_before={since.replace('+', '%2B')}") == ["c"]


@pytest.mark.parametrize(
    ("query", "status_code"),
    [
        ("created_after=2434-04-25T01:00:05-16:22", 200),  # offset PostgreSQL would refuse: made UTC
        ("created_before=0001-01-01T00:10:00%2B01:00", 400),  # before year 1 once in UTC
        ("created_after=yesterday", 400),
    ],
)
def test_odd_datetimes_in_filters_are_handled(api_client, query, status_code):
    assert api_client.get(f"{URL}?{query}").status_code == status_code
    assert api_client.get(f"/api/v1/runs/?{query}").status_code == status_code


def test_list_query_count_is_fixed(api_client, organization, django_assert_max_num_queries):
    for _ in range(30):
        GenerationFactory(organization=organization)
    api_client.get(URL)
    with django_assert_max_num_queries(4):
        response = api_client.get(f"{URL}?page_size=30")
    assert len(response.json()["results"]) == 30


def test_list_rows_leave_out_the_raw_payloads(api_client, organization):
    generation = GenerationFactory(organization=organization, raw_request={"messages": []})
    row = api_client.get(URL).json()["results"][0]
    assert "raw_request" not in row
    assert api_client.get(f"{URL}{generation.pk}/").json()["raw_request"] == {"messages": []}


def test_delete_and_restore_are_signalled(api_client, organization, received):
    generation = GenerationFactory(organization=organization)
    assert api_client.delete(f"{URL}{generation.pk}/").status_code == 204
    assert api_client.post(f"{URL}{generation.pk}/restore/").status_code == 200
    assert [call["action"] for call in received] == ["deleted", "restored"]
    assert api_client.get(f"{URL}{generation.pk}/").status_code == 200


def test_a_single_post_takes_few_queries_once_the_catalogue_is_cached(
    api_client, organization, django_assert_max_num_queries
):
    price_sync(catalogue=[entry for entry in snapshot_catalogue(["openai"]) if entry.name == "gpt-4o"])
    priced = body(model="gpt-4o", usage={"prompt_tokens": 1200, "completion_tokens": 300})
    del priced["input_tokens"], priced["output_tokens"]
    assert api_client.post(URL, {**priced, "request_id": "warm-up"}).status_code == 201

    # key, the shared throttle's counter upsert, savepoint, replay look-up, savepoint, INSERT,
    # release, rollup upsert, release: no audit row, no catalogue query, no last_used_at write
    # (at most once a minute).
    with django_assert_max_num_queries(9):
        response = api_client.post(URL, {**priced, "request_id": "req-2"})

    assert response.status_code == 201, response.content
    assert response.json()["cost_status"] == "priced"


def test_status_and_content_type_filters_select_without_distinct(api_client, organization):
    GenerationFactory(organization=organization, request_id="a", status="failed", content_type="social")
    GenerationFactory(organization=organization, request_id="b", status="success", content_type="blog")

    with CaptureQueriesContext(connection) as queries:
        response = api_client.get(f"{URL}?status=failed&status=success&content_type=social&content_type=blog")

    assert sorted(row["request_id"] for row in response.json()["results"]) == ["a", "b"]
    listing = [query["sql"] for query in queries.captured_queries if "generations_generation" in query["sql"]]
    assert listing and not any("DISTINCT" in sql for sql in listing)


def _page_sql(queries) -> str:
    (sql,) = [
        query["sql"] for query in queries.captured_queries if 'FROM "generations_generation"' in query["sql"]
    ]
    return sql


def test_model_and_provider_filters_read_one_column_of_the_generations(api_client, organization):
    """Given generations sent with a model's name, its alias and a name nobody knows, when the
    list is filtered by model or provider, then the known ones match through the resolved
    model_id / provider_id alone (no join, no OR: one index serves the page) and the unknown
    one by the name as sent."""
    acme = ProviderFactory(slug="acme")
    AIModelFactory(provider=acme, name="house-model", aliases=["house-alias"])
    AIModelFactory(provider=acme, name="other-model")
    for request_id, provider, model in [
        ("canonical", "acme", "house-model"),
        ("alias", "acme", "house-alias"),
        ("other", "acme", "other-model"),
        ("unknown", "mystery", "mystery-model"),
    ]:
        response = api_client.post(URL, body(request_id=request_id, provider=provider, model=model))
        assert response.status_code == 201, response.content

    def listed(query):
        with CaptureQueriesContext(connection) as queries:
            response = api_client.get(f"{URL}?{query}")
        assert response.status_code == 200, response.content
        return sorted(row["request_id"] for row in response.json()["results"]), _page_sql(queries)

    for name in ("house-model", "house-alias"):
        ids, sql = listed(f"model={name}")
        assert ids == ["alias", "canonical"]
        assert '"model_id" IN' in sql and "providers_aimodel" not in sql.split("WHERE")[1]
    assert listed("model=mystery-model")[0] == ["unknown"]
    assert listed("model=nobody-knows")[0] == []
    ids, sql = listed("provider=acme")
    assert ids == ["alias", "canonical", "other"]
    assert '"provider_id" =' in sql and "providers_provider" not in sql.split("WHERE")[1]
    assert listed("provider=mystery")[0] == ["unknown"]


def test_generation_output_is_drfs_own_field_by_field(api_client, organization):
    """Given generations with every kind of field set or empty (relations, datetimes, money,
    JSON, choices), the serializers' fast output equals DRF's own ``to_representation``."""
    from rest_framework import serializers

    from generations.api.serializers import GenerationListSerializer, GenerationSerializer
    from generations.selectors import generation_detail, generation_list

    run = GenerationRunFactory(organization=organization)
    campaign = CampaignFactory(organization=organization)
    tech = vertical("tech")
    response = api_client.post(
        URL, body(request_id="full", run=run.pk, campaign=campaign.pk, vertical=tech.slug)
    )
    assert response.status_code == 201, response.content
    root = response.json()["id"]
    assert api_client.post(f"{URL}{root}/branch/", {"request_id": "child"}, format="json").status_code == 201
    api_client.post(URL, {"request_id": "bare"}, format="json")
    for serializer_class, rows in [
        (GenerationSerializer, generation_detail(organization=organization)),
        (GenerationListSerializer, generation_list(organization=organization)),
    ]:
        for row in rows:
            serializer = serializer_class(row)
            fast = serializer.to_representation(row)
            assert fast == serializers.ModelSerializer.to_representation(serializer, row)
            assert list(fast) == serializer_class.Meta.fields


def test_a_total_below_its_parts_is_refused_in_a_bulk_item_and_an_edit(api_client, organization):
    bulk = api_client.post(f"{URL}bulk/", {"items": [body(), body(request_id="req-2", total_tokens=3)]})
    assert (bulk.status_code, bulk.json()["errors"][0]["attr"]) == (400, "items.1.total_tokens")
    assert Generation.all_objects.count() == 0

    pending = api_client.post(URL, body(status="pending", input_tokens=10, output_tokens=5)).json()["id"]
    edit = api_client.patch(f"{URL}{pending}/", {"total_tokens": 4})
    assert (edit.status_code, edit.json()["errors"][0]["attr"]) == (400, "total_tokens")
    assert api_client.patch(f"{URL}{pending}/", {"total_tokens": 20}).json()["total_tokens"] == 20
