"""Money spent stays spent: deleting a generation, or purging its user, refunds no budget and
moves no report, rollup or weekly summary. Provider calls are ingested through the same
idempotency core as generations."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from django.utils import timezone

from analytics import services
from analytics.models import ProviderCall, ProviderCallDailyRollup, WeeklySummary
from analytics.purge import user_purge
from tenancy.choices import APIKeyRole
from tests.analytics.factories import rollup_sums
from tests.concurrency import at_once
from tests.conftest import client_for_key
from tests.providers.factories import BudgetFactory

pytestmark = pytest.mark.django_db
GENERATIONS = "/api/v1/generations/"


def generation(**overrides):
    return {
        "request_id": "gen-1",
        "provider": "openai",
        "model": "gpt-4o",
        "content": "Wake up to the Atlantic.",
        "input_tokens": 100_000,
        "output_tokens": 20_000,
        "status": "success",
        "user_ref": "alice",
        **overrides,
    }


def figures(client) -> dict:
    """What the organization sees of its spending: the budget check and the cost report."""
    check = client.get("/api/v1/budgets/check/").json()
    report = client.get("/api/v1/reports/cost/?group_by=").json()["totals"]
    return {
        "budget": (check["allowed"], check["spent_usd"], check["remaining_usd"]),
        "report": (report["requests"], report["cost_usd"]),
    }


@pytest.fixture
def spent(api_client, organization, priced_models):
    """A day budget of $1 and one priced generation of alice's recorded through the API."""
    BudgetFactory(organization=organization, period="day", limit_usd=Decimal("1"))
    response = api_client.post(GENERATIONS, generation(), format="json")
    assert response.status_code == 201, response.content
    assert Decimal(response.json()["cost_usd"]) > 0
    return response.json()


def test_deleting_a_generation_changes_neither_the_budget_check_nor_the_cost_report(spent, api_client):
    before = figures(api_client)
    assert Decimal(before["budget"][1]) == Decimal(spent["cost_usd"])

    assert api_client.delete(f"{GENERATIONS}{spent['id']}/").status_code == 204

    assert figures(api_client) == before


def test_a_weekly_summary_counts_a_deleted_generation(spent, api_client, organization):
    api_client.delete(f"{GENERATIONS}{spent['id']}/")
    today = timezone.now().date()

    summary = services.weekly_summary_write(
        organization=organization, week_start=services.week_start_of(today)
    )

    assert (summary.requests, summary.cost_usd) == (1, Decimal(spent["cost_usd"]))
    assert WeeklySummary.objects.filter(organization=organization).count() == 1


def test_purging_the_user_of_a_deleted_generation_keeps_its_cost(spent, api_client, organization):
    api_client.delete(f"{GENERATIONS}{spent['id']}/")
    before = figures(api_client)

    user_purge(user_ref="alice", organizations=[organization])

    assert figures(api_client) == before
    by_user = api_client.get("/api/v1/reports/cost/?group_by=user").json()["rows"]
    assert [(row["user_ref"], row["cost_usd"]) for row in by_user] == [(None, before["report"][1])]


def test_a_call_of_a_deleted_generation_is_not_counted_twice(spent, api_client):
    call = {
        "request_id": "call-1",
        "generation": spent["id"],
        "endpoint": "/v1/chat/completions",
        "provider": "openai",
        "model": "gpt-4o",
        "input_tokens": 100_000,
        "output_tokens": 20_000,
        "status_code": 200,
    }
    assert api_client.post("/api/v1/usage/", call, format="json").status_code == 201
    before = api_client.get("/api/v1/budgets/check/").json()["spent_usd"]

    api_client.delete(f"{GENERATIONS}{spent['id']}/")

    assert api_client.get("/api/v1/budgets/check/").json()["spent_usd"] == before
    assert Decimal(before) == Decimal(spent["cost_usd"])


# --- provider calls through the idempotency core ---------------------------------------------


CALL = {
    "request_id": "race-call",
    "endpoint": "/v1/chat/completions",
    "provider": "openai",
    "model": "gpt-4o",
    "input_tokens": 1000,
    "output_tokens": 100,
    "status_code": 200,
}


def test_a_provider_call_with_another_body_is_a_409_naming_request_id(api_client, organization):
    assert api_client.post("/api/v1/usage/", CALL, format="json").status_code == 201

    response = api_client.post("/api/v1/usage/", {**CALL, "output_tokens": 7}, format="json")

    assert response.status_code == 409
    [error] = response.json()["errors"]
    assert (error["code"], error["attr"]) == ("conflicting_replay", "request_id")
    assert ProviderCall.objects.get(organization=organization).output_tokens == 100


@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_replays_of_one_provider_call_make_one_row(make_api_client, organization):
    plain_key = make_api_client(organization, APIKeyRole.EDITOR).plain_key

    responses = at_once(20, lambda i: client_for_key(plain_key).post("/api/v1/usage/", CALL, format="json"))

    codes = Counter(response.status_code for response in responses)
    assert codes == {201: 1, 200: 19}, [r.content for r in responses if r.status_code >= 500]
    assert ProviderCall.objects.filter(organization=organization, request_id="race-call").count() == 1
    assert rollup_sums(ProviderCallDailyRollup, organization=organization).requests == 1
