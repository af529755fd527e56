"""Multi-model runs (status and totals derived from their generations) and campaigns."""

from __future__ import annotations

from decimal import Decimal

import pytest

from generations.models import Campaign, Generation, GenerationRun
from providers import catalogue_cache
from styleguides.models import ContentPillar
from tests.api_cases import TenantCRUDAPITests
from tests.generations.factories import CampaignFactory, GenerationFactory, GenerationRunFactory
from tests.providers.factories import AIModelFactory, ProviderFactory
from tests.styleguides.factories import ContentPillarFactory, ContentSeriesFactory

pytestmark = pytest.mark.django_db


class TestCampaignAPI(TenantCRUDAPITests):
    model = Campaign
    url = "/api/v1/campaigns/"
    create_data = {"name": "Summer in Lisbon", "starts_on": "2026-06-01", "ends_on": "2026-08-31"}
    update_data = {"description": "Rooftop season"}
    related_factories = {
        "pillar": lambda organization: ContentPillarFactory(organization=organization),
        "series": lambda organization: ContentSeriesFactory(organization=organization),
    }

    @pytest.fixture
    def make_object(self):
        return lambda organization, **fields: CampaignFactory(organization=organization, **fields)


class TestRunAPI(TenantCRUDAPITests):
    model = GenerationRun
    url = "/api/v1/runs/"
    create_data = {
        "prompt": "Name a surf school",
        "mode": "brandable",
        "deep_thinking": True,
        "models_requested": ["gpt-4o", "claude-sonnet-4-0", "gemini-2.5-flash"],
    }
    update_data = {"error_details": {"gemini-2.5-flash": "timeout"}}

    @pytest.fixture
    def make_object(self):
        return lambda organization, **fields: GenerationRunFactory(organization=organization, **fields)


def test_campaign_ending_before_it_starts_is_refused(api_client):
    response = api_client.post(
        "/api/v1/campaigns/", {"name": "Backwards", "starts_on": "2026-06-01", "ends_on": "2026-05-01"}
    )
    assert response.status_code == 400
    assert Campaign.objects.count() == 0


def test_campaign_pillar_must_be_the_organizations(api_client, organization, other_organization):
    theirs = ContentPillar.objects.create(organization=other_organization, name="Theirs", slug="theirs")
    mine = ContentPillar.objects.create(organization=organization, name="Local", slug="local")
    assert api_client.post("/api/v1/campaigns/", {"name": "A", "pillar": theirs.pk}).status_code == 400
    response = api_client.post("/api/v1/campaigns/", {"name": "B", "pillar": mine.pk})
    assert response.status_code == 201
    assert response.json()["pillar"] == mine.pk


def test_generations_filter_by_campaign(api_client, organization):
    campaign = CampaignFactory(organization=organization)
    inside = GenerationFactory(organization=organization, campaign=campaign)
    GenerationFactory(organization=organization)
    rows = api_client.get(f"/api/v1/generations/?campaign={campaign.pk}").json()["results"]
    assert [row["id"] for row in rows] == [inside.pk]


def run_with(organization, statuses_by_model, **fields):
    run = GenerationRunFactory(organization=organization, models_requested=list(statuses_by_model), **fields)
    for model_name, status in statuses_by_model.items():
        GenerationFactory(
            organization=organization, run=run, model_name=model_name, status=status, total_tokens=100
        )
    return run


@pytest.mark.parametrize(
    ("statuses", "expected", "completed"),
    [
        ({}, "pending", []),
        ({"a": "success", "b": "processing"}, "running", ["a"]),
        ({"a": "success", "b": "success"}, "completed", ["a", "b"]),
        ({"a": "success", "b": "failed"}, "partial", ["a"]),
        ({"a": "failed", "b": "failed"}, "failed", []),
        ({"a": "cancelled", "b": "cancelled"}, "cancelled", []),
    ],
)
def test_run_status_and_completed_models_derive_from_generations(
    api_client, organization, statuses, expected, completed
):
    run = run_with(organization, statuses)
    data = api_client.get(f"/api/v1/runs/{run.pk}/").json()
    assert data["status"] == expected
    assert data["models_completed"] == completed
    assert data["generation_count"] == len(statuses)
    assert data["total_tokens"] == 100 * len(statuses)


