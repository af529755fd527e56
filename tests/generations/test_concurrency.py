"""Real threads, real connections, committed transactions: idempotency, tree versions, cache hits.

Each test runs with ``transaction=True`` so every thread's request commits on its own
connection (closed when the thread ends), exactly as two gunicorn workers would.
"""

from __future__ import annotations

from collections import Counter

import pytest
from django.db.models import Sum

from analytics.models import GenerationDailyRollup, GenerationModelDailyRollup, ModelPerformance
from generations.models import CacheEntry, Generation
from tenancy.choices import APIKeyRole
from tenancy.models import AuditEvent
from tests.concurrency import at_once
from tests.conftest import client_for_key
from tests.generations.factories import CacheEntryFactory, GenerationFactory, GenerationRunFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def plain_key(make_api_client, organization):
    return make_api_client(organization, APIKeyRole.EDITOR).plain_key


def test_twenty_simultaneous_posts_of_one_request_id_make_one_row(plain_key, organization):
    payload = {
        "request_id": "race-1",
        "model": "an-unknown-model",
        "content": "Same body from every thread.",
        "input_tokens": 10,
        "output_tokens": 5,
        "status": "success",
    }

    responses = at_once(
        20, lambda i: client_for_key(plain_key).post("/api/v1/generations/", payload, format="json")
    )

    codes = Counter(response.status_code for response in responses)
    assert codes == {201: 1, 200: 19}, [r.content for r in responses if r.status_code >= 500]
    assert Generation.objects.filter(organization=organization, request_id="race-1").count() == 1
    assert len({response.json()["id"] for response in responses}) == 1
    # Each request's rollup writes rode in its own INSERT statement: only the winner's happened.
    counted = GenerationDailyRollup.objects.filter(organization=organization)
    assert counted.aggregate(requests=Sum("requests"))["requests"] == 1


def test_twenty_simultaneous_posts_of_one_request_id_in_a_run_count_it_once_in_the_run(
    plain_key, organization
):
    run = GenerationRunFactory(organization=organization)
    payload = {
        "request_id": "race-run",
        "model": "an-unknown-model",
        "content": "Same body from every thread.",
        "run": run.pk,
        "status": "success",
    }

    responses = at_once(
        20, lambda i: client_for_key(plain_key).post("/api/v1/generations/", payload, format="json")
    )

    assert Counter(response.status_code for response in responses) == {201: 1, 200: 19}
    performance = ModelPerformance.objects.get(organization=organization, run=run)
    assert (performance.requests, performance.successes) == (1, 1)
    counted = GenerationModelDailyRollup.objects.filter(organization=organization)
    assert counted.aggregate(requests=Sum("requests"))["requests"] == 1


def test_twenty_simultaneous_replays_of_one_child_make_one_row_and_take_one_version(plain_key, organization):
    """The child's tree version is taken in the savepoint of its INSERT … ON CONFLICT: the 19
    that find the request_id taken roll their version back, so the tree has no gap."""
    root = GenerationFactory(organization=organization)

    responses = at_once(
        20,
        lambda i: client_for_key(plain_key).post(
            f"/api/v1/generations/{root.pk}/branch/",
            {"request_id": "branch-race", "content": "same child", "status": "success"},
            format="json",
        ),
    )

    codes = Counter(response.status_code for response in responses)
    assert codes == {201: 1, 200: 19}, [r.content for r in responses if r.status_code >= 500]
    assert len({response.json()["id"] for response in responses}) == 1
    child = Generation.objects.get(parent=root)
    assert child.version == 2
    root.refresh_from_db()
    assert root.tree_last_version == 2


def test_twenty_simultaneous_posts_with_two_bodies_make_one_row_and_409s(plain_key, organization):
    def post(i):
        body = {"request_id": "race-2", "model": "m", "content": f"body {i % 2}", "status": "success"}
        return client_for_key(plain_key).post("/api/v1/generations/", body, format="json")

    responses = at_once(20, post)

    codes = Counter(response.status_code for response in responses)
    assert codes[201] == 1 and codes[201] + codes[200] + codes[409] == 20, codes
    assert codes[409] == 10  # the other body's ten, whichever body won
    assert Generation.objects.filter(organization=organization, request_id="race-2").count() == 1


def test_twenty_simultaneous_branches_of_one_node_get_distinct_versions(plain_key, organization):
    root = GenerationFactory(organization=organization)

    responses = at_once(
        20,
        lambda i: client_for_key(plain_key).post(
            f"/api/v1/generations/{root.pk}/branch/",
            {"request_id": f"branch-{i}", "content": f"take {i}", "status": "success"},
            format="json",
        ),
    )

    assert [response.status_code for response in responses] == [201] * 20, [
        response.content for response in responses if response.status_code != 201
    ]
    children = Generation.objects.filter(parent=root)
    assert children.count() == 20
    assert sorted(children.values_list("version", flat=True)) == list(range(2, 22))
    root.refresh_from_db()
    assert root.tree_last_version == 21


def test_fifty_simultaneous_cache_gets_count_fifty_hits(plain_key, organization):
    entry = CacheEntryFactory(organization=organization, key="hot-key")

    responses = at_once(50, lambda i: client_for_key(plain_key).get("/api/v1/cache/hot-key/"))

    assert [response.status_code for response in responses] == [200] * 50
    entry.refresh_from_db()
    assert entry.hit_count == 50
    assert CacheEntry.objects.count() == 1


