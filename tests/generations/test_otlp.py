"""``POST otel/v1/traces``: OTLP/HTTP exports (made by the real OpenTelemetry SDK and its own OTLP
encoder) become generations priced by the metering core; retries write nothing twice; a bad span
is rejected alone; bad bodies are 4xx with nothing written; tenants never see each other."""

from __future__ import annotations

import base64
import datetime
import gzip
import json
from decimal import Decimal

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from opentelemetry.trace import Status, StatusCode

from analytics.models import ProviderCall
from generations.integrations.client_values import fitted
from generations.models import Generation
from tests.generations.otel_support import (
    SpanRecorder,
    any_value,
    genai_cost,
    raw_export,
    raw_span,
    request_id_of,
    sync_prices,
)

pytestmark = pytest.mark.django_db
URL = "/api/v1/otel/v1/traces"
PROTOBUF = "application/x-protobuf"


@pytest.fixture
def priced(db):
    sync_prices()


def chat_span(recorder: SpanRecorder, name="chat gpt-4o", parent=None, **extra):
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.usage.input_tokens": 12000,
        "gen_ai.usage.output_tokens": 800,
        "gen_ai.usage.cache_read.input_tokens": 4096,
        "gen_ai.usage.reasoning.output_tokens": 64,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 1024,
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.conversation.id": "conv-42",
        "gen_ai.usage.cost": 0.0123,
        "user.id": "reader-7",
        **extra,
    }
    with recorder.tracer.start_as_current_span(name, context=parent) as span:
        span.set_attributes({key: value for key, value in attributes.items() if value is not None})
        return span


def post(client, body: bytes, content_type=PROTOBUF, **headers):
    return client.generic("POST", URL, body, content_type=content_type, **headers)


def answer(response) -> ExportTraceServiceResponse:
    message = ExportTraceServiceResponse()
    message.ParseFromString(response.content)
    return message


def test_a_chat_span_becomes_a_generation_priced_like_a_native_usage(api_client, organization, priced):
    recorder = SpanRecorder()
    with recorder.tracer.start_as_current_span("agent run") as root:
        span = chat_span(recorder)

    response = post(api_client, recorder.protobuf())

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == PROTOBUF
    result = answer(response)
    assert result.partial_success.rejected_spans == 0
    assert "1 of 2 spans are not LLM calls" in result.partial_success.error_message
    row = Generation.objects.get(organization=organization)
    context = span.get_span_context()
    assert row.request_id == f"otel:{context.trace_id:032x}:{context.span_id:016x}"
    assert (row.trace_id, row.span_id) == (f"{context.trace_id:032x}", f"{context.span_id:016x}")
    assert row.parent_span_id == f"{root.get_span_context().span_id:016x}"
    assert (row.provider_name, row.model_name, row.model.name) == ("openai", "gpt-4o-2024-08-06", "gpt-4o")
    assert (row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_write_tokens) == (
        12000,
        800,
        4096,
        0,
    )
    assert row.cost_usd == genai_cost(
        "openai", "gpt-4o", input_tokens=12000, output_tokens=800, cache_read_tokens=4096
    )
    assert row.client_cost_usd == Decimal("0.0123")
    assert (row.user_ref, row.conversation_id, row.agent_name) == ("reader-7", "conv-42", "writer-agent")
    assert row.parameters == {"temperature": 0.2, "max_tokens": 1024}
    assert row.metadata["usage_details"] == {"reasoning_output_tokens": 64}
    assert row.metadata["finish_reasons"] == ["stop"]
    assert row.status == "success"
    assert row.generation_time_ms is not None and row.completed_at is not None


def test_openai_v2_chat_span_carrying_cache_reads_prices_them_at_the_cache_read_rate(
    api_client, organization, priced
):
    """The chat span opentelemetry-instrumentation-openai-v2 would write for the recorded
    completion of test_otel_clients.py if it exported ``prompt_tokens_details.cached_tokens`` (its
    Responses extractor names it ``gen_ai.usage.cache_read.input_tokens``; 2.4b0's chat wrappers
    do not set it). Input includes the cache reads, as the conventions say: 2,048 prompt tokens
    of which 1,920 cached are 128 at the input rate and 1,920 at the cache-read rate."""
    recorder = SpanRecorder()
    with recorder.tracer.start_as_current_span("chat gpt-4o-mini") as span:
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                "gen_ai.usage.input_tokens": 2048,
                "gen_ai.usage.output_tokens": 12,
                "gen_ai.usage.cache_read.input_tokens": 1920,
            }
        )

    post(api_client, recorder.protobuf())

    row = Generation.objects.get(organization=organization)
    assert (row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_write_tokens) == (
        2048,
        12,
        1920,
        0,
    )
    cached = genai_cost("openai", "gpt-4o-mini", input_tokens=2048, output_tokens=12, cache_read_tokens=1920)
    assert row.cost_usd == cached
    assert cached < genai_cost("openai", "gpt-4o-mini", input_tokens=2048, output_tokens=12)


def test_otlp_json_with_hex_ids_and_gzip_is_read_too(api_client, organization, priced):
    recorder = SpanRecorder()
    span = chat_span(recorder)

    response = post(
        api_client, gzip.compress(recorder.otlp_json()), "application/json", HTTP_CONTENT_ENCODING="gzip"
    )

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json() == {}  # nothing rejected, nothing dropped
    row = Generation.objects.get(organization=organization)
    assert row.span_id == f"{span.get_span_context().span_id:016x}"
    assert row.cost_status == "priced"


def test_the_same_export_sent_twice_is_one_row(api_client, organization, priced):
    recorder = SpanRecorder()
    chat_span(recorder)
    body = recorder.protobuf()

    first, again = post(api_client, body), post(api_client, body)

    assert (first.status_code, again.status_code) == (200, 200)
    assert answer(again).partial_success.rejected_spans == 0
    assert Generation.all_objects.filter(organization=organization).count() == 1


