"""``POST integrations/litellm/``: StandardLoggingPayloads (as LiteLLM's generic_api callback posts
them) mapped field by field; replays, bad payloads and bad bodies; tenants isolated."""

from __future__ import annotations

import copy
import gzip
import json
from decimal import Decimal

import pytest
from django.utils import timezone

from analytics.models import ProviderCall
from generations.integrations.client_values import fitted
from generations.models import Generation
from tests.generations.otel_support import PRICED_MODELS, genai_cost, sync_prices

pytestmark = pytest.mark.django_db
URL = "/api/v1/integrations/litellm/"

# Trimmed from a real StandardLoggingPayload (LiteLLM proxy, Anthropic, prompt cache in use).
PAYLOAD = {
    "id": "chatcmpl-7d1c4b1e-55d2-4f0e-9f57-1f2a3b4c5d6e",
    "trace_id": "0b8f7a6e-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
    "session_id": "stay-2026",
    "litellm_call_id": "e2c5a9d3-1111-4b6b-9c44-3a7e0f8b1d22",
    "call_type": "acompletion",
    "stream": False,
    "response_cost": 0.0123456,
    "status": "success",
    "custom_llm_provider": "anthropic",
    "total_tokens": 20660,
    "prompt_tokens": 20620,
    "completion_tokens": 40,
    "startTime": 1764460800.25,
    "endTime": 1764460801.75,
    "completionStartTime": 1764460801.75,
    "model": "claude-sonnet-4-0",
    "model_id": "model-group-a",
    "model_group": "claude",
    "api_base": "https://api.anthropic.com/v1/messages",
    "metadata": {
        "user_api_key_hash": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
        "user_api_key_alias": "writers-key",
        "user_api_key_team_id": "team-content",
        "user_api_key_team_alias": "Content",
        "user_api_key_end_user_id": "guest-9",
        "usage_object": {
            "prompt_tokens": 20620,
            "completion_tokens": 40,
            "total_tokens": 20660,
            "prompt_tokens_details": {"cached_tokens": 18000},
            "cache_creation_input_tokens": 2500,
            "cache_read_input_tokens": 18000,
        },
    },
    "cache_hit": False,
    "request_tags": ["blog"],
    "end_user": "guest-9",
    "messages": [{"role": "user", "content": "Describe the rooms."}],
    "response": {
        "id": "chatcmpl-7d1c4b1e",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": "Sea-view rooms."},
            }
        ],
    },
    "error_str": None,
    "model_parameters": {"temperature": 0.4, "max_tokens": 256},
    "hidden_params": {"model_id": "model-group-a", "litellm_model_name": None, "usage_object": None},
}


def payload(**changes):
    value = copy.deepcopy(PAYLOAD)
    value.update(changes)
    return value


@pytest.fixture
def priced(db):
    sync_prices()


def post(client, body, content_type="application/json", **headers):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.generic("POST", URL, data, content_type=content_type, **headers)


def test_a_payload_maps_usage_cache_costs_user_team_and_times(api_client, organization, priced):
    response = post(api_client, [PAYLOAD])

    assert response.status_code == 200, response.content
    assert response.json() == {"created": 1, "replayed": 0, "rejected": 0, "errors": []}
    row = Generation.objects.get(organization=organization)
    assert row.request_id == f"litellm:{PAYLOAD['id']}"
    assert (row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_write_tokens) == (
        20620,
        40,
        18000,
        2500,
    )
    assert row.cost_usd == genai_cost(
        "anthropic",
        "claude-sonnet-4-0",
        input_tokens=20620,
        output_tokens=40,
        cache_read_tokens=18000,
        cache_write_tokens=2500,
    )
    assert row.client_cost_usd == Decimal("0.0123456")
    assert (row.user_ref, row.conversation_id) == ("guest-9", "stay-2026")
    assert row.trace_id == "0b8f7a6e1c2d4e5f8a9b0c1d2e3f4a5b"
    assert row.generation_time_ms == 1500
    assert row.metadata["user_api_key_team_id"] == "team-content"
    assert row.metadata["user_api_key_alias"] == "writers-key"
    assert row.metadata["cache_hit"] is False
    assert (row.prompt, row.content) == ("user: Describe the rooms.", "Sea-view rooms.")
    assert row.parameters == {"temperature": 0.4, "max_tokens": 256}


