"""``POST otel/v1/traces``: OTLP/HTTP exports (made by the real OpenTelemetry SDK and its own OTLP
encoder) become generations priced by the metering core; retries write nothing twice; a bad span
is rejected alone; bad bodies are 4xx with nothing written; tenants never see each other."""

from __future__ import annotations

import base64
import gzip
import json
from decimal import Decimal

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.trace import Status, StatusCode

from analytics.models import ProviderCall
from generations.models import Generation
from tests.generations.otel_support import SpanRecorder, genai_cost, sync_prices

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