def test_a_malformed_span_is_rejected_while_the_rest_of_the_batch_lands(api_client, organization, priced):
    recorder = SpanRecorder()
    for number in range(5):
        chat_span(recorder, name=f"call {number}")
    bad = chat_span(recorder, name="bad", **{"gen_ai.usage.input_tokens": "a lot"})
    chat_span(recorder, name="impossible", **{"gen_ai.usage.output_tokens": -5})
    with recorder.tracer.start_as_current_span("db query"):
        pass

    response = post(api_client, recorder.protobuf())

    assert response.status_code == 200
    result = answer(response)
    assert result.partial_success.rejected_spans == 2
    assert f"{bad.get_span_context().span_id:016x}" in result.partial_success.error_message
    assert "input tokens" in result.partial_success.error_message
    assert "output_tokens" in result.partial_success.error_message
    assert "1 of 8 spans are not LLM calls" in result.partial_success.error_message
    assert Generation.objects.filter(organization=organization).count() == 5


def test_another_tenant_sees_none_of_it(api_client, other_api_client, organization, priced):
    recorder = SpanRecorder()
    span = chat_span(recorder)
    post(api_client, recorder.protobuf())
    trace_id = f"{span.get_span_context().trace_id:032x}"

    mine = api_client.get("/api/v1/generations/", {"trace_id": trace_id}).json()["results"]
    theirs = other_api_client.get("/api/v1/generations/", {"trace_id": trace_id}).json()["results"]

    assert [row["trace_id"] for row in mine] == [trace_id]
    assert theirs == []
    assert other_api_client.get(f"/api/v1/generations/{mine[0]['id']}/").status_code == 404


def test_the_other_tenant_exporting_the_same_span_gets_its_own_row(
    api_client, other_api_client, organization, other_organization, priced
):
    recorder = SpanRecorder()
    chat_span(recorder)
    body = recorder.protobuf()

    post(api_client, body)
    post(other_api_client, body)

    assert Generation.objects.filter(organization=organization).count() == 1
    assert Generation.objects.filter(organization=other_organization).count() == 1


def test_one_agents_calls_are_listed_in_order_by_trace(api_client, priced):
    recorder = SpanRecorder()
    with recorder.tracer.start_as_current_span("agent") as root:
        names = [chat_span(recorder, name=f"step {n}").name for n in range(3)]
    post(api_client, recorder.protobuf())
    trace_id = f"{root.get_span_context().trace_id:032x}"

    rows = api_client.get("/api/v1/generations/", {"trace_id": trace_id}).json()["results"]

    assert sorted(row["metadata"]["span_name"] for row in rows) == names
    assert {row["parent_span_id"] for row in rows} == {f"{root.get_span_context().span_id:016x}"}
    assert len(api_client.get("/api/v1/generations/", {"conversation_id": "conv-42"}).json()["results"]) == 3


def test_openllmetry_and_openinference_names_and_content_are_read(api_client, organization, priced):
    recorder = SpanRecorder()
    chat_span(
        recorder,
        name="anthropic.chat",
        **{
            "gen_ai.operation.name": None,
            "gen_ai.provider.name": None,
            "gen_ai.system": "Anthropic",
            "gen_ai.request.model": "claude-sonnet-4-0",
            "gen_ai.response.model": None,
            "gen_ai.usage.input_tokens": None,
            "gen_ai.usage.output_tokens": None,
            "gen_ai.usage.cache_read.input_tokens": None,
            "gen_ai.usage.prompt_tokens": 3000,
            "gen_ai.usage.completion_tokens": 500,
            "gen_ai.usage.cache_read_input_tokens": 20000,
            "gen_ai.usage.cache_creation_input_tokens": 1500,
            "gen_ai.prompt.0.role": "user",
            "gen_ai.prompt.0.content": "Name a seaside hotel.",
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.content": "The Gull's Rest",
        },
    )
    chat_span(
        recorder,
        name="ChatCompletion",
        **{
            "gen_ai.operation.name": None,
            "gen_ai.provider.name": None,
            "gen_ai.request.model": None,
            "gen_ai.response.model": None,
            "gen_ai.usage.input_tokens": None,
            "gen_ai.usage.output_tokens": None,
            "gen_ai.usage.cache_read.input_tokens": None,
            "openinference.span.kind": "LLM",
            "llm.provider": "openai",
            "llm.model_name": "gpt-4o-mini",
            "llm.token_count.prompt": 900,
            "llm.token_count.completion": 100,
            "llm.token_count.prompt_details.cache_read": 512,
            "gen_ai.usage.cost": None,
            "llm.cost.total": 0.0002,
            "input.value": "Write a tagline.",
            "output.value": "Sleep by the sea.",
        },
    )

    assert answer(post(api_client, recorder.protobuf())).partial_success.rejected_spans == 0

    claude = Generation.objects.get(model_name="claude-sonnet-4-0")
    # Anthropic's own counts exclude the cache; the sum is what the conventions call input.
    assert (claude.input_tokens, claude.cache_read_tokens, claude.cache_write_tokens) == (24500, 20000, 1500)
    assert claude.cost_usd == genai_cost(
        "anthropic",
        "claude-sonnet-4-0",
        input_tokens=24500,
        output_tokens=500,
        cache_read_tokens=20000,
        cache_write_tokens=1500,
    )
    assert claude.provider_name == "anthropic"
    assert claude.prompt == "user: Name a seaside hotel."
    assert claude.content == "The Gull's Rest"
    mini = Generation.objects.get(model_name="gpt-4o-mini")
    assert (mini.input_tokens, mini.output_tokens, mini.cache_read_tokens) == (900, 100, 512)
    assert mini.client_cost_usd == Decimal("0.0002")
    assert (mini.prompt, mini.content) == ("Write a tagline.", "Sleep by the sea.")


def test_an_error_span_is_a_failed_generation_with_its_exception(api_client, organization, priced):
    recorder = SpanRecorder()
    with recorder.tracer.start_as_current_span("chat gpt-4o") as span:
        span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"})
        span.record_exception(TimeoutError("upstream timed out"))
        span.set_status(Status(StatusCode.ERROR))

    post(api_client, recorder.protobuf())

    row = Generation.objects.get(organization=organization)
    assert row.status == "failed"
    assert row.error_message == "upstream timed out"
    assert row.error_details["type"] == "TimeoutError"