# ``usage_object``s as LiteLLM 1.110.2's own converters write them (Anthropic's Messages usage and
# Gemini's usageMetadata made OpenAI-shaped), with every null key it keeps.
ANTHROPIC_USAGE = {
    "completion_tokens": 500,
    "prompt_tokens": 13000,
    "total_tokens": 13500,
    "completion_tokens_details": {"reasoning_tokens": 0, "text_tokens": 500, "audio_tokens": None},
    "prompt_tokens_details": {
        "audio_tokens": None,
        "cache_write_tokens": 2000,
        "cached_tokens": 10000,
        "text_tokens": 1000,
        "cache_creation_tokens": 2000,
        "cache_creation_token_details": {"ephemeral_5m_input_tokens": 500, "ephemeral_1h_input_tokens": 1500},
    },
    "server_tool_use": {"web_search_requests": 3, "tool_search_requests": None},
    "cache_creation_input_tokens": 2000,
    "cache_read_input_tokens": 10000,
    "service_tier": None,
}
GEMINI_USAGE = {
    "completion_tokens": 100,
    "prompt_tokens": 1000,
    "total_tokens": 1100,
    "completion_tokens_details": {"reasoning_tokens": None, "text_tokens": 100, "audio_tokens": None},
    "prompt_tokens_details": {"audio_tokens": 800, "cached_tokens": None, "text_tokens": 200},
    "cache_read_input_tokens": None,
    "cache_creation_input_tokens": None,
}


@pytest.mark.parametrize(
    ("provider", "model", "usage", "tokens", "cost"),
    [
        # $3 input, $3.75 a 5-minute write, $6 an hour's, $0.30 a read, $15 output per million;
        # $10 per thousand searches. Was $0.021: every write at the 5-minute rate, no searches.
        (
            "anthropic",
            "claude-sonnet-4-0",
            ANTHROPIC_USAGE,
            (13000, 500, 10000, 2000),
            "0.054375",
        ),
        # $0.30 text input, $1.00 audio input, $2.50 output per million. Was $0.00055: audio as text.
        ("gemini", "gemini-2.5-flash", GEMINI_USAGE, (1000, 100, 0, 0), "0.00111"),
    ],
)
def test_every_unit_litellm_reports_is_priced_as_the_provider_bills_it(
    api_client, organization, provider, model, usage, tokens, cost
):
    sync_prices(PRICED_MODELS | {"gemini-2.5-flash"})
    item = payload(id=f"units-{provider}", custom_llm_provider=provider, model=model)
    item["metadata"] = {**item["metadata"], "usage_object": usage}

    assert post(api_client, [item]).json()["created"] == 1

    row = Generation.objects.get(organization=organization)
    assert (row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_write_tokens) == tokens
    assert (row.cost_status, row.cost_usd) == ("priced", Decimal(cost))


def test_ndjson_and_a_single_object_are_read(api_client, organization, priced):
    lines = "\n".join(json.dumps(payload(id=f"call-{n}")) for n in range(3)).encode()
    assert post(api_client, lines, "application/x-ndjson").json()["created"] == 3
    assert post(api_client, payload(id="call-single")).json()["created"] == 1
    assert post(api_client, gzip.compress(lines), HTTP_CONTENT_ENCODING="gzip").json()["replayed"] == 3
    assert Generation.objects.filter(organization=organization).count() == 4


def test_a_resent_batch_writes_nothing_twice(api_client, organization, priced):
    post(api_client, [PAYLOAD])
    again = post(api_client, [PAYLOAD])
    assert again.json() == {"created": 0, "replayed": 1, "rejected": 0, "errors": []}
    assert Generation.all_objects.count() == 1


def test_a_cache_hit_costs_nothing_and_a_failure_is_recorded_failed(api_client, priced):
    hit = payload(id="hit", cache_hit=True, response_cost=0.0)
    failure = payload(
        id="failed",
        status="failure",
        error_str="litellm.RateLimitError: AnthropicException - overloaded",
        error_information={"error_code": "429", "error_class": "RateLimitError", "llm_provider": "anthropic"},
        response=None,
    )

    assert post(api_client, [hit, failure]).json()["created"] == 2

    cached = Generation.objects.get(request_id="litellm:hit")
    assert (cached.input_tokens, cached.output_tokens, cached.cost_usd) == (0, 0, Decimal(0))
    # The usage of the call the cache answered for, as Anthropic reports it (input without the cache).
    assert cached.metadata["cached_usage"] == {
        "input_tokens": 120,
        "output_tokens": 40,
        "cache_read_input_tokens": 18000,
        "cache_creation_input_tokens": 2500,
    }
    failed = Generation.objects.get(request_id="litellm:failed")
    assert failed.status == "failed"
    assert failed.error_message.startswith("litellm.RateLimitError")
    assert failed.error_details == {
        "error_code": "429",
        "error_class": "RateLimitError",
        "llm_provider": "anthropic",
    }