def test_run_lists_live_generations_but_its_cost_counts_deleted_ones(api_client, organization):
    # Was "run totals ignore deleted generations": money spent stays spent (issue 9).
    run = run_with(organization, {"a": "success", "b": "success"})
    run.generations.update(cost_usd=Decimal("0.5"), cost_status="priced")
    run.generations.filter(model_name="a").delete()
    data = api_client.get(f"/api/v1/runs/{run.pk}/").json()
    assert data["generation_count"] == 1
    assert data["models_completed"] == ["b"]
    assert Decimal(data["total_cost_usd"]) == Decimal("1.0")
    assert data["total_tokens"] == 200


def test_a_run_is_running_until_every_requested_model_has_reported(api_client, organization):
    # Given three requested models, one succeeded and one failed, the third not yet reported
    run = GenerationRunFactory(organization=organization, models_requested=["a", "b", "c"])
    GenerationFactory(organization=organization, run=run, model_name="a", status="success")
    GenerationFactory(organization=organization, run=run, model_name="b", status="failed")

    # Then the run is still running (it used to say partial)
    data = api_client.get(f"/api/v1/runs/{run.pk}/").json()
    assert (data["status"], data["models_reported"]) == ("running", ["a", "b"])

    # When the last model reports a failure, the run is partial
    GenerationFactory(organization=organization, run=run, model_name="c", status="failed")
    data = api_client.get(f"/api/v1/runs/{run.pk}/").json()
    assert (data["status"], data["models_reported"]) == ("partial", ["a", "b", "c"])
    assert api_client.get("/api/v1/runs/").json()["results"][0]["status"] == "partial"


def test_a_run_whose_requested_models_all_failed_reports_failed_only_when_all_reported(
    api_client, organization
):
    run = GenerationRunFactory(organization=organization, models_requested=["a", "b"])
    GenerationFactory(organization=organization, run=run, model_name="a", status="failed")
    assert api_client.get(f"/api/v1/runs/{run.pk}/").json()["status"] == "running"
    GenerationFactory(organization=organization, run=run, model_name="b", status="failed")
    assert api_client.get(f"/api/v1/runs/{run.pk}/").json()["status"] == "failed"


def test_run_list_is_one_query_whatever_the_runs(api_client, organization, django_assert_max_num_queries):
    for _ in range(5):
        run_with(organization, {"a": "success", "b": "failed"})
    api_client.get("/api/v1/runs/")
    with django_assert_max_num_queries(4):
        response = api_client.get("/api/v1/runs/")
    assert [row["status"] for row in response.json()["results"]] == ["partial"] * 5


@pytest.fixture
def gpt_4o(db):
    """The catalogue's ``gpt-4o`` (with a dated alias) and ``gpt-4o-mini``, as price sync lists them."""
    openai = ProviderFactory(slug="openai")
    AIModelFactory(provider=openai, name="gpt-4o-mini")
    return AIModelFactory(provider=openai, name="gpt-4o", aliases=["gpt-4o-2024-08-06"])