@pytest.mark.parametrize(
    ("body", "content_type", "headers", "status", "code"),
    [
        pytest.param(b"\xff\x00garbage", PROTOBUF, {}, 400, "unreadable_export", id="garbage-protobuf"),
        pytest.param(
            b"not gzip at all",
            PROTOBUF,
            {"HTTP_CONTENT_ENCODING": "gzip"},
            400,
            "unreadable_export",
            id="bad-gzip",
        ),
        pytest.param(
            gzip.compress(b"x" * 100)[:20],
            PROTOBUF,
            {"HTTP_CONTENT_ENCODING": "gzip"},
            400,
            "unreadable_export",
            id="truncated-gzip",
        ),
        pytest.param(
            b"{}", PROTOBUF, {"HTTP_CONTENT_ENCODING": "br"}, 400, "unreadable_export", id="unknown-encoding"
        ),
        pytest.param(b"{not json", "application/json", {}, 400, "unreadable_export", id="bad-json"),
        pytest.param(b"[1, 2]", "application/json", {}, 400, "unreadable_export", id="json-not-object"),
        pytest.param(
            b'{"resourceSpans": "no"}',
            "application/json",
            {},
            400,
            "unreadable_export",
            id="json-wrong-shape",
        ),
        pytest.param(
            b'{"resourceSpans": ' + b"[" * 3000 + b"]" * 3000 + b"}",
            "application/json",
            {},
            400,
            "unreadable_export",
            id="json-nested-past-the-scanner",
        ),
        pytest.param(b"hello", "text/plain", {}, 415, "unsupported_media_type", id="wrong-content-type"),
    ],
)
def test_bad_bodies_are_refused_and_write_nothing(api_client, body, content_type, headers, status, code):
    response = post(api_client, body, content_type, **headers)

    assert response.status_code == status, response.content
    [error] = response.json()["errors"]
    assert error["code"] == code
    assert error["detail"]
    assert Generation.all_objects.count() == 0


def test_a_gzip_body_inflating_past_the_bulk_limit_is_413(api_client, settings):
    settings.API_BULK_MAX_BODY_BYTES = 10_000
    response = post(api_client, gzip.compress(b"\x00" * 50_000), HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 413
    assert response.json()["errors"][0]["code"] == "request_too_large"
    assert Generation.all_objects.count() == 0


def test_the_bulk_body_limit_applies_to_exports(api_client, settings):
    settings.API_MAX_BODY_BYTES = 100
    recorder = SpanRecorder()
    for number in range(10):
        chat_span(recorder, name=f"call {number}")
    assert post(api_client, recorder.protobuf()).status_code == 200
    settings.API_BULK_MAX_BODY_BYTES = 100
    assert post(api_client, recorder.protobuf()).status_code == 413


def test_bearer_and_basic_carry_the_key_too(organization, make_api_client, priced):
    key = make_api_client(organization).plain_key
    recorder = SpanRecorder()
    chat_span(recorder)
    basic = base64.b64encode(f"pk-anything:{key}".encode()).decode()

    bearer = post(make_api_client(organization), recorder.protobuf(), HTTP_AUTHORIZATION=f"Bearer {key}")
    langfuse = post(make_api_client(organization), recorder.protobuf(), HTTP_AUTHORIZATION=f"Basic {basic}")

    assert (bearer.status_code, langfuse.status_code) == (200, 200)
    assert Generation.objects.count() == 1


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer nope.nope", "Basic !!!", "Basic " + base64.b64encode(b"pk:wrong.key").decode()],
)
def test_no_or_a_wrong_key_is_401_and_writes_nothing(client, authorization):
    recorder = SpanRecorder()
    chat_span(recorder)
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = client.generic("POST", URL, recorder.protobuf(), content_type=PROTOBUF, **headers)
    assert response.status_code == 401
    assert Generation.all_objects.count() == 0


def test_a_viewer_key_cannot_export(viewer_api_client):
    recorder = SpanRecorder()
    chat_span(recorder)
    assert post(viewer_api_client, recorder.protobuf()).status_code == 403
    assert Generation.all_objects.count() == 0


def test_a_throttled_exporter_is_told_when_to_retry(api_client, settings):
    settings.API_THROTTLE_RATE = "1/min"
    recorder = SpanRecorder()
    chat_span(recorder)
    post(api_client, recorder.protobuf())
    response = post(api_client, recorder.protobuf())
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_langfuse_auth_check_lists_the_keys_organization(organization, make_api_client):
    key = make_api_client(organization).plain_key
    basic = base64.b64encode(f"pk-lf-1:{key}".encode()).decode()
    client = make_api_client(organization)
    client.credentials(HTTP_AUTHORIZATION=f"Basic {basic}")
    response = client.get("/api/public/projects")
    assert response.status_code == 200
    assert json.loads(response.content)["data"][0]["id"] == organization.slug


def test_an_unavailable_database_is_503_with_retry_after(api_client, monkeypatch):
    from django.db import OperationalError

    from generations.api import integrations

    def unavailable(**kwargs):
        raise OperationalError("could not connect to server")

    # The database going away mid-request cannot be staged inside the test's own transaction;
    # the recording service raising what psycopg raises then is the same to the view.
    monkeypatch.setattr(integrations, "generation_batch_record", unavailable)
    recorder = SpanRecorder()
    chat_span(recorder)

    response = post(api_client, recorder.protobuf())

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["errors"][0]["code"] == "unavailable"


def test_other_spans_are_counted_not_recorded_and_embeddings_are_provider_calls(api_client):
    recorder = SpanRecorder()
    with recorder.tracer.start_as_current_span("embeddings text-embedding-3-small") as span:
        span.set_attributes(
            {"gen_ai.operation.name": "embeddings", "gen_ai.request.model": "text-embedding-3-small"}
        )
    with recorder.tracer.start_as_current_span("GET /rooms"):
        pass

    result = answer(post(api_client, recorder.protobuf()))

    assert result.partial_success.rejected_spans == 0
    assert "1 of 2 spans are not LLM calls" in result.partial_success.error_message
    assert Generation.all_objects.count() == 0
    # Embeddings are provider calls (tests/generations/test_otlp_embeddings.py).
    assert ProviderCall.objects.get().model_name == "text-embedding-3-small"


# --- what exporters may send that no SDK of ours writes ----------------------------------------