def test_bad_payloads_are_rejected_alone(api_client, organization, priced):
    batch = [
        payload(id="good-1"),
        "not an object",
        payload(id=None, litellm_call_id=None),
        payload(id="negative", response_cost=-1),
        payload(id="bad-tokens", metadata={"usage_object": {"prompt_tokens": "many"}}),
        # Rounded to the column, a zero cost; Python's Decimal reads " 1_0 " as 10.
        payload(id="tiny-negative", response_cost="-0.00000000001"),
        payload(id="underscores", response_cost=" 1_0 "),
        # A call type that is not a string names none (unhashable: was a 500 for the whole batch).
        payload(id="listed-call-type", call_type=["embedding"]),
        payload(id="good-2"),
    ]

    body = post(api_client, batch).json()

    assert (body["created"], body["rejected"]) == (3, 6)
    details = " ".join(error["detail"] for error in body["errors"])
    assert "JSON object" in details and "no id" in details and "client_cost_usd" in details
    assert "' 1_0 ' is not an amount" in details
    assert set(Generation.objects.values_list("request_id", flat=True)) == {
        "litellm:good-1",
        "litellm:listed-call-type",
        "litellm:good-2",
    }


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"", "application/json", 400),
        (b"{not json\nnor ndjson", "application/json", 400),
        (b"\xff\xfe", "application/json", 400),
        (b"<xml/>", "application/xml", 415),
        # The API's JSON limits hold here too (the callback's body bypasses DRF's parser).
        (b"[" * 2000 + b"]" * 2000, "application/json", 400),
        (b'[{"messages": [' * 70 + b"1" + b"]}]" * 70, "application/json", 400),
        (b'[{"id": "a", "response": "\\ud800"}]', "application/json", 400),
        (b'{"id": "a"}\n{"id": "b\\u0000"}', "application/json", 400),
    ],
)
def test_bad_bodies_are_refused_and_write_nothing(api_client, body, content_type, status):
    response = post(api_client, body, content_type)
    assert response.status_code == status
    assert response.json()["errors"][0]["detail"]
    assert Generation.all_objects.count() == 0


def test_another_tenant_sees_none_of_it(api_client, other_api_client, priced):
    post(api_client, [PAYLOAD])
    assert other_api_client.get("/api/v1/generations/").json()["results"] == []
    assert (
        len(api_client.get("/api/v1/generations/", {"conversation_id": "stay-2026"}).json()["results"]) == 1
    )
    assert (
        other_api_client.get("/api/v1/generations/", {"conversation_id": "stay-2026"}).json()["results"] == []
    )


NAN_START = b'[{"id": "nan-start", "model": "claude-sonnet-4-0", "startTime": NaN}]'
NAN_FIRST_CHUNK = (
    b'[{"id": "nan-chunk", "model": "claude-sonnet-4-0", "startTime": 1764460800, '
    b'"completionStartTime": NaN, "stream": true}]'
)


# What ``litellm.generic_api_use_v1 = True`` posts (``GenericAPILogger._get_v1_logging_payload``,
# LiteLLM 1.110.2): str() of every value, the usage a Python repr, the times naive datetimes.
LEGACY_V1 = {
    "id": "chatcmpl-legacy",
    "call_type": "acompletion",
    "cache_hit": "None",
    "startTime": "2026-11-30 09:00:00.250000",
    "endTime": "2026-11-30 09:00:01.750000",
    "model": "claude-sonnet-4-0",
    "user": "",
    "modelParameters": "{'temperature': 0.4}",
    "messages": "[{'role': 'user', 'content': 'Describe the rooms.'}]",
    "response": "ModelResponse(id='chatcmpl-legacy', choices=[...])",
    "usage": "Usage(completion_tokens=40, prompt_tokens=20620, total_tokens=20660)",
    "metadata": "{}",
    "cost": "0.0123456",
}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(NAN_START, "startTime", id="nan-start"),
        pytest.param([payload(id="inf-start", startTime=1e20)], "startTime", id="start-past-the-calendar"),
        pytest.param([payload(id="text-start", startTime="yesterday")], "startTime", id="text-start"),
        pytest.param(
            [payload(id="fraction", metadata={"usage_object": {"prompt_tokens": 10.5}})],
            "whole number",
            id="fractional-tokens",
        ),
        pytest.param(
            b'[{"id": "nan-tokens", "model": "claude-sonnet-4-0", "prompt_tokens": NaN}]',
            "whole number",
            id="nan-tokens",
        ),
        pytest.param(
            [payload(id="huge", metadata={"usage_object": {"prompt_tokens": 2**61, "completion_tokens": 1}})],
            "cannot be true",
            id="cost-past-the-column",
        ),
        pytest.param(
            b'[{"id": "nan-cost", "model": "claude-sonnet-4-0", "response_cost": NaN}]',
            "not an amount",
            id="nan-cost",
        ),
        pytest.param([payload(id="free", response_cost="free")], "not an amount", id="text-cost"),
        pytest.param(
            [payload(id="long-cost", response_cost="1" * 5000)], "5000 characters", id="cost-string-too-long"
        ),
        pytest.param(
            [payload(id="long-count", metadata={"usage_object": {"prompt_tokens": "9" * 5000}})],
            "5000 digits",
            id="tokens-past-int-parsing",
        ),
        pytest.param([payload(id="dict-user", end_user={"id": 1})], "not a string", id="user-not-a-string"),
        pytest.param([LEGACY_V1], "generic_api_use_v1", id="legacy-v1-payload"),
        pytest.param([payload(id="odd-status", status="partial")], "status", id="unknown-status"),
        pytest.param([payload(id="text-hit", cache_hit="false")], "cache_hit", id="cache-hit-as-text"),
    ],
)
def test_a_payload_that_cannot_be_true_is_rejected_alone_and_writes_nothing(api_client, priced, body, reason):
    response = post(api_client, body)

    assert response.status_code == 200, response.content
    answer = response.json()
    assert (answer["created"], answer["rejected"]) == (0, 1)
    assert reason in answer["errors"][0]["detail"]
    assert Generation.all_objects.count() == 0


