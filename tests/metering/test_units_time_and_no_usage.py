"""Issue 9's examples (units the five columns dropped, a back-dated o3 call), event time
(``occurred_at`` prices; the future and a completion before it are refused) and ``no_usage``."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from analytics.models import ProviderCall
from generations.models import Generation
from providers.models import AIModel
from providers.price_sync import price_sync, snapshot_catalogue

pytestmark = pytest.mark.django_db

GENERATIONS = "/api/v1/generations/"
CALLS = "/api/v1/usage/"
WANTED = {
    ("google", "gemini-2.0-flash"),
    ("google", "gemini-2.5-flash-image"),
    ("anthropic", "claude-sonnet-4-5"),
    ("openai", "o3"),
    ("openai", "gpt-4o"),
}


@pytest.fixture
def prices(db):
    price_sync(catalogue=[entry for entry in snapshot_catalogue() if (entry.provider, entry.name) in WANTED])


def post(client, url, **payload):
    return client.post(
        url, {"status": "success", **payload} if url == GENERATIONS else payload, format="json"
    )


def test_gemini_audio_prompt_tokens_are_priced_at_the_audio_rate(api_client, prices):
    # Issue 9: priced at the text rate this was $0.0000247; genai-prices says $0.0001147.
    body = {
        "usageMetadata": {
            "promptTokenCount": 167,
            "candidatesTokenCount": 20,
            "totalTokenCount": 187,
            "promptTokensDetails": [
                {"modality": "TEXT", "tokenCount": 17},
                {"modality": "AUDIO", "tokenCount": 150},
            ],
        }
    }
    row = post(
        api_client, GENERATIONS, request_id="audio", provider="google", model="gemini-2.0-flash", usage=body
    )

    assert row.status_code == 201, row.content
    assert Decimal(row.json()["cost_usd"]) == Decimal("0.0001147")
    assert row.json()["usage"]["input_audio_tokens"] == 150


def test_gemini_image_output_is_priced_about_4_cents_an_image(api_client, prices):
    body = {
        "candidates": [{"content": {"parts": [{"inlineData": {"mimeType": "image/png"}}]}}],
        "usageMetadata": {
            "promptTokenCount": 12,
            "candidatesTokenCount": 1290,
            "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1290}],
        },
    }
    row = post(
        api_client,
        GENERATIONS,
        request_id="image",
        provider="google",
        model="gemini-2.5-flash-image",
        usage=body,
    ).json()

    assert row["cost_status"] == "priced"
    # 1290 image tokens at $30 per million: $0.0387 an image, plus 12 input tokens.
    assert Decimal("0.0387") < Decimal(row["cost_usd"]) < Decimal("0.039")


def test_anthropic_web_searches_are_priced_ten_dollars_a_thousand(api_client, prices):
    usage = {"input_tokens": 1000, "output_tokens": 500}
    plain = post(
        api_client,
        CALLS,
        request_id="plain",
        endpoint="/v1/messages",
        provider="anthropic",
        model="claude-sonnet-4-5",
        status_code=200,
        usage=usage,
    ).json()
    searching = post(
        api_client,
        CALLS,
        request_id="searching",
        endpoint="/v1/messages",
        provider="anthropic",
        model="claude-sonnet-4-5",
        status_code=200,
        usage={**usage, "server_tool_use": {"web_search_requests": 10}},
    ).json()

    assert Decimal(searching["cost_usd"]) - Decimal(plain["cost_usd"]) == Decimal("0.10")
    assert searching["usage"]["web_searches"] == 10


@pytest.mark.parametrize("url", [GENERATIONS, CALLS])
def test_a_back_dated_call_is_priced_at_the_price_valid_then(api_client, prices, url):
    extra = {} if url == GENERATIONS else {"endpoint": "/v1/responses", "status_code": 200}
    usage = {"input_tokens": 1_000_000, "output_tokens": 0}
    then = post(
        api_client,
        url,
        request_id="may",
        provider="openai",
        model="o3",
        usage=usage,
        occurred_at="2025-05-15T10:00:00Z",
        **extra,
    ).json()
    now = post(
        api_client, url, request_id="today", provider="openai", model="o3", usage=usage, **extra
    ).json()

    assert Decimal(then["cost_usd"]) == Decimal("10")  # o3 cost $10 per million input tokens in May 2025
    assert Decimal(now["cost_usd"]) == Decimal("2")
    assert then["occurred_at"].startswith("2025-05-15T10:00:00")


@pytest.mark.parametrize("url", [GENERATIONS, CALLS])
def test_occurred_at_in_the_future_is_a_400_and_writes_nothing(api_client, prices, url):
    extra = {} if url == GENERATIONS else {"endpoint": "/v1/chat/completions", "status_code": 200}
    future = (timezone.now() + datetime.timedelta(hours=1)).isoformat()
    response = post(
        api_client,
        url,
        request_id="future",
        provider="openai",
        model="gpt-4o",
        input_tokens=10,
        output_tokens=1,
        occurred_at=future,
        **extra,
    )

    assert response.status_code == 400, response.content
    assert "occurred_at" in response.content.decode()
    assert not Generation.all_objects.exists() and not ProviderCall.objects.exists()


def test_completed_before_it_occurred_is_a_400_and_writes_nothing(api_client, prices):
    response = post(
        api_client,
        GENERATIONS,
        request_id="backwards",
        model="gpt-4o",
        input_tokens=10,
        occurred_at="2026-03-02T12:00:00Z",
        completed_at="2026-03-02T11:59:59Z",
    )

    assert response.status_code == 400, response.content
    assert "completed_at" in response.content.decode()
    assert not Generation.all_objects.exists()


def test_completing_before_it_occurred_is_refused_on_update_too(api_client, prices):
    created = post(
        api_client,
        GENERATIONS,
        request_id="later",
        model="gpt-4o",
        status="pending",
        occurred_at="2026-03-02T12:00:00Z",
    ).json()
    response = api_client.patch(
        f"{GENERATIONS}{created['id']}/",
        {"status": "success", "input_tokens": 5, "completed_at": "2026-03-01T00:00:00Z"},
        format="json",
    )

    assert response.status_code == 400, response.content
    assert Generation.objects.get(pk=created["id"]).status == "pending"


def test_a_successful_generation_without_usage_is_no_usage_not_zero_and_reports_count_it(api_client, prices):
    silent = post(
        api_client,
        GENERATIONS,
        request_id="silent",
        provider="openai",
        model="gpt-4o",
        content="Done.",
        raw_response={"choices": [{"message": {"content": "Done."}}]},
    ).json()
    priced = post(
        api_client,
        GENERATIONS,
        request_id="priced",
        provider="openai",
        model="gpt-4o",
        input_tokens=100,
        output_tokens=10,
    ).json()
    unknown = post(api_client, GENERATIONS, request_id="unknown", model="acme-llm", input_tokens=100).json()

    assert (silent["cost_status"], silent["cost_usd"]) == ("no_usage", None)
    assert priced["cost_status"] == "priced"
    assert (unknown["cost_status"], unknown["cost_usd"]) == ("unpriced", None)
    report = api_client.get("/api/v1/reports/cost/", {"group_by": "model"}).json()
    assert report["totals"]["requests"] == 3
    assert report["totals"]["no_usage_requests"] == 1
    assert report["totals"]["unpriced_requests"] == 1


def test_usage_only_inside_raw_response_is_read_from_it(api_client, prices):
    body = {"id": "chatcmpl-1", "model": "gpt-4o", "usage": {"prompt_tokens": 1000, "completion_tokens": 100}}
    row = post(
        api_client, GENERATIONS, request_id="raw", provider="openai", model="gpt-4o", raw_response=body
    ).json()

    assert row["cost_status"] == "priced"
    assert (row["input_tokens"], row["output_tokens"]) == (1000, 100)
    assert Decimal(row["cost_usd"]) == Decimal("0.0035")  # $2.5 + $10 per million


def test_a_provider_call_without_usage_is_no_usage(api_client, prices):
    row = post(
        api_client,
        CALLS,
        request_id="timeout",
        endpoint="/v1/chat/completions",
        provider="openai",
        model="gpt-4o",
        status_code=504,
    ).json()

    assert (row["cost_status"], row["cost_usd"]) == ("no_usage", None)


def test_the_canonical_model_id_is_priced_where_genai_prices_match_rule_refuses_it(api_client):
    """A known divergence: genai-prices' ``codestral`` entry matches only ``codestral-latest``
    and ``codestral-2501``, so ``calc_price(…, "codestral")`` fails; Inkwell resolves a model's
    own canonical id and prices it at that model's price."""
    price_sync(catalogue=[entry for entry in snapshot_catalogue(["mistral"]) if entry.name == "codestral"])
    model = AIModel.objects.get(provider__slug="mistral", name="codestral")
    usage = {"prompt_tokens": 1_000_000, "completion_tokens": 0}
    by_id = post(
        api_client, GENERATIONS, request_id="id", provider="mistral", model="codestral", usage=usage
    ).json()
    by_alias = post(
        api_client, GENERATIONS, request_id="alias", provider="mistral", model="codestral-latest", usage=usage
    ).json()

    assert by_id["resolved_model"] == by_alias["resolved_model"] == model.name
    assert by_id["cost_usd"] == by_alias["cost_usd"] is not None
