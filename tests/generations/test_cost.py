"""Cost at ingestion: provider-native usage objects priced exactly as genai-prices prices them;
unknown models kept as unpriced, with nothing lost."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import genai_prices
import pytest

from analytics.models import ProviderCall
from generations.models import Generation
from providers.price_sync import price_sync, snapshot_catalogue

pytestmark = pytest.mark.django_db
FOUR = ("openai", "anthropic", "google", "perplexity")
URL = "/api/v1/generations/"
MODELS = {"gpt-4o", "claude-sonnet-4-0", "gemini-2.5-flash"}


@pytest.fixture
def priced_models(db):
    """Providers, these models and their prices, synced from genai-prices' snapshot."""
    price_sync(catalogue=[entry for entry in snapshot_catalogue(FOUR) if entry.name in MODELS])


def genai_price(provider: str, model: str, response: dict, api_flavor: str, at) -> Decimal:
    extracted = genai_prices.extract_usage(response, provider_id=provider, api_flavor=api_flavor)
    return genai_prices.calc_price(
        extracted.usage, model, provider_id=provider, genai_request_timestamp=at
    ).total_price


CASES = [
    pytest.param(
        "openai",
        "gpt-4o",
        "usage",
        {
            "prompt_tokens": 12000,
            "completion_tokens": 800,
            "total_tokens": 12800,
            "prompt_tokens_details": {"cached_tokens": 4096},
        },
        "chat",
        (12000, 800, 4096, 0),
        id="openai",
    ),
    pytest.param(
        "anthropic",
        "claude-sonnet-4-20250514",
        "usage",
        {
            "input_tokens": 3000,
            "output_tokens": 500,
            "cache_read_input_tokens": 20000,
            "cache_creation_input_tokens": 1500,
        },
        "default",
        (24500, 500, 20000, 1500),
        id="anthropic",
    ),
    pytest.param(
        "google",
        "gemini-2.5-flash",
        "usageMetadata",
        {
            "promptTokenCount": 9000,
            "candidatesTokenCount": 700,
            "cachedContentTokenCount": 6000,
            "totalTokenCount": 9700,
        },
        "default",
        (9000, 700, 6000, 0),
        id="google",
    ),
]


@pytest.mark.parametrize(("provider", "model", "root", "usage", "flavor", "tokens"), CASES)
def test_provider_usage_with_cached_tokens_is_priced_like_genai_prices(
    api_client, priced_models, provider, model, root, usage, flavor, tokens
):
    response = api_client.post(
        URL,
        {
            "request_id": f"{provider}-1",
            "provider": provider,
            "model": model,
            "usage": usage,
            "status": "success",
        },
    )

    assert response.status_code == 201, response.content
    data = response.json()
    row = Generation.objects.get(pk=data["id"])
    assert (row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_write_tokens) == tokens
    assert row.total_tokens == tokens[0] + tokens[1]
    assert row.client_usage == usage  # what the client sent, kept as sent
    assert data["model"] == model
    assert data["resolved_provider"] == provider
    assert data["cost_status"] == "priced"
    expected = genai_price(provider, model, {root: usage, "model": model}, flavor, row.created_at)
    assert row.cost_usd == expected.quantize(Decimal("1e-10"), rounding=ROUND_HALF_UP)
    assert row.cost_usd > 0
    assert row.price is not None


def test_our_token_fields_with_cache_are_priced_like_genai_prices(api_client, priced_models):
    response = api_client.post(
        URL,
        {
            "request_id": "own-fields",
            "provider": "anthropic",
            "model": "claude-sonnet-4-0",
            "input_tokens": 50000,
            "output_tokens": 2000,
            "cache_read_tokens": 30000,
            "cache_write_tokens": 10000,
        },
    )
    row = Generation.objects.get(pk=response.json()["id"])
    usage = genai_prices.Usage(
        input_tokens=50000, output_tokens=2000, cache_read_tokens=30000, cache_write_tokens=10000
    )
    expected = genai_prices.calc_price(usage, "claude-sonnet-4-0", provider_id="anthropic").total_price
    assert row.cost_usd == expected.quantize(Decimal("1e-10"), rounding=ROUND_HALF_UP)