HUGE = 2**62
NAN, INF = float("nan"), float("inf")
LONE_SURROGATE_OUTPUT = '[{"role": "assistant", "parts": [{"type": "text", "content": "\\ud800"}]}]'


@pytest.mark.parametrize(
    ("attributes", "fields", "reason"),
    [
        pytest.param({"gen_ai.usage.input_tokens": "²"}, {}, "not a whole number", id="unicode-digit-string"),
        pytest.param({"gen_ai.usage.input_tokens": 100.5}, {}, "not a whole number", id="fractional-double"),
        pytest.param({"gen_ai.usage.input_tokens": NAN}, {}, "not a whole number", id="nan-tokens"),
        pytest.param({"gen_ai.usage.output_tokens": INF}, {}, "not a whole number", id="infinite-tokens"),
        pytest.param({"gen_ai.usage.input_tokens": [1, 2]}, {}, "not a whole number", id="array-tokens"),
        pytest.param({"gen_ai.usage.input_tokens": -1}, {}, "input_tokens", id="negative-tokens"),
        pytest.param(
            {"gen_ai.usage.input_tokens": HUGE, "gen_ai.usage.output_tokens": HUGE},
            {},
            "cannot be true",
            id="token-sum-past-bigint",
        ),
        pytest.param({"gen_ai.usage.input_tokens": 2**61}, {}, "cannot be true", id="cost-past-the-column"),
        pytest.param(
            {"gen_ai.usage.reasoning.output_tokens": 1.5}, {}, "not a whole number", id="fractional-detail"
        ),
        pytest.param(
            {"gen_ai.usage.input_tokens": "9" * 5000}, {}, "5000 digits", id="tokens-past-int-parsing"
        ),
        pytest.param(
            {"gen_ai.usage.output_tokens": "1" * 21}, {}, "21 digits", id="tokens-longer-than-a-bigint"
        ),
        pytest.param({"gen_ai.usage.cost": "1" * 5000}, {}, "5000 characters", id="cost-string-too-long"),
        pytest.param({"gen_ai.usage.cost": NAN}, {}, "not an amount", id="nan-client-cost"),
        pytest.param({"gen_ai.usage.cost": INF}, {}, "not an amount", id="infinite-client-cost"),
        pytest.param({"llm.cost.total": "free"}, {}, "not an amount", id="text-client-cost"),
        pytest.param({"gen_ai.usage.cost": -0.5}, {}, "client_cost_usd", id="negative-client-cost"),
        # Rounded to the column, it was a zero cost.
        pytest.param({"llm.cost.total": "-0.00000000001"}, {}, "client_cost_usd", id="tiny-negative-cost"),
        # Python's Decimal reads " 1_0 " as 10.
        pytest.param({"llm.cost.total": " 1_0 "}, {}, "not an amount", id="cost-with-underscores"),
        # Bytes read as hex: 99 99 99 was 999,999 tokens.
        pytest.param(
            {"gen_ai.usage.input_tokens": b"\x99\x99\x99"}, {}, "not a whole number", id="tokens-as-bytes"
        ),
        pytest.param({"gen_ai.usage.cost": b"\x01"}, {}, "not an amount", id="cost-as-bytes"),
        pytest.param(
            {"langfuse.observation.usage_details": "{bad"}, {}, "usage_details", id="langfuse-usage-bad"
        ),
        pytest.param(
            {"langfuse.observation.usage_details": "[1]"}, {}, "usage_details", id="langfuse-usage-list"
        ),
        pytest.param(
            {"gen_ai.usage.input_tokens": None, "langfuse.observation.usage_details": '{"input": NaN}'},
            {},
            "not a whole number",
            id="langfuse-usage-nan",
        ),
        pytest.param(
            {"gen_ai.usage.input_tokens": None, "langfuse.observation.usage_details": '{"input": 12.7}'},
            {},
            "not a whole number",
            id="langfuse-usage-fraction",
        ),
        pytest.param(
            {
                "gen_ai.usage.input_tokens": None,
                "langfuse.observation.usage_details": '{"input": "' + "9" * 5000 + '"}',
            },
            {},
            "5000 digits",
            id="langfuse-usage-past-int-parsing",
        ),
        pytest.param(
            {"langfuse.observation.cost_details": "{bad"}, {}, "cost_details", id="langfuse-cost-bad"
        ),
        # Parts are summed into input/output: a negative one would lower them unseen.
        pytest.param(
            {
                "gen_ai.usage.input_tokens": None,
                "langfuse.observation.usage_details": '{"input": 90, "input_audio": -50}',
            },
            {},
            "negative token count",
            id="langfuse-negative-part",
        ),
        pytest.param(
            {
                "gen_ai.usage.output_tokens": None,
                "langfuse.observation.usage_details": '{"output_reasoning": "lots"}',
            },
            {},
            "not a whole number",
            id="langfuse-part-as-text",
        ),
        pytest.param({"user.id": {"name": "x"}}, {}, "not a string", id="kvlist-user"),
        pytest.param({"gen_ai.request.model": "gpt\x00"}, {}, "model", id="nul-in-model"),
        pytest.param({"gen_ai.request.stop": "a\x00"}, {}, "parameters", id="nul-in-parameter"),
        pytest.param(
            {"gen_ai.output.messages": LONE_SURROGATE_OUTPUT},
            {},
            "content",
            id="lone-surrogate-in-output",
        ),
        pytest.param(
            {},
            {"start_time_unix_nano": 2**64 - 2, "end_time_unix_nano": 2**64 - 1},
            "future",
            id="start-in-the-future",
        ),
        pytest.param({}, {"trace_id": b"\x01" * 8}, "trace id", id="short-trace-id"),
        pytest.param({}, {"trace_id": b"\x00" * 16}, "trace id", id="zero-trace-id"),
        pytest.param({}, {"span_id": b"\x00" * 8}, "span id", id="zero-span-id"),
        pytest.param({}, {"span_id": b"\x01" * 16}, "span id", id="long-span-id"),
        pytest.param({}, {"parent_span_id": b"\x01" * 3}, "parent span id", id="short-parent-id"),
    ],
)
def test_a_span_that_cannot_be_true_is_rejected_alone_and_writes_nothing(
    api_client, priced, attributes, fields, reason
):
    response = post(api_client, raw_export(raw_span(attributes, **fields)))

    assert response.status_code == 200, response.content
    result = answer(response)
    assert result.partial_success.rejected_spans == 1
    assert reason in result.partial_success.error_message
    assert Generation.all_objects.count() == 0


