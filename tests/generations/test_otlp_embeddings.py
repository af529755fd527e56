"""Embedding calls sent by instrumented apps become provider calls (``usage/``), not generations:
OTLP spans (GenAI conventions, OpenInference, JSON and protobuf) and LiteLLM's callback payloads
are recorded through the recorder analytics registers (``generations.integrations.provider_calls``),
priced by the metering core like a native usage, idempotent by span, scoped to the tenant; a bad
embedding span is rejected alone."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.trace import Status, StatusCode

from analytics.integrations import provider_call_batch_record
from analytics.models import ProviderCall, ProviderCallDailyRollup
from generations.integrations import provider_calls
from generations.models import Generation
from tests.generations.otel_support import PRICED_MODELS, SpanRecorder, genai_cost, sync_prices
from tests.generations.test_litellm_callback import PAYLOAD as CHAT_PAYLOAD

pytestmark = pytest.mark.django_db
URL = "/api/v1/otel/v1/traces"
PROTOBUF = "application/x-protobuf"
EMBEDDING_MODEL = "text-embedding-3-small"


@pytest.fixture
def priced(db):
    sync_prices(PRICED_MODELS | {EMBEDDING_MODEL})


def embedding_span(recorder: SpanRecorder, name=f"embeddings {EMBEDDING_MODEL}", status=None, **extra):
    """An embeddings span as opentelemetry-instrumentation-openai-v2 writes it."""
    attributes = {
        "gen_ai.operation.name": "embeddings",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": EMBEDDING_MODEL,
        "gen_ai.response.model": EMBEDDING_MODEL,
        "gen_ai.usage.input_tokens": 1536,
        "gen_ai.embeddings.dimension.count": 1536,
        "gen_ai.usage.cost": 0.0000307,
        "user.id": "reader-7",
        **extra,
    }
    with recorder.tracer.start_as_current_span(name) as span:
        span.set_attributes({key: value for key, value in attributes.items() if value is not None})
        if status is not None:
            span.set_status(status)
        return span


def chat_span(recorder: SpanRecorder):
    with recorder.tracer.start_as_current_span("chat gpt-4o") as span:
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 100,
                "gen_ai.usage.output_tokens": 10,
            }
        )
        return span


def request_id(span) -> str:
    context = span.get_span_context()
    return f"otel:{context.trace_id:032x}:{context.span_id:016x}"


def post(client, body: bytes, content_type=PROTOBUF):
    return client.generic("POST", URL, body, content_type=content_type)


def answer(response) -> ExportTraceServiceResponse:
    message = ExportTraceServiceResponse()
    message.ParseFromString(response.content)
    return message


def test_an_embeddings_span_becomes_one_provider_call_priced_like_a_native_usage(
    api_client, organization, priced
):
    recorder = SpanRecorder()
    span = embedding_span(recorder)
    chat_span(recorder)

    response = post(api_client, recorder.protobuf())

    assert response.status_code == 200, response.content
    result = answer(response)
    assert (result.partial_success.rejected_spans, result.partial_success.error_message) == (0, "")
    call = ProviderCall.objects.get(organization=organization)
    assert call.request_id == request_id(span)
    assert (call.endpoint, call.method, call.provider_name, call.model_name) == (
        "embeddings",
        "POST",
        "openai",
        EMBEDDING_MODEL,
    )
    assert (call.provider.slug, call.model.name) == ("openai", EMBEDDING_MODEL)
    assert (call.input_tokens, call.output_tokens, call.cache_read_tokens) == (1536, 0, 0)
    assert call.cost_status == "priced"
    assert call.cost_usd == genai_cost("openai", EMBEDDING_MODEL, input_tokens=1536)
    assert call.cost_usd > 0
    assert call.client_cost_usd == Decimal("0.0000307")
    assert (call.success, call.error_type, call.user_ref) == (True, "", "reader-7")
    assert call.occurred_at.timestamp() == pytest.approx(span.start_time / 1e9, abs=1e-3)
    assert call.total_request_time_ms is not None
    context = span.get_span_context()
    assert (call.trace_id, call.span_id) == (f"{context.trace_id:032x}", f"{context.span_id:016x}")
    # Counted where reports read, in the write's transaction, as any provider call.
    assert ProviderCallDailyRollup.objects.get(organization=organization).requests == 1
    # The chat span beside it is still a generation; the embedding is not one.
    assert Generation.objects.filter(organization=organization).count() == 1


def test_otlp_json_embeddings_are_provider_calls_too(api_client, organization, priced):
    recorder = SpanRecorder()
    span = embedding_span(recorder)

    response = post(api_client, recorder.otlp_json(), "application/json")

    assert response.status_code == 200, response.content
    assert response.json() == {}
    call = ProviderCall.objects.get(organization=organization)
    assert call.request_id == request_id(span)
    assert call.cost_usd == genai_cost("openai", EMBEDDING_MODEL, input_tokens=1536)
    assert Generation.all_objects.count() == 0


def test_an_exporters_retry_of_an_embeddings_span_writes_nothing_twice(api_client, organization, priced):
    recorder = SpanRecorder()
    embedding_span(recorder)
    body = recorder.protobuf()

    first, again = post(api_client, body), post(api_client, body)
    json_again = post(api_client, recorder.otlp_json(), "application/json")

    assert (first.status_code, again.status_code, json_again.status_code) == (200, 200, 200)
    assert answer(again).partial_success.rejected_spans == 0
    assert json_again.json() == {}
    assert ProviderCall.objects.filter(organization=organization).count() == 1
    assert ProviderCallDailyRollup.objects.get(organization=organization).requests == 1


def test_another_tenant_sees_none_of_the_provider_calls(
    api_client, other_api_client, organization, other_organization, priced
):
    recorder = SpanRecorder()
    span = embedding_span(recorder)
    post(api_client, recorder.protobuf())

    mine = api_client.get("/api/v1/usage/", {"request_id": request_id(span)}).json()["results"]
    theirs = other_api_client.get("/api/v1/usage/", {"request_id": request_id(span)}).json()["results"]

    assert [row["request_id"] for row in mine] == [request_id(span)]
    assert theirs == []
    assert other_api_client.get(f"/api/v1/usage/{mine[0]['id']}/").status_code == 404
    # The same export from the other tenant is its own row, not a replay of ours.
    post(other_api_client, recorder.protobuf())
    assert ProviderCall.objects.filter(organization=organization).count() == 1
    assert ProviderCall.objects.filter(organization=other_organization).count() == 1


def test_a_malformed_embeddings_span_is_rejected_while_the_rest_lands(api_client, organization, priced):
    recorder = SpanRecorder()
    good = embedding_span(recorder, name="good")
    unreadable = embedding_span(recorder, name="unreadable", **{"gen_ai.usage.input_tokens": "a lot"})
    impossible = embedding_span(recorder, name="impossible", **{"gen_ai.usage.input_tokens": -3})
    chat_span(recorder)

    response = post(api_client, recorder.protobuf())

    assert response.status_code == 200
    result = answer(response)
    assert result.partial_success.rejected_spans == 2
    message = result.partial_success.error_message
    assert f"{unreadable.get_span_context().span_id:016x}: input tokens" in message
    assert f"{request_id(impossible)}: input_tokens" in message
    assert list(ProviderCall.objects.values_list("request_id", flat=True)) == [request_id(good)]
    assert Generation.objects.filter(organization=organization).count() == 1


def test_a_failed_embeddings_span_is_a_failed_provider_call(api_client, organization, priced):
    recorder = SpanRecorder()
    embedding_span(
        recorder,
        status=Status(StatusCode.ERROR, "Rate limit reached"),
        **{"gen_ai.usage.input_tokens": None, "gen_ai.response.model": None, "gen_ai.usage.cost": None},
    )

    post(api_client, recorder.protobuf())

    call = ProviderCall.objects.get(organization=organization)
    assert (call.success, call.error_type, call.error_message) == (False, "other", "Rate limit reached")
    assert (call.model_name, call.cost_status) == (EMBEDDING_MODEL, "no_usage")


def test_openinference_and_langfuse_embedding_spans_are_provider_calls(api_client, organization, priced):
    recorder = SpanRecorder()
    openinference = embedding_span(
        recorder,
        name="CreateEmbeddings",
        **{
            "gen_ai.operation.name": None,
            "gen_ai.provider.name": None,
            "gen_ai.request.model": None,
            "gen_ai.response.model": None,
            "gen_ai.usage.input_tokens": None,
            "openinference.span.kind": "EMBEDDING",
            "llm.provider": "openai",
            "embedding.model_name": EMBEDDING_MODEL,
            "llm.token_count.prompt": 900,
        },
    )
    langfuse = embedding_span(
        recorder,
        name="embed",
        **{
            "gen_ai.operation.name": None,
            "langfuse.observation.type": "embedding",
            "gen_ai.usage.input_tokens": 300,
        },
    )

    post(api_client, recorder.protobuf())

    calls = {call.request_id: call for call in ProviderCall.objects.filter(organization=organization)}
    assert calls[request_id(openinference)].model.name == EMBEDDING_MODEL
    assert calls[request_id(openinference)].cost_usd == genai_cost(
        "openai", EMBEDDING_MODEL, input_tokens=900
    )
    assert calls[request_id(langfuse)].cost_usd == genai_cost("openai", EMBEDDING_MODEL, input_tokens=300)
    assert Generation.all_objects.count() == 0


def test_without_a_registered_recorder_embeddings_are_rejected_not_lost(api_client, organization, priced):
    recorder = SpanRecorder()
    embedding_span(recorder)
    provider_calls.register_provider_call_recorder(None)
    try:
        result = answer(post(api_client, recorder.protobuf()))
    finally:
        provider_calls.register_provider_call_recorder(provider_call_batch_record)

    assert result.partial_success.rejected_spans == 1
    assert "no provider-call recorder is registered" in result.partial_success.error_message
    assert ProviderCall.objects.count() == 0


def test_analytics_registers_the_recorder():
    assert provider_calls.registered_provider_call_recorder() is provider_call_batch_record


# --- LiteLLM ------------------------------------------------------------------------------------

EMBEDDING_PAYLOAD = {
    **copy.deepcopy(CHAT_PAYLOAD),
    "id": "emb-5b1f0c3a-9d8e-4c7b-a6f5-e4d3c2b1a098",
    "call_type": "aembedding",
    "custom_llm_provider": "openai",
    "model": EMBEDDING_MODEL,
    "response_cost": 0.00002,
    "prompt_tokens": 1000,
    "completion_tokens": 0,
    "total_tokens": 1000,
    "messages": ["The Gull's Rest, sea-view rooms."],
    "response": {"object": "list", "data": [{"index": 0, "embedding": [0.1, 0.2]}]},
    "model_parameters": {},
    "metadata": {"usage_object": {"prompt_tokens": 1000, "completion_tokens": 0, "total_tokens": 1000}},
}


def test_a_litellm_embedding_payload_becomes_a_provider_call(api_client, organization, priced):
    response = api_client.post(
        "/api/v1/integrations/litellm/", [EMBEDDING_PAYLOAD, CHAT_PAYLOAD], format="json"
    )
    again = api_client.post("/api/v1/integrations/litellm/", [EMBEDDING_PAYLOAD], format="json")

    assert response.status_code == 200, response.content
    assert response.json() == {"created": 2, "replayed": 0, "rejected": 0, "errors": []}
    assert again.json() == {"created": 0, "replayed": 1, "rejected": 0, "errors": []}
    call = ProviderCall.objects.get(organization=organization)
    assert call.request_id == f"litellm:{EMBEDDING_PAYLOAD['id']}"
    assert (call.endpoint, call.provider_name, call.model.name) == ("embeddings", "openai", EMBEDDING_MODEL)
    assert (call.input_tokens, call.output_tokens) == (1000, 0)
    assert call.cost_usd == genai_cost("openai", EMBEDDING_MODEL, input_tokens=1000)
    assert call.client_cost_usd == Decimal("0.00002")
    assert (call.success, call.user_ref, call.total_request_time_ms) == (True, "guest-9", 1500)
    assert Generation.objects.get(organization=organization).request_id == f"litellm:{CHAT_PAYLOAD['id']}"


def test_a_span_the_bulk_service_refuses_is_set_aside_and_the_rest_of_the_chunk_lands(
    api_client, organization, priced
):
    """Refusals of ``provider_call_bulk_record`` itself (not the serializer): a span id already
    recorded with another body (an exporter bug, not a retry) and a call that starts years in
    the future. Each is rejected with its reason; the chunk is written again without it."""
    recorder = SpanRecorder()
    recorded = embedding_span(recorder)
    post(api_client, recorder.protobuf())
    message = encode_spans(recorder.spans())
    changed = message.resource_spans[0].scope_spans[0].spans[0]
    next(pair for pair in changed.attributes if pair.key == "gen_ai.usage.input_tokens").value.int_value = 99
    later = SpanRecorder()
    future = embedding_span(later, name="future")
    landed = embedding_span(later, name="lands")
    export = encode_spans(later.spans())
    future_span = next(
        span for span in export.resource_spans[0].scope_spans[0].spans if span.name == "future"
    )
    future_span.start_time_unix_nano += 10 * 365 * 24 * 3600 * 10**9
    future_span.end_time_unix_nano = future_span.start_time_unix_nano + 10**6
    message.resource_spans.extend(export.resource_spans)

    result = answer(post(api_client, message.SerializeToString()))

    assert result.partial_success.rejected_spans == 2, result.partial_success.error_message
    message_text = result.partial_success.error_message
    assert f"{request_id(recorded)}: " in message_text and "different body" in message_text
    assert f"{request_id(future)}: " in message_text
    assert set(ProviderCall.objects.values_list("request_id", flat=True)) == {
        request_id(recorded),
        request_id(landed),
    }
    assert ProviderCall.objects.get(request_id=request_id(recorded)).input_tokens == 1536