def record(api_client, run, model, *, status="success", provider="openai") -> Generation:
    """One generation of ``run`` recorded through the API (metering resolves its model)."""
    response = api_client.post(
        "/api/v1/generations/",
        {
            "request_id": f"run-{run.pk}-{model}-{status}",
            "run": run.pk,
            "provider": provider,
            "model": model,
            "status": status,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return Generation.objects.get(pk=response.json()["id"])


@pytest.mark.parametrize(
    ("requested", "recorded"),
    [
        ("gpt-4o", "GPT-4o"),  # another case
        ("gpt-4o", "gpt-4o-2024-08-06"),  # an alias the catalogue knows
        ("gpt-4o-2024-08-06", "gpt-4o"),  # the canonical name of the requested alias
        ("GPT-4O-2024-08-06", "Gpt-4o"),  # both
        ("house-model", "House-Model"),  # a model the catalogue does not list: by the name alone
    ],
)
def test_a_run_counts_a_generation_of_a_requested_model_under_another_name(
    api_client, organization, gpt_4o, requested, recorded
):
    # Given a run of two models, one answered under another spelling of its requested name
    run = GenerationRunFactory(organization=organization, models_requested=[requested, "claude-sonnet-4-0"])
    record(api_client, run, "claude-sonnet-4-0", provider="anthropic")
    generation = record(api_client, run, recorded)
    assert generation.model == (gpt_4o if "gpt" in requested.lower() else None)

    # When the run is read, alone or in the list
    detail = api_client.get(f"/api/v1/runs/{run.pk}/").json()
    (listed,) = api_client.get("/api/v1/runs/").json()["results"]

    # Then it has finished (it used to stay running), naming its models as it requested them
    expected = sorted([requested, "claude-sonnet-4-0"])
    for data in (detail, listed):
        assert data["status"] == "completed"
        assert data["models_reported"] == data["models_completed"] == expected


def test_a_run_that_requested_two_names_of_one_model_waits_for_both(api_client, organization, gpt_4o):
    # Given a run comparing gpt-4o with its dated snapshot, and gpt-4o's answer
    run = GenerationRunFactory(organization=organization, models_requested=["gpt-4o", "gpt-4o-2024-08-06"])
    record(api_client, run, "gpt-4o")

    # Then the snapshot has not answered yet: one generation does not count for both names
    data = api_client.get(f"/api/v1/runs/{run.pk}/").json()
    assert (data["status"], data["models_reported"]) == ("running", ["gpt-4o"])

    # When the snapshot answers, in another case, the run completes
    record(api_client, run, "GPT-4o-2024-08-06")
    data = api_client.get(f"/api/v1/runs/{run.pk}/").json()
    assert (data["status"], data["models_reported"]) == ("completed", ["gpt-4o", "gpt-4o-2024-08-06"])


def test_a_generation_of_a_model_the_run_did_not_request_keeps_its_name(api_client, organization, gpt_4o):
    # Given a run of gpt-4o answered by another model of the same provider
    run = GenerationRunFactory(organization=organization, models_requested=["gpt-4o"])
    record(api_client, run, "GPT-4o-Mini", status="failed")

    # Then gpt-4o has not reported: the run is running, the answer listed as it was sent
    data = api_client.get(f"/api/v1/runs/{run.pk}/").json()
    assert (data["status"], data["models_reported"]) == ("running", ["GPT-4o-Mini"])


def test_a_run_whose_requested_models_are_not_a_list_still_reads(api_client, organization):
    # Given a run whose models_requested an admin saved as a JSON object, with a generation
    run = GenerationRunFactory(organization=organization, models_requested={"gpt-4o": True})
    GenerationFactory(organization=organization, run=run, model_name="gpt-4o", status="success")

    # Then reading it answers (the figures query does not fail on the object), naming the model as sent
    response = api_client.get(f"/api/v1/runs/{run.pk}/")
    assert response.status_code == 200, response.content
    assert response.json()["models_reported"] == ["gpt-4o"]


def test_run_list_resolves_requested_names_without_a_query_per_name(
    api_client, organization, gpt_4o, django_assert_max_num_queries
):
    # Given a page of runs each requesting a different spelling, answered under yet another
    spellings = [("gpt-4o", "GPT-4o"), ("GPT-4o", "gpt-4o-2024-08-06"), ("gpt-4o-2024-08-06", "gpt-4O")]
    spellings += [(f"model-{n}", f"MODEL-{n}") for n in range(4)]
    for requested, recorded in spellings:
        run = GenerationRunFactory(organization=organization, models_requested=[requested, "gpt-4o-mini"])
        record(api_client, run, recorded)
        record(api_client, run, "gpt-4o-mini")
    api_client.get("/api/v1/runs/")  # the API key's cache and the throttle's lease

    # When the list is read by a process whose catalogue copy is cold
    catalogue_cache._shared = None
    with django_assert_max_num_queries(4):
        response = api_client.get("/api/v1/runs/")

    # Then every run has completed, the same bound as any page of runs: no catalogue query
    assert [row["status"] for row in response.json()["results"]] == ["completed"] * len(spellings)


def test_a_generation_may_name_its_run(api_client, organization):
    run = GenerationRunFactory(organization=organization)
    response = api_client.post("/api/v1/generations/", {"request_id": "r1", "run": run.pk, "model": "gpt-4o"})
    assert response.json()["run"] == run.pk
    assert api_client.get(f"/api/v1/runs/{run.pk}/").json()["status"] == "running"


def test_restoring_a_run_answers_every_field_a_read_does(api_client, organization):
    # The schema promises the run's derived fields on restore too (issue 11: they were missing).
    run = GenerationRunFactory(organization=organization, models_requested=["gpt-4o"])
    GenerationFactory(organization=organization, run=run, model_name="gpt-4o", status="success")
    assert api_client.delete(f"/api/v1/runs/{run.pk}/").status_code == 204

    restored = api_client.post(f"/api/v1/runs/{run.pk}/restore/")

    assert restored.status_code == 200
    assert restored.json() == api_client.get(f"/api/v1/runs/{run.pk}/").json()