NO_GEN_AI_USAGE = {"gen_ai.usage.input_tokens": None, "gen_ai.usage.output_tokens": None}


@pytest.mark.parametrize(
    ("details", "tokens"),
    [
        pytest.param(
            {
                "input": 590,
                "output": 1000,
                "total": 6000,
                "input_cache_read": 400,
                "input_audio": 10,
                "output_reasoning": 4000,
            },
            (1000, 5000, 400, 0),
            id="langchain-parts",
        ),
        pytest.param(
            {"input": 100, "output": 20, "input_cached_tokens": 900, "output_reasoning_tokens": 30},
            (1000, 50, 900, 0),
            id="langfuse-server-parts",
        ),
        pytest.param(
            {
                "input": 100,
                "output": 20,
                "input_cache_creation": 300,
                "input_priority": 400,
                "output_priority": 20,
            },
            (400, 20, 0, 300),
            id="cache-write-part-priority-tier-not-a-part",
        ),
        pytest.param(
            {
                "input_tokens": 100,
                "output_tokens": 20,
                "cache_read_input_tokens": 800,
                "cache_creation_input_tokens": 100,
            },
            (1000, 20, 800, 100),
            id="anthropic-raw",
        ),
        pytest.param(
            {
                "prompt_tokens": 2048,
                "completion_tokens": 12,
                "total_tokens": 2060,
                "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 5},
            },
            (2048, 12, 1920, 0),
            id="openai-chat-nested",
        ),
        pytest.param(
            {
                "input_tokens": 3000,
                "output_tokens": 400,
                "input_tokens_details": {"cached_tokens": 2000},
                "output_tokens_details": {"reasoning_tokens": 300},
            },
            (3000, 400, 2000, 0),
            id="openai-responses-nested",
        ),
        # LangChain-Anthropic with a total and its split by lifetime (Langfuse subtracted them all
        # from input, down to 0): the writes once.
        pytest.param(
            {
                "input": 0,
                "output": 40,
                "input_cache_read": 3000,
                "input_cache_creation": 5000,
                "input_ephemeral_5m_input_tokens": 0,
                "input_ephemeral_1h_input_tokens": 5000,
            },
            (8000, 40, 3000, 5000),
            id="writes-with-their-split-by-lifetime",
        ),
        pytest.param(
            {
                "input": 10,
                "output": 40,
                "input_ephemeral_5m_input_tokens": 100,
                "input_ephemeral_1h_input_tokens": 200,
            },
            (310, 40, 0, 300),
            id="writes-only-by-lifetime",
        ),
        pytest.param(
            {"input": 1000, "output": 5, "input_cached_tokens": 400, "cache_read_input_tokens": 400},
            (1400, 5, 400, 0),
            id="two-names-of-the-reads",
        ),
        # LangChain-Vertex: the cached tokens by modality, taken out of input and its modalities.
        pytest.param(
            {"input": 0, "output": 50, "input_modality_TEXT": 200, "cached_modality_TEXT": 800},
            (1000, 50, 800, 0),
            id="vertex-cached-by-modality",
        ),
        pytest.param(
            {"input": 600, "output": 30, "input_cache_read": 400, "input_flex": 600, "output_flex": 30},
            (1000, 30, 400, 0),
            id="flex-tier-not-a-part",
        ),
        pytest.param(
            {"input": 10, "output": 5, "input_modality_breakdown": [{"modality": "text", "token_count": 10}]},
            (10, 5, 0, 0),
            id="a-breakdown-list-is-not-a-part",
        ),
    ],
)
def test_langfuse_usage_details_are_read_as_the_langfuse_server_reads_them(
    api_client, organization, priced, details, tokens
):
    """Langfuse's flat keys are disjoint parts (``input`` excludes ``input_cache_read``, ``output``
    excludes ``output_reasoning``): ours include them. OpenAI's nested object already counts its
    details. Priced from the columns, like a native POST of them."""
    span = raw_span({**NO_GEN_AI_USAGE, "langfuse.observation.usage_details": json.dumps(details)})

    result = answer(post(api_client, raw_export(span)))

    assert result.partial_success.rejected_spans == 0, result.partial_success.error_message
    row = Generation.objects.get(organization=organization)
    assert (row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_write_tokens) == tokens
    assert row.cost_usd == genai_cost(
        "openai",
        "gpt-4o",
        **dict(
            zip(
                ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"),
                tokens,
                strict=True,
            )
        ),
    )


@pytest.mark.parametrize(
    ("attributes", "kept"),
    [
        pytest.param({"gen_ai.response.time_to_first_chunk": NAN}, {}, id="nan-first-chunk"),
        pytest.param({"gen_ai.response.time_to_first_chunk": -3.0}, {}, id="negative-first-chunk"),
        pytest.param({"gen_ai.response.time_to_first_chunk": 1e306}, {}, id="first-chunk-past-overflow"),
        pytest.param({"gen_ai.response.time_to_first_chunk": 2**63 - 1}, {}, id="first-chunk-huge-int"),
        pytest.param({"gen_ai.response.time_to_first_chunk": "soon"}, {}, id="first-chunk-as-text"),
        pytest.param(
            {"langfuse.observation.completion_start_time": '"2026-13-45"'}, {}, id="langfuse-first-chunk-bad"
        ),
        pytest.param(
            {"gen_ai.response.time_to_first_chunk": 0.25},
            {"time_to_first_chunk_ms": 250},
            id="a-good-first-chunk-is-kept",
        ),
        pytest.param({f"gen_ai.prompt.{'9' * 5000}.role": "user"}, {}, id="message-index-past-int-parsing"),
        pytest.param({"gen_ai.prompt.².role": "user"}, {}, id="message-index-unicode-digit"),
        # Not a string: no operation is named (a list or a map is unhashable: was a 500).
        pytest.param({"gen_ai.operation.name": ["chat"]}, {}, id="operation-as-a-list"),
        pytest.param({"gen_ai.operation.name": {"name": "chat"}}, {}, id="operation-as-a-map"),
    ],
)
def test_metadata_that_cannot_be_true_is_left_out_and_the_call_lands(
    api_client, organization, priced, attributes, kept
):
    """A time to the first chunk describes the call: a bad one is dropped, and the answer does
    not report it as an error (nothing was rejected). A message index no int() reads (a unicode
    digit, past 4,300 digits) is no message, not a 500."""
    span = raw_span(attributes)

    result = answer(post(api_client, raw_export(span)))

    assert (result.partial_success.rejected_spans, result.partial_success.error_message) == (0, "")
    row = Generation.objects.get(organization=organization)
    assert (row.cost_status, row.generation_time_ms) == ("priced", 1000)
    first_chunk = {key: row.metadata[key] for key in ("time_to_first_chunk_ms",) if key in row.metadata}
    assert first_chunk == kept