def test_an_unknown_model_is_stored_unpriced_with_everything_kept(api_client, priced_models):
    response = api_client.post(
        URL,
        {
            "request_id": "mystery",
            "provider": "openai",
            "model": "ft:my-private-finetune",
            "usage": {"prompt_tokens": 700, "completion_tokens": 90, "total_tokens": 790},
            "client_cost_usd": "0.0031",
            "content": "Still here.",
            "status": "success",
        },
    )

    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["cost_status"], data["cost_usd"], data["resolved_model"]) == ("unpriced", None, None)
    assert (data["input_tokens"], data["output_tokens"], data["total_tokens"]) == (700, 90, 790)
    assert (data["model"], data["content"], data["client_cost_usd"]) == (
        "ft:my-private-finetune",
        "Still here.",
        "0.0031000000",
    )
    assert data["resolved_provider"] == "openai"


def test_an_alias_resolves_to_the_canonical_model_and_the_raw_name_is_kept(api_client, priced_models):
    data = api_client.post(
        URL,
        {"request_id": "alias", "model": "claude-sonnet-4-20250514", "input_tokens": 10, "output_tokens": 1},
    ).json()
    assert data["model"] == "claude-sonnet-4-20250514"
    assert data["resolved_model"] == "claude-sonnet-4-0"
    assert data["resolved_provider"] == "anthropic"
    assert data["cost_status"] == "priced"


def test_list_rows_name_the_resolved_model_and_provider_as_the_detail_does(api_client, priced_models):
    """The list reads these names from the selector's annotations, not from related rows: a
    list selector that lost them would answer null here, silently."""
    created = api_client.post(
        URL,
        {"request_id": "listed", "model": "claude-sonnet-4-20250514", "input_tokens": 10, "output_tokens": 1},
    ).json()

    row = next(row for row in api_client.get(URL).json()["results"] if row["id"] == created["id"])

    assert (row["resolved_model"], row["resolved_provider"]) == ("claude-sonnet-4-0", "anthropic")
    assert (row["resolved_model"], row["resolved_provider"], row["vertical"]) == (
        created["resolved_model"],
        created["resolved_provider"],
        created["vertical"],
    )


def test_completing_a_pending_generation_prices_it(api_client, priced_models):
    created = api_client.post(URL, {"request_id": "later", "provider": "openai", "model": "gpt-4o"}).json()
    # Nothing reported yet: no usage, not a $0 cost.
    assert created["cost_status"] == "no_usage"
    assert created["cost_usd"] is None

    done = api_client.patch(
        f"{URL}{created['id']}/",
        {
            "status": "success",
            "usage": {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100},
        },
    ).json()

    usage = genai_prices.Usage(input_tokens=1000, output_tokens=100)
    expected = genai_prices.calc_price(usage, "gpt-4o", provider_id="openai").total_price
    assert Decimal(done["cost_usd"]) == expected.quantize(Decimal("1e-10"), rounding=ROUND_HALF_UP)
    assert done["total_tokens"] == 1100


@pytest.mark.parametrize(
    ("payload", "attr"),
    [
        ({"model": "gpt-4o", "usage": {"completion_tokens": 3}}, "usage"),
        (
            {"provider": "openai", "model": "gpt-4o", "input_tokens": 10, "cache_read_tokens": 20},
            "input_tokens",
        ),
    ],
)
def test_unreadable_or_impossible_usage_is_400_and_writes_nothing(api_client, priced_models, payload, attr):
    response = api_client.post(URL, {"request_id": "bad-usage", **payload})
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["attr"] == attr
    assert Generation.all_objects.count() == 0


@pytest.mark.parametrize("url", [URL, "/api/v1/usage/"])
@pytest.mark.parametrize(
    ("provider", "model", "usage", "named"),
    [
        (
            "openai",
            "o3",
            {
                "prompt_tokens": 10,
                "completion_tokens": 5,
                "completion_tokens_details": {"reasoning_tokens": 50},
            },
            "output_reasoning_tokens (50) cannot exceed output_tokens (5)",
        ),
        (
            "openai",
            "gpt-4o",
            {"input_tokens": 10, "output_tokens": 5, "input_tokens_details": {"cached_tokens": 11}},
            "cache_read_tokens (11) cannot exceed input_tokens (10)",
        ),
    ],
    ids=["reasoning-over-output", "responses-cached-over-input"],
)
def test_a_part_reported_above_its_whole_is_400_and_writes_nothing(
    api_client, priced_models, url, provider, model, usage, named
):
    """Reasoning tokens are output tokens, cached tokens input tokens: a usage saying otherwise
    cannot be true, and pricing it would charge the part beyond the whole."""
    body = {"request_id": "part-over-whole", "provider": provider, "model": model, "usage": usage}
    if url != URL:
        body["endpoint"] = "/v1/chat/completions"

    response = api_client.post(url, body, format="json")

    assert response.status_code == 400, response.content
    error = response.json()["errors"][0]
    assert (error["attr"], named in error["detail"]) == ("usage", True), error
    assert (Generation.all_objects.count(), ProviderCall.objects.count()) == (0, 0)