def test_two_long_ids_sharing_a_prefix_are_never_one_call(api_client, organization, priced):
    """Cutting ids to the column would make the second a replay of the first (a lost call);
    rejecting them would lose both. Each is kept under a prefix, '…' and a hash of the whole id,
    the same on a replay."""
    batch = [
        payload(id="x" * 200 + "a", end_user="u" * 200 + "a", session_id="s" * 300, model="m" * 201),
        payload(id="x" * 200 + "b", end_user="u" * 200 + "b"),
    ]

    assert post(api_client, batch).json() == {"created": 2, "replayed": 0, "rejected": 0, "errors": []}
    assert post(api_client, batch).json() == {"created": 0, "replayed": 2, "rejected": 0, "errors": []}

    rows = {row.request_id: row for row in Generation.objects.filter(organization=organization)}
    a, b = rows[fitted("litellm:" + "x" * 200 + "a", 200)], rows[fitted("litellm:" + "x" * 200 + "b", 200)]
    assert (a.user_ref, b.user_ref) == (fitted("u" * 200 + "a", 200), fitted("u" * 200 + "b", 200))
    assert a.user_ref != b.user_ref and len(a.user_ref) == 200
    assert a.conversation_id == fitted("s" * 300, 200)
    # A model name past the column matches no catalogue model: unpriced, never $0.
    assert (a.model_name, a.cost_status, b.cost_status) == (fitted("m" * 201, 200), "unpriced", "priced")


@pytest.mark.parametrize(
    ("changes", "duration_ms", "first_chunk_ms"),
    [
        pytest.param({}, 1500, None, id="not-streamed-no-first-chunk"),
        pytest.param({"stream": True}, 1500, 1500, id="streamed-first-chunk-kept"),
        pytest.param({"startTime": 1764460801, "endTime": 1764460800}, None, None, id="end-before-start"),
        pytest.param({"endTime": 1e11}, None, None, id="duration-past-the-column"),
        pytest.param(
            {"stream": True, "completionStartTime": 1764460700}, 1500, None, id="first-chunk-before-start"
        ),
        pytest.param(
            {"stream": True, "completionStartTime": 1e306}, 1500, None, id="first-chunk-past-calendar"
        ),
        pytest.param({"stream": True, "completionStartTime": "soon"}, 1500, None, id="first-chunk-as-text"),
    ],
)
def test_times_that_only_describe_the_call_are_left_out_and_the_call_lands(
    api_client, organization, priced, changes, duration_ms, first_chunk_ms
):
    """A clock stepping back, or a first-chunk time that gives no duration, is metadata: it is
    left out, the call is kept and priced, and the answer reports no error."""
    assert post(api_client, [payload(**changes)]).json() == {
        "created": 1,
        "replayed": 0,
        "rejected": 0,
        "errors": [],
    }
    row = Generation.objects.get(organization=organization)
    assert (row.generation_time_ms, row.metadata.get("time_to_first_chunk_ms")) == (
        duration_ms,
        first_chunk_ms,
    )
    assert row.cost_status == "priced"