def test_a_span_that_ends_before_it_starts_is_kept_without_a_duration(api_client, organization, priced):
    """A clock stepping back between start and end must not lose a billed call: the end and
    the duration are left out, the call priced at its start."""
    start = 1764460800 * 10**9
    span = raw_span(start_time_unix_nano=start, end_time_unix_nano=start - 10**9)

    result = answer(post(api_client, raw_export(span)))

    assert (result.partial_success.rejected_spans, result.partial_success.error_message) == (0, "")
    row = Generation.objects.get(organization=organization)
    assert row.generation_time_ms is None
    assert row.cost_status == "priced"
    assert row.completed_at >= row.occurred_at  # the recording time, not the span's impossible end
    assert row.occurred_at == datetime.datetime.fromtimestamp(1764460800, tz=datetime.UTC)


def test_ids_longer_than_their_columns_are_shortened_by_a_hash_never_merged(api_client, organization, priced):
    """Two users (conversations, models) sharing their first 200 characters stay two, each
    stored as a prefix, '…' and a hash of the whole id, the same on a replay; a model name
    that long matches no catalogue model and is unpriced, never $0."""
    first = raw_span(
        {
            "user.id": "u" * 200 + "1",
            "gen_ai.conversation.id": "c" * 200 + "1",
            "gen_ai.provider.name": "P" * 51,
        }
    )
    second = raw_span({"user.id": "u" * 200 + "2", "gen_ai.request.model": "m" * 500})
    body = raw_export(first, second)

    assert answer(post(api_client, body)).partial_success.rejected_spans == 0
    assert answer(post(api_client, body)).partial_success.rejected_spans == 0  # a replay

    rows = {row.request_id: row for row in Generation.objects.filter(organization=organization)}
    assert len(rows) == 2
    one, two = rows[request_id_of(first)], rows[request_id_of(second)]
    assert one.user_ref == fitted("u" * 200 + "1", 200) != two.user_ref == fitted("u" * 200 + "2", 200)
    assert (len(one.user_ref), one.user_ref[:183], one.user_ref[183]) == (200, "u" * 183, "…")
    assert one.conversation_id == fitted("c" * 200 + "1", 200)
    assert one.provider_name == fitted("p" * 51, 50)
    assert (two.model_name, two.cost_status, two.cost_usd) == (fitted("m" * 500, 200), "unpriced", None)


def test_an_embeddings_span_past_the_columns_is_rejected_too(api_client, priced):
    """The provider-call bulk service meters through the same core, which refuses a usage the
    columns cannot hold (a database error before)."""
    huge = raw_span({"gen_ai.operation.name": "embeddings", "gen_ai.usage.input_tokens": 2**61})

    result = answer(post(api_client, raw_export(huge)))

    assert result.partial_success.rejected_spans == 1
    assert "cannot be true" in result.partial_success.error_message
    assert ProviderCall.objects.count() == 0


def test_json_too_deep_to_decode_stays_text_and_the_call_lands(api_client, organization, priced):
    deep = raw_span({"gen_ai.input.messages": "[" * 100_000 + "]" * 100_000})
    past_the_limit = raw_span({"llm.invocation_parameters": '{"a":' * 200 + "1" + "}" * 200})

    result = answer(post(api_client, raw_export(deep, past_the_limit)))

    assert result.partial_success.rejected_spans == 0
    rows = Generation.objects.filter(organization=organization)
    assert rows.count() == 2
    assert all(row.cost_status == "priced" and row.parameters == {} for row in rows)


def test_a_long_error_message_is_cut_to_the_column_not_lost(api_client, organization, priced):
    from opentelemetry.proto.trace.v1.trace_pb2 import Status as StatusMessage

    failed = raw_span(status=StatusMessage(code=StatusMessage.STATUS_CODE_ERROR, message="x" * 20_000))

    assert answer(post(api_client, raw_export(failed))).partial_success.rejected_spans == 0

    row = Generation.objects.get(organization=organization)
    assert (row.status, len(row.error_message), row.cost_status) == ("failed", 10_000, "priced")


def test_a_client_cost_of_zero_is_kept_as_zero(api_client, organization, priced):
    post(api_client, raw_export(raw_span({"gen_ai.usage.cost": 0.0})))

    row = Generation.objects.get(organization=organization)
    assert row.client_cost_usd == Decimal(0)
    assert row.cost_usd > 0


def test_any_value_kinds_and_strings_for_numbers_are_read(api_client, organization, priced):
    span = raw_span(
        {
            "gen_ai.usage.input_tokens": "1000",  # OTLP/JSON's int64 as a string
            "gen_ai.usage.output_tokens": 100.0,  # a double with no fraction
            "user.id": 42,
            "gen_ai.response.finish_reasons": ["stop"],
            "gen_ai.request.stop_sequences": [],
            "gen_ai.request.seed": 2**63 - 1,
            "gen_ai.request.logit_bias": {"50256": -100},
            "gen_ai.response.id": b"\x01\x02",
        }
    )

    assert answer(post(api_client, raw_export(span))).partial_success.rejected_spans == 0

    row = Generation.objects.get(organization=organization)
    assert (row.input_tokens, row.output_tokens, row.user_ref) == (1000, 100, "42")
    assert row.cost_usd == genai_cost("openai", "gpt-4o", input_tokens=1000, output_tokens=100)
    assert row.parameters == {"stop_sequences": [], "seed": 2**63 - 1, "logit_bias": {"50256": -100}}
    assert (row.metadata["finish_reasons"], row.metadata["response_id"]) == (["stop"], "0102")