def test_gemini_thoughts_beyond_the_candidates_count_are_output_and_accepted(api_client, priced_models):
    """Gemini counts thinking apart from the answer (thoughtsTokenCount beside
    candidatesTokenCount): genai-prices adds it to the output, so reasoning stays within output."""
    usage = {"usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "thoughtsTokenCount": 50}}

    response = api_client.post(
        URL,
        {"request_id": "thinking", "provider": "google", "model": "gemini-2.5-flash", "usage": usage},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert (response.json()["input_tokens"], response.json()["output_tokens"]) == (10, 55)


@pytest.mark.parametrize("url", [URL, "/api/v1/usage/"])
@pytest.mark.parametrize(
    ("provider", "model", "usage", "named"),
    [
        # The chat reader gives up on the negative cached count; OpenAI's embeddings reader, which
        # knows only prompt_tokens, read the rest: the call was stored with no output tokens.
        (
            "openai",
            "gpt-4o",
            {"prompt_tokens": 10, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": -20}},
            "prompt_tokens_details.cached_tokens",
        ),
        (
            "google",
            "gemini-2.5-flash",
            {"usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": "3"}},
            "candidatesTokenCount",
        ),
        ("openai", "gpt-4o", {"prompt_tokens": 10, "completion_tokens": 2.5}, "completion_tokens"),
    ],
    ids=["negative-cached-tokens", "count-as-text", "fractional-count"],
)
def test_a_token_count_that_is_not_one_refuses_the_usage_instead_of_dropping_it(
    api_client, priced_models, url, provider, model, usage, named
):
    body = {"request_id": "bad-count", "provider": provider, "model": model, "usage": usage}
    if url.endswith("usage/"):
        body["endpoint"] = "/v1/chat/completions"

    response = api_client.post(url, body, format="json")

    assert response.status_code == 400, response.content
    error = response.json()["errors"][0]
    assert (error["code"], error["attr"]) == ("invalid_usage", "usage")
    assert named in error["detail"]
    assert Generation.all_objects.count() == 0
    assert ProviderCall.objects.count() == 0


def test_a_priced_bulk_looks_each_price_up_once(api_client, priced_models, django_assert_max_num_queries):
    items = [
        {
            "request_id": f"p{n}",
            "model": ["gpt-4o", "claude-sonnet-4-0", "gemini-2.5-flash"][n % 3],
            "input_tokens": 1000 + n,
            "output_tokens": 100,
        }
        for n in range(300)
    ]
    with django_assert_max_num_queries(25):
        response = api_client.post(f"{URL}bulk/", {"items": items})
    assert response.status_code == 201
    assert Generation.objects.filter(cost_status="priced").count() == 300


def test_budgets_count_generation_costs(organization, priced_models, api_client):
    import datetime

    from django.utils import timezone

    from providers.spending import spend_between

    api_client.post(
        URL,
        {
            "request_id": "spend-1",
            "model": "gpt-4o",
            "input_tokens": 1_000_000,
            "output_tokens": 0,
            "user_ref": "ana",
        },
    )
    api_client.post(URL, {"request_id": "spend-2", "model": "no-such-model", "input_tokens": 5})
    now = timezone.now()
    totals = spend_between(
        organization=organization,
        since=now - datetime.timedelta(hours=1),
        until=now + datetime.timedelta(hours=1),
    )
    row = Generation.objects.get(request_id="spend-1")
    assert totals.cost_usd >= row.cost_usd > 0
    assert totals.requests >= 2
    mine = spend_between(
        organization=organization,
        since=now - datetime.timedelta(hours=1),
        until=now + datetime.timedelta(hours=1),
        user_ref="ana",
    )
    assert mine.requests >= 1


def test_usage_of_an_unknown_model_and_provider_is_read_in_the_common_shape_and_stays_unpriced(
    api_client, priced_models
):
    response = api_client.post(
        URL,
        {
            "request_id": "unknown-everything",
            "model": "no-such-model",
            "status": "success",
            "usage": {"prompt_tokens": 3, "completion_tokens": 1},
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["cost_status"], body["cost_usd"]) == ("unpriced", None)
    assert (body["input_tokens"], body["output_tokens"], body["total_tokens"]) == (3, 1, 4)