def test_five_simultaneous_identical_bulks_write_each_row_once(plain_key, organization):
    items = [{"request_id": f"same-bulk-{n}", "content": f"item {n}", "input_tokens": n} for n in range(50)]

    responses = at_once(
        5,
        lambda i: client_for_key(plain_key).post(
            "/api/v1/generations/bulk/", {"items": items}, format="json"
        ),
    )

    codes = Counter(response.status_code for response in responses)
    assert codes == {201: 1, 200: 4}, [response.content[:300] for response in responses]
    assert Generation.objects.filter(organization=organization).count() == 50
    ids = {tuple(row["id"] for row in response.json()["results"]) for response in responses}
    assert len(ids) == 1


def test_eight_simultaneous_replays_of_one_otlp_export_write_and_count_each_span_once(
    plain_key, organization
):
    """An exporter that times out and retries while the first attempt still runs: the spans'
    (trace id, span id) keep one row each, and the rollups count each call once."""
    from django.db.models import Sum

    from analytics.models import GenerationDailyRollup
    from tests.generations.otel_support import raw_export, raw_span

    body = raw_export(*(raw_span({"gen_ai.request.model": "an-unknown-model"}) for _ in range(50)))

    responses = at_once(
        8,
        lambda i: client_for_key(plain_key).generic(
            "POST", "/api/v1/otel/v1/traces", body, content_type="application/x-protobuf"
        ),
    )

    assert [response.status_code for response in responses] == [200] * 8
    assert Generation.objects.filter(organization=organization).count() == 50
    rollups = GenerationDailyRollup.objects.filter(organization=organization)
    assert rollups.aggregate(requests=Sum("requests"))["requests"] == 50


def test_twenty_simultaneous_replays_of_a_deleted_generations_request_write_nothing(plain_key, organization):
    payload = {"request_id": "gone-1", "model": "an-unknown-model", "content": "once", "status": "success"}
    client = client_for_key(plain_key)
    first = client.post("/api/v1/generations/", payload, format="json").json()
    client.delete(f"/api/v1/generations/{first['id']}/")

    responses = at_once(
        20, lambda i: client_for_key(plain_key).post("/api/v1/generations/", payload, format="json")
    )

    assert [response.status_code for response in responses] == [409] * 20
    assert {response.json()["errors"][0]["code"] for response in responses} == {"deleted"}
    assert Generation.all_objects.filter(organization=organization, request_id="gone-1").count() == 1


def test_twenty_simultaneous_puts_of_a_new_cache_key_create_it_once(plain_key, organization):
    responses = at_once(
        20,
        lambda i: client_for_key(plain_key).put(
            "/api/v1/cache/fresh-key/", {"response": {"n": i}, "ttl_seconds": 60}, format="json"
        ),
    )

    codes = Counter(response.status_code for response in responses)
    assert codes == {201: 1, 200: 19}, [r.content for r in responses if r.status_code >= 400]
    assert CacheEntry.objects.filter(organization=organization, key="fresh-key").count() == 1


def test_twenty_simultaneous_posts_of_one_idempotency_key_schedule_one_post(plain_key, organization):
    """The publishing queue's idempotency_key holds under a race as the ingest request_id does:
    one 201, replays 200, never a 500 from the unique constraint."""
    import datetime

    from django.utils import timezone

    from generations.publishing.models import ScheduledPost
    from tests.generations.publishing_factories import webhook_account

    account = webhook_account(organization, "https://hooks.example.com/in", secrets={"access_token": "t"})
    payload = {
        "account": account.pk,
        "text": "Once",
        "idempotency_key": "race-post-1",
        "publish_at": (timezone.now() + datetime.timedelta(hours=1)).isoformat(),
    }

    responses = at_once(
        20, lambda i: client_for_key(plain_key).post("/api/v1/scheduled-posts/", payload, format="json")
    )

    codes = Counter(response.status_code for response in responses)
    assert codes == {201: 1, 200: 19}, [r.content for r in responses if r.status_code != 200][:3]
    assert ScheduledPost.objects.filter(organization=organization, idempotency_key="race-post-1").count() == 1


def test_ten_simultaneous_deletes_then_restores_of_one_generation_each_act_and_audit_once(
    plain_key, organization
):
    generation = GenerationFactory(organization=organization)
    url = f"/api/v1/generations/{generation.pk}/"

    deletes = at_once(10, lambda i: client_for_key(plain_key).delete(url))
    deleted_at = Generation.all_objects.get(pk=generation.pk).deleted_at
    restores = at_once(10, lambda i: client_for_key(plain_key).post(f"{url}restore/"))

    assert {response.status_code for response in deletes} <= {204, 404}
    assert {response.status_code for response in restores} == {200}
    audited = Counter(
        AuditEvent.objects.filter(
            object_type="generations.generation",
            object_id=str(generation.pk),
            action__in=["delete", "restore"],
        ).values_list("action", flat=True)
    )
    assert audited == {"delete": 1, "restore": 1}
    assert deleted_at is not None
    assert Generation.objects.filter(pk=generation.pk).exists()


def test_restoring_a_live_generation_changes_and_audits_nothing(plain_key, organization):
    generation = GenerationFactory(organization=organization)

    response = client_for_key(plain_key).post(f"/api/v1/generations/{generation.pk}/restore/")

    assert response.status_code == 200
    assert not AuditEvent.objects.filter(
        object_type="generations.generation", object_id=str(generation.pk)
    ).exists()