def test_an_end_time_outside_the_api_dates_is_left_out_and_the_call_lands(api_client, organization, priced):
    """An end in year 5138 (1e11 seconds) is outside the dates the API accepts: the call keeps its
    start and price, without that end or a duration (as with an end before the start); it is
    completed when recorded, as any finished call that reports no end."""
    before = timezone.now()
    assert post(api_client, [payload(endTime=1e11)]).json()["created"] == 1

    row = Generation.objects.get(organization=organization)
    assert (row.generation_time_ms, row.cost_status) == (None, "priced")
    assert before <= row.completed_at <= timezone.now()


def test_nan_first_chunk_is_left_out(api_client, organization, priced):
    assert post(api_client, NAN_FIRST_CHUNK).json()["created"] == 1
    assert "time_to_first_chunk_ms" not in Generation.objects.get(organization=organization).metadata


def test_the_client_cost_is_rounded_as_the_cost_columns_round(api_client, organization, priced):
    """Half away from zero, as the metering core rounds ours (half-even would store 2e-10)."""
    post(api_client, [payload(response_cost="0.00000000025")])

    assert Generation.objects.get(organization=organization).client_cost_usd == Decimal("3E-10")


def test_odd_shapes_of_optional_fields_do_not_cost_the_call(api_client, organization, priced):
    batch = [
        payload(id="info-text", status="failure", error_str=None, error_information="boom", response=None),
        payload(id="choices-text", response={"choices": ["plain", None, {"message": "hi"}]}),
        payload(id="no-usage", metadata={}, prompt_tokens=None, completion_tokens=None),
        payload(id="unknown-model", model="acme-large-9", custom_llm_provider="acme"),
        payload(id="long-error", status="failure", error_str="e" * 20_000, response=None),
    ]

    body = post(api_client, batch).json()

    assert (body["created"], body["rejected"]) == (5, 0), body
    rows = {row.request_id.removeprefix("litellm:"): row for row in Generation.objects.all()}
    assert rows["info-text"].error_message == "LiteLLM reported a failure."
    assert rows["choices-text"].content == "plain\n\nhi"
    assert (rows["no-usage"].cost_status, rows["unknown-model"].cost_status) == ("no_usage", "unpriced")
    assert len(rows["long-error"].error_message) == 10_000


def test_ndjson_with_blank_lines_and_crlf_is_read(api_client, organization, priced):
    lines = [json.dumps(payload(id=f"line-{n}")) for n in range(3)]
    body = ("\r\n\r\n" + "\r\n   \r\n".join(lines) + "\n\n").encode()

    assert post(api_client, body, "application/x-ndjson").json()["created"] == 3


def test_a_batch_past_the_bulk_limit_lands_in_chunks(api_client, organization, priced):
    body = post(api_client, [payload(id=f"many-{n}") for n in range(2500)]).json()
    assert (body["created"], body["rejected"]) == (2500, 0)
    assert Generation.objects.filter(organization=organization).count() == 2500


def test_nan_or_infinity_in_what_describes_a_call_is_kept_as_text_and_the_call_recorded(
    api_client, organization, priced
):
    """LiteLLM writes with Python's json, which writes NaN and Infinity; jsonb refuses them (the
    whole batch was a 500). What only describes the call keeps them as text."""
    body = json.dumps([payload(id="nan-parameters")])
    for sent, written in [
        ('"temperature": 0.4', '"temperature": NaN'),
        ('"request_tags": ["blog"]', '"request_tags": ["blog", -Infinity]'),
        ('"content": "Sea-view rooms."', '"content": 1e999'),
    ]:
        assert sent in body
        body = body.replace(sent, written)

    response = post(api_client, body.encode())

    assert response.status_code == 200, response.content
    assert response.json() == {"created": 1, "replayed": 0, "rejected": 0, "errors": []}
    row = Generation.objects.get(organization=organization)
    assert row.parameters["temperature"] == "NaN"
    assert row.metadata["request_tags"] == ["blog", "-Infinity"]
    assert row.raw_response["choices"][0]["message"]["content"] == "Infinity"
    assert row.cost_usd > 0


def test_one_id_sent_as_a_chat_and_as_an_embedding_is_billed_once(api_client, organization, priced):
    """Recorded apart (a generation, a provider call), the two would both count in spend."""
    chat = payload(id="dup")
    embedding = payload(id="dup", call_type="embedding", model="text-embedding-3-small")

    body = post(api_client, [chat, embedding]).json()

    assert (body["created"], body["rejected"]) == (1, 1)
    assert "two kinds of call" in body["errors"][0]["detail"]
    assert Generation.objects.filter(organization=organization, request_id="litellm:dup").exists()
    assert not ProviderCall.objects.filter(organization=organization).exists()