def test_unknown_provider_and_model_are_unpriced_not_an_error(api_client, organization, priced):
    span = raw_span({"gen_ai.provider.name": "acme-ai", "gen_ai.request.model": "acme-large-9"})

    assert answer(post(api_client, raw_export(span))).partial_success.rejected_spans == 0

    row = Generation.objects.get(organization=organization)
    assert (row.cost_status, row.cost_usd, row.input_tokens) == ("unpriced", None, 1000)


def test_a_model_named_only_by_llm_model_name_is_a_priced_generation(api_client, organization, priced):
    span = raw_span(
        {
            "gen_ai.operation.name": None,
            "gen_ai.provider.name": None,
            "gen_ai.request.model": None,
            "llm.model_name": "gpt-4o",
        }
    )

    post(api_client, raw_export(span, service_name=""))

    row = Generation.objects.get(organization=organization)
    assert (row.model.name, row.cost_status, row.agent_name) == ("gpt-4o", "priced", "")


def test_a_span_without_a_start_time_is_priced_at_its_end(api_client, organization, priced):
    no_start = raw_span(start_time_unix_nano=0)
    no_times = raw_span(start_time_unix_nano=0, end_time_unix_nano=0)

    assert answer(post(api_client, raw_export(no_start, no_times))).partial_success.rejected_spans == 0

    ended = Generation.objects.get(request_id=request_id_of(no_start))
    assert ended.occurred_at == ended.completed_at
    assert ended.occurred_at.timestamp() == pytest.approx(no_start.end_time_unix_nano / 1e9, abs=1e-3)
    assert ended.generation_time_ms is None and "started_at" not in ended.metadata
    assert Generation.objects.get(request_id=request_id_of(no_times)).cost_status == "priced"


def test_a_span_id_sent_as_a_generation_and_as_embeddings_in_one_export_is_rejected_once(
    api_client, organization, priced
):
    chat = raw_span()
    embeddings = raw_span(
        {"gen_ai.operation.name": "embeddings"}, trace_id=chat.trace_id, span_id=chat.span_id
    )
    repeated = raw_span()
    again = Span()
    again.CopyFrom(repeated)

    result = answer(post(api_client, raw_export(chat, embeddings, repeated, again)))

    assert result.partial_success.rejected_spans == 1
    assert "two kinds of call" in result.partial_success.error_message
    assert Generation.objects.filter(organization=organization).count() == 2
    assert ProviderCall.objects.count() == 0


def test_otlp_json_with_snake_case_keys_and_uppercase_hex_ids_is_read(api_client, organization, priced):
    span = {
        "trace_id": "0102030405060708090A0B0C0D0E0F10",
        "span_id": "0A0B0C0D0E0F0102",
        "name": "chat",
        "start_time_unix_nano": str(raw_span().start_time_unix_nano),
        "end_time_unix_nano": str(raw_span().end_time_unix_nano),
        "attributes": [
            {"key": "gen_ai.operation.name", "value": {"string_value": "chat"}},
            {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
            {"key": "gen_ai.usage.input_tokens", "value": {"int_value": "1000"}},
        ],
        "unknown_field": 1,
    }
    body = {"resource_spans": [{"resource": {}, "scope_spans": [{"spans": [span]}]}]}

    response = post(api_client, json.dumps(body).encode(), "application/json")

    assert response.json() == {}
    row = Generation.objects.get(organization=organization)
    assert (row.trace_id, row.span_id, row.input_tokens) == (
        "0102030405060708090a0b0c0d0e0f10",
        "0a0b0c0d0e0f0102",
        1000,
    )


@pytest.mark.parametrize(
    ("span_id", "reason"),
    [("zz0b0c0d0e0f0102", "span id"), ("123", "span id"), (None, "span id"), ("AQIDBAUGBwg=", "span id")],
)
def test_otlp_json_ids_that_are_not_hex_reject_the_span_alone(api_client, span_id, reason):
    good = {"traceId": "0102030405060708090a0b0c0d0e0f10", "spanId": "0102030405060708", "name": "chat"}
    attributes = [{"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}}]
    spans = [{**good, "attributes": attributes}, {**good, "spanId": span_id, "attributes": attributes}]
    body = {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}

    response = post(api_client, json.dumps(body).encode(), "application/json")

    assert response.json()["partialSuccess"]["rejectedSpans"] == "1"
    assert reason in response.json()["partialSuccess"]["errorMessage"]
    assert Generation.objects.count() == 1


def test_gzip_members_and_x_gzip_are_read(api_client, organization, priced):
    body = raw_export(raw_span(), raw_span())
    half = len(body) // 2

    two_members = post(
        api_client, gzip.compress(body[:half]) + gzip.compress(body[half:]), HTTP_CONTENT_ENCODING="gzip"
    )
    x_gzip = post(api_client, gzip.compress(raw_export(raw_span())), HTTP_CONTENT_ENCODING="x-gzip")

    assert (two_members.status_code, x_gzip.status_code) == (200, 200)
    assert Generation.objects.filter(organization=organization).count() == 3


@pytest.mark.parametrize(
    ("body", "encoding", "status"),
    [
        pytest.param(gzip.compress(b"") + b"garbage", "gzip", 400, id="bytes-after-the-last-member"),
        pytest.param(gzip.compress(b"") * 65, "gzip", 400, id="too-many-members"),
        pytest.param(b"x", "deflate", 400, id="deflate"),
    ],
)
def test_gzip_bodies_we_cannot_read_whole_are_refused(api_client, body, encoding, status):
    response = post(api_client, body, HTTP_CONTENT_ENCODING=encoding)
    assert response.status_code == status
    assert response.json()["errors"][0]["code"] == "unreadable_export"
    assert Generation.all_objects.count() == 0


def test_an_empty_protobuf_export_is_an_empty_success(api_client):
    response = post(api_client, b"")
    assert response.status_code == 200
    assert answer(response).partial_success.rejected_spans == 0
    assert Generation.all_objects.count() == 0


@pytest.mark.parametrize("path", [URL, "/api/public/otel/v1/traces", "/api/public/projects"])
def test_a_revoked_key_or_an_inactive_organization_is_401_on_every_path(
    path, organization, other_organization, make_api_client
):
    from rest_framework.test import APIClient

    from tenancy.services import api_key_revoke

    revoked = make_api_client(organization)
    api_key_revoke(api_key=revoked.api_key)
    inactive = make_api_client(other_organization)
    other_organization.is_active = False
    other_organization.save()
    for key in (revoked.plain_key, inactive.plain_key):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"pk-lf:{key}".encode()).decode())
        if path.endswith("projects"):
            response = client.get(path)
        else:
            response = client.generic("POST", path, raw_export(raw_span()), content_type=PROTOBUF)
        assert response.status_code == 401, response.content
    assert Generation.all_objects.count() == 0


METERED_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "total_tokens",
    "usage",
    "cost_usd",
    "cost_status",
    "price_id",
    "model_id",
    "occurred_at",
)


def test_every_integration_meters_exactly_as_a_native_post_of_the_same_usage(
    api_client, organization, priced
):
    """The same Anthropic call (24,500 input tokens of which 20,000 cache reads and 1,500 cache
    writes, 500 output) sent natively, as a GenAI-conventions span, as a Langfuse observation
    (disjoint usage keys) and as a LiteLLM payload: the metering core gives each the same tokens,
    units, price and cost; each client's own cost is kept beside ours, not instead of it."""
    model = {"gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude-sonnet-4-0"}
    conventions = raw_span(
        {
            **model,
            "gen_ai.usage.input_tokens": 24500,
            "gen_ai.usage.output_tokens": 500,
            "gen_ai.usage.cache_read.input_tokens": 20000,
            "gen_ai.usage.cache_creation.input_tokens": 1500,
            "gen_ai.usage.cost": 0.5,
        }
    )
    langfuse = raw_span(
        {
            "gen_ai.operation.name": None,
            "gen_ai.provider.name": "anthropic",
            "gen_ai.request.model": None,
            "gen_ai.usage.input_tokens": None,
            "gen_ai.usage.output_tokens": None,
            "langfuse.observation.type": "generation",
            "langfuse.observation.model.name": "claude-sonnet-4-0",
            "langfuse.observation.usage_details": json.dumps(
                {
                    "input": 3000,
                    "output": 500,
                    "cache_read_input_tokens": 20000,
                    "cache_creation_input_tokens": 1500,
                }
            ),
            "langfuse.observation.cost_details": json.dumps({"input": 0.25, "output": 0.5}),
        },
        start_time_unix_nano=conventions.start_time_unix_nano,
        end_time_unix_nano=conventions.end_time_unix_nano,
    )
    started = conventions.start_time_unix_nano / 1e9
    litellm_payload = {
        "id": "exactness-1",
        "model": "claude-sonnet-4-0",
        "custom_llm_provider": "anthropic",
        "startTime": started,
        "endTime": conventions.end_time_unix_nano / 1e9,
        "response_cost": 0.125,
        "metadata": {
            "usage_object": {
                "prompt_tokens": 24500,
                "completion_tokens": 500,
                "cache_read_input_tokens": 20000,
                "cache_creation_input_tokens": 1500,
            }
        },
    }
    native = api_client.post(
        "/api/v1/generations/",
        {
            "request_id": "native-1",
            "provider": "anthropic",
            "model": "claude-sonnet-4-0",
            "input_tokens": 24500,
            "output_tokens": 500,
            "cache_read_tokens": 20000,
            "cache_write_tokens": 1500,
            "occurred_at": datetime.datetime.fromtimestamp(started, tz=datetime.UTC).isoformat(),
            "status": "success",
        },
        format="json",
    )
    assert native.status_code == 201, native.content

    assert answer(post(api_client, raw_export(conventions, langfuse))).partial_success.rejected_spans == 0
    litellm_response = api_client.post("/api/v1/integrations/litellm/", [litellm_payload], format="json")
    assert litellm_response.json()["created"] == 1

    expected = Generation.objects.values(*METERED_COLUMNS).get(request_id="native-1")
    assert expected["cost_status"] == "priced"
    assert expected["cost_usd"] == genai_cost(
        "anthropic",
        "claude-sonnet-4-0",
        input_tokens=24500,
        output_tokens=500,
        cache_read_tokens=20000,
        cache_write_tokens=1500,
    )
    client_costs = {}
    for request_id in (request_id_of(conventions), request_id_of(langfuse), "litellm:exactness-1"):
        row = Generation.objects.get(organization=organization, request_id=request_id)
        assert Generation.objects.values(*METERED_COLUMNS).get(pk=row.pk) == expected, request_id
        client_costs[request_id] = row.client_cost_usd
    assert list(client_costs.values()) == [Decimal("0.5"), Decimal("0.75"), Decimal("0.125")]


@pytest.mark.parametrize(
    ("value", "messages"),
    [
        pytest.param(
            '[{"role": "user", "content": "hi"}]', [{"role": "user", "content": "hi"}], id="json-array"
        ),
        pytest.param("hello", ["hello"], id="text-is-one-message-not-its-letters"),
        pytest.param({"role": "user"}, [{"role": "user"}], id="a-map-is-one-message-not-its-keys"),
        pytest.param(5, None, id="a-number-is-no-message"),
        pytest.param(True, None, id="a-boolean-is-no-message"),
    ],
)
def test_the_operation_details_events_messages_are_read_whole(
    api_client, organization, priced, value, messages
):
    """Any value in the event lands the call (a number was a 500) and is never split."""
    span = raw_span()
    event = span.events.add(
        name="gen_ai.client.inference.operation.details", time_unix_nano=span.end_time_unix_nano
    )
    event.attributes.append(KeyValue(key="gen_ai.input.messages", value=any_value(value)))

    result = answer(post(api_client, raw_export(span)))

    assert result.partial_success.rejected_spans == 0, result.partial_success.error_message
    row = Generation.objects.get(organization=organization)
    assert (row.raw_request or {}).get("messages") == messages
