"""The real clients, offline, against the live test server: the official OpenAI instrumentation,
OpenLLMetry's OpenAI and Anthropic instrumentations, the Langfuse SDK and LiteLLM's generic_api callback.

Provider calls go to a fake provider server in a thread (recorded responses); telemetry goes to
Inkwell through each client's own exporter. Nothing leaves the machine.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation._semconv import _OpenTelemetrySemanticConventionStability
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from analytics.models import ProviderCall
from generations.models import Generation
from providers.metering import cost_rounded
from tests.generations.otel_support import PRICED_MODELS, fake_provider, genai_cost, sync_prices

pytestmark = pytest.mark.django_db(transaction=True)

# A chat completion as OpenAI returns it, with cached prompt tokens.
OPENAI_COMPLETION = {
    "id": "chatcmpl-AbC123",
    "object": "chat.completion",
    "created": 1764460800,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "The Gull's Rest: sleep by the sea.",
                "refusal": None,
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 2048,
        "completion_tokens": 12,
        "total_tokens": 2060,
        "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    },
    "service_tier": "default",
    "system_fingerprint": "fp_0aa8d3e20b",
}

# A message as Anthropic returns it, reading and writing the prompt cache.
ANTHROPIC_MESSAGE = {
    "id": "msg_01XyZ",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-20250514",
    "content": [{"type": "text", "text": "Sea-view rooms, slow breakfasts."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 120,
        "output_tokens": 40,
        "cache_read_input_tokens": 18000,
        "cache_creation_input_tokens": 2500,
    },
}


# An embeddings response as OpenAI returns it.
OPENAI_EMBEDDINGS = {
    "object": "list",
    "data": [{"object": "embedding", "index": 0, "embedding": [0.0123, -0.0456, 0.0789]}],
    "model": "text-embedding-3-small",
    "usage": {"prompt_tokens": 8, "total_tokens": 8},
}


@pytest.fixture
def priced(transactional_db):
    sync_prices(PRICED_MODELS | {"text-embedding-3-small"})


@pytest.fixture
def key(organization, make_api_client):
    return make_api_client(organization).plain_key


def tracer_provider(live_server, key) -> TracerProvider:
    """What an instrumented app sets up: the SDK exporting OTLP/HTTP protobuf to Inkwell."""
    provider = TracerProvider(resource=Resource.create({"service.name": "hotel-writer"}))
    exporter = OTLPSpanExporter(
        endpoint=f"{live_server.url}/api/v1/otel/v1/traces", headers={"Authorization": f"Bearer {key}"}
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


@contextlib.contextmanager
def instrumented(instrumentor, live_server, key):
    """An OpenLLMetry instrumentor installed around the block, exporting to Inkwell; uninstalled
    and its spans flushed afterwards."""
    provider = tracer_provider(live_server, key)
    instrumentor.instrument(tracer_provider=provider)
    try:
        yield
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


@pytest.fixture
def openai_instrumented(monkeypatch, live_server, key):
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    # The latest conventions put captured messages on the span (not in log events).
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    monkeypatch.setattr(_OpenTelemetrySemanticConventionStability, "_initialized", False)

    def instrument(capture: str | None):
        if capture:
            monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", capture)
        provider = tracer_provider(live_server, key)
        OpenAIInstrumentor().instrument(tracer_provider=provider)
        return provider

    yield instrument
    OpenAIInstrumentor().uninstrument()
    _OpenTelemetrySemanticConventionStability._initialized = False


def _ask_openai(base_url: str):
    import openai

    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="sk-test", max_retries=0)
    return client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "system", "content": "You name hotels."},
            {"role": "user", "content": "Name a seaside hotel."},
        ],
        temperature=0.3,
    )


def test_openai_instrumentation_exports_one_generation_with_exact_tokens_and_cost(
    openai_instrumented, organization, priced
):
    provider = openai_instrumented(capture=None)
    with fake_provider({"/v1/chat/completions": OPENAI_COMPLETION}) as (base_url, calls):
        _ask_openai(base_url)
    provider.shutdown()

    assert len(calls) == 1
    row = Generation.objects.get(organization=organization)
    assert (row.provider_name, row.model_name, row.model.name) == (
        "openai",
        "gpt-4o-mini-2024-07-18",
        "gpt-4o-mini",
    )
    # The recorded completion has 1,920 cached prompt tokens, but
    # opentelemetry-instrumentation-openai-v2 2.4b0 does not export them for a chat completion:
    # its chat wrappers (patch.py: _set_response_attributes, _set_response_properties) copy only
    # usage.prompt_tokens and completion_tokens to the span, and no log event carries usage.
    # Its one reader of prompt_tokens_details.cached_tokens (response_extractors.py, writing
    # gen_ai.usage.cache_read.input_tokens) serves the Responses API wrappers, which 2.4b0's
    # OpenAIInstrumentor does not install. So the whole prompt is priced at the input rate here;
    # a span that does carry the attribute is priced at the cache-read rate
    # (test_otlp.py::test_openai_v2_chat_span_carrying_cache_reads_prices_them_at_the_cache_read_rate),
    # and OpenLLMetry's OpenAI instrumentation, which exports it, gets the exact cached cost of
    # this same completion (test_openllmetry_openai_instrumentation_prices_the_cached_prompt_tokens_exactly).
    assert (row.input_tokens, row.output_tokens, row.cache_read_tokens) == (2048, 12, 0)
    assert row.cost_usd == genai_cost("openai", "gpt-4o-mini", input_tokens=2048, output_tokens=12)
    assert row.cost_status == "priced"
    assert row.parameters["temperature"] == 0.3
    assert row.agent_name == "hotel-writer"
    assert row.metadata["response_id"] == "chatcmpl-AbC123"
    assert (row.prompt, row.content) == ("", "")  # content capture is off by default


def test_openllmetry_openai_instrumentation_prices_the_cached_prompt_tokens_exactly(
    live_server, key, organization, priced
):
    # The same recorded chat completion (1,920 of its 2,048 prompt tokens read from OpenAI's
    # prompt cache) through OpenLLMetry's OpenAI instrumentation, which, unlike openai-v2 2.4b0,
    # copies prompt_tokens_details.cached_tokens onto the chat span: the cache reads are priced
    # at the cache-read rate and the rest of the prompt at the input rate.
    from opentelemetry.instrumentation.openai import OpenAIInstrumentor

    with (
        instrumented(OpenAIInstrumentor(), live_server, key),
        fake_provider({"/v1/chat/completions": OPENAI_COMPLETION}) as (base_url, calls),
    ):
        _ask_openai(base_url)

    assert len(calls) == 1
    row = Generation.objects.get(organization=organization)
    assert (row.provider_name, row.model.name) == ("openai", "gpt-4o-mini")
    assert (row.input_tokens, row.output_tokens, row.cache_read_tokens) == (2048, 12, 1920)
    assert row.cost_usd == genai_cost(
        "openai", "gpt-4o-mini", input_tokens=2048, output_tokens=12, cache_read_tokens=1920
    )
    assert row.cost_usd < genai_cost("openai", "gpt-4o-mini", input_tokens=2048, output_tokens=12)
    assert row.cost_status == "priced"


def test_openai_instrumentation_with_content_capture_sends_the_messages(
    openai_instrumented, organization, priced
):
    provider = openai_instrumented(capture="span_only")
    with fake_provider({"/v1/chat/completions": OPENAI_COMPLETION}) as (base_url, _):
        _ask_openai(base_url)
    provider.shutdown()

    row = Generation.objects.get(organization=organization)
    assert row.prompt == "system: You name hotels.\n\nuser: Name a seaside hotel."
    assert row.content == "The Gull's Rest: sleep by the sea."
    assert row.raw_response is None  # text only: content says it all
    assert row.raw_request["messages"][1]["role"] == "user"
    assert (row.input_tokens, row.output_tokens) == (2048, 12)
    assert row.cost_usd == genai_cost("openai", "gpt-4o-mini", input_tokens=2048, output_tokens=12)


def test_openllmetry_anthropic_instrumentation_prices_cache_reads_and_writes_exactly(
    live_server, key, organization, priced
):
    import anthropic
    from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor

    with (
        instrumented(AnthropicInstrumentor(), live_server, key),
        fake_provider({"/v1/messages": ANTHROPIC_MESSAGE}) as (base_url, calls),
    ):
        client = anthropic.Anthropic(base_url=base_url, api_key="sk-ant-test", max_retries=0)
        client.messages.create(
            model="claude-sonnet-4-0",
            max_tokens=256,
            system=[{"type": "text", "text": "House style…", "cache_control": {"type": "ephemeral"}}],
            messages=[{"role": "user", "content": "Describe the rooms."}],
        )

    assert len(calls) == 1
    row = Generation.objects.get(organization=organization)
    assert row.model.name == "claude-sonnet-4-0"
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


def test_the_langfuse_sdk_records_a_generation(live_server, key, organization, priced):
    from langfuse import Langfuse, propagate_attributes

    client = Langfuse(public_key="pk-lf-anything", secret_key=key, base_url=live_server.url, flush_at=1)
    try:
        assert client.auth_check() is True
        with (
            client.start_as_current_observation(name="agent", as_type="span"),
            propagate_attributes(user_id="guest-9", session_id="stay-2026"),
        ):
            # SDK v3's start_generation(); v4+ name it start_observation(as_type="generation").
            generation = client.start_observation(
                as_type="generation",
                name="describe-rooms",
                model="gpt-4o",
                input=[{"role": "user", "content": "Describe the rooms."}],
                model_parameters={"temperature": 0.5},
            )
            generation.update(
                output="Sea-view rooms.",
                usage_details={"input": 1000, "output": 50, "input_cached_tokens": 200},
                cost_details={"total": 0.0042},
            )
            generation.end()
        client.flush()
    finally:
        client.shutdown()

    row = Generation.objects.get(organization=organization)
    assert row.model.name == "gpt-4o"
    assert (row.input_tokens, row.output_tokens, row.cache_read_tokens) == (1200, 50, 200)
    assert row.cost_usd == genai_cost(
        "openai", "gpt-4o", input_tokens=1200, output_tokens=50, cache_read_tokens=200
    )
    assert str(row.client_cost_usd) == "0.0042000000"
    assert row.parameters == {"temperature": 0.5}
    assert row.content == "Sea-view rooms."
    assert row.metadata["langfuse_observation_type"] == "generation"
    assert row.parent_span_id  # under the "agent" span
    assert (row.user_ref, row.conversation_id) == ("guest-9", "stay-2026")


def test_the_langfuse_openai_drop_in_records_cached_tokens_at_their_rate(
    live_server, key, organization, priced
):
    """``langfuse.openai`` sends OpenAI's usage object as it is, the cached count nested in
    ``prompt_tokens_details`` (the Langfuse server reads it there): 1,920 of the 2,048 prompt
    tokens are cache reads, not full-price input (it was an 85 % overcharge)."""
    from langfuse import Langfuse
    from langfuse.openai import OpenAI

    # The SDK keeps one client per public key for the process and traces the drop-in's calls
    # with the one named: each test names its own.
    langfuse = Langfuse(public_key="pk-lf-drop-in", secret_key=key, base_url=live_server.url, flush_at=1)
    with fake_provider({"/v1/chat/completions": OPENAI_COMPLETION}) as (base_url, _calls):
        client = OpenAI(base_url=f"{base_url}/v1", api_key="sk-test", max_retries=0)
        try:
            client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "Name a hotel."}],
                langfuse_public_key="pk-lf-drop-in",
            )
        finally:
            langfuse.flush()
            langfuse.shutdown()

    row = Generation.objects.get(organization=organization)
    assert (row.input_tokens, row.output_tokens, row.cache_read_tokens) == (2048, 12, 1920)
    assert row.cost_usd == genai_cost(
        "openai", "gpt-4o-mini", input_tokens=2048, output_tokens=12, cache_read_tokens=1920
    )


def test_the_langfuse_sdk_s_disjoint_parts_are_counted_in_input_and_output(
    live_server, key, organization, priced
):
    """What the SDK's LangChain handler writes for LangChain's usage of 1,000 input tokens (400
    cached) and 5,000 output tokens (4,000 reasoning): each detail subtracted from ``input`` /
    ``output`` and sent under its own key. Reasoning is billed as output, audio as input; a
    ``priority`` tier is not a part."""
    from langfuse import Langfuse

    client = Langfuse(public_key="pk-lf-chain", secret_key=key, base_url=live_server.url, flush_at=1)
    try:
        generation = client.start_observation(as_type="generation", name="chain", model="gpt-4o")
        generation.update(
            output="Sea-view rooms.",
            usage_details={
                "input": 590,
                "output": 1000,
                "total": 6000,
                "input_cache_read": 400,
                "input_audio": 10,
                "input_priority": 1000,
                "output_reasoning": 4000,
            },
        )
        generation.end()
        client.flush()
    finally:
        client.shutdown()

    row = Generation.objects.get(organization=organization)
    assert (row.input_tokens, row.output_tokens, row.cache_read_tokens) == (1000, 5000, 400)
    assert row.cost_usd == genai_cost(
        "openai", "gpt-4o", input_tokens=1000, output_tokens=5000, cache_read_tokens=400
    )


def only_callback(monkeypatch, litellm, logger) -> None:
    """Make ``logger`` LiteLLM's one callback for this test. LiteLLM copies ``callbacks`` into
    its own lists once and keeps them: the loggers of earlier tests (bound to closed event
    loops) would be called first and fail, whichever order the tests run in."""
    lists = ("success_callback", "_async_success_callback", "failure_callback", "_async_failure_callback")
    for name in lists:
        monkeypatch.setattr(litellm, name, [])
    monkeypatch.setattr(litellm, "callbacks", [logger])


@pytest.mark.parametrize("log_format", ["json_array", "ndjson", "single"])
def test_litellm_generic_api_callback_records_its_cost_next_to_ours(
    monkeypatch, live_server, key, organization, priced, log_format
):
    import asyncio

    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network
    import litellm
    from litellm.integrations.generic_api.generic_api_callback import GenericAPILogger

    sent: list[dict] = []

    class Logger(GenericAPILogger):
        """The real callback; remembers what it queued so the test can compare."""

        async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
            await super().async_log_success_event(kwargs, response_obj, start_time, end_time)
            sent.append(kwargs["standard_logging_object"])
            self.queued.set()

    async def run():
        logger = Logger(
            endpoint=f"{live_server.url}/api/v1/integrations/litellm/",
            headers={"Authorization": f"Api-Key {key}"},
            log_format=log_format,
        )
        logger.queued = asyncio.Event()
        only_callback(monkeypatch, litellm, logger)
        for number in range(2):
            logger.queued.clear()
            await litellm.acompletion(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": f"Name hotel number {number}."}],
                mock_response="The Gull's Rest",
                user="guest-3",
                metadata={"session_id": "stay-1"},
            )
            await asyncio.wait_for(logger.queued.wait(), timeout=30)
        await logger.flush_queue()

    asyncio.run(run())

    rows = list(Generation.objects.filter(organization=organization).order_by("request_id"))
    assert len(rows) == len(sent) == 2
    by_id = {payload["id"]: payload for payload in sent}
    for row in rows:
        payload = by_id[row.request_id.removeprefix("litellm:")]
        assert row.client_cost_usd == cost_rounded(Decimal(str(payload["response_cost"])))
        assert row.client_cost_usd > 0
        assert (row.input_tokens, row.output_tokens) == (
            payload["prompt_tokens"],
            payload["completion_tokens"],
        )
        assert row.cost_usd == genai_cost(
            "openai", "gpt-4o-mini", input_tokens=row.input_tokens, output_tokens=row.output_tokens
        )
        assert (row.provider_name, row.model.name, row.status) == ("openai", "gpt-4o-mini", "success")
        assert row.content == "The Gull's Rest"
        assert row.user_ref == "guest-3"
        assert row.metadata["source"] == "litellm"
        assert row.metadata["trace_id"] == payload["trace_id"]


def test_litellm_legacy_v1_payloads_are_refused_with_a_reason_naming_the_setting(
    monkeypatch, live_server, key, organization, priced, api_client
):
    """``litellm.generic_api_use_v1`` posts str() of every value (usage as a Python repr,
    naive local times): no token count or pricing moment can be read, so the payload is
    refused with a reason that says how to send a StandardLoggingPayload instead."""
    import asyncio

    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network
    import litellm
    from litellm.integrations.generic_api.generic_api_callback import GenericAPILogger

    monkeypatch.setattr(litellm, "generic_api_use_v1", True)
    sent: list[dict] = []

    class Logger(GenericAPILogger):
        """The real callback; remembers the batch it sends."""

        async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
            await super().async_log_success_event(kwargs, response_obj, start_time, end_time)
            self.queued.set()

        async def async_send_batch(self):
            sent.extend(self.log_queue)
            await super().async_send_batch()

    async def run():
        logger = Logger(
            endpoint=f"{live_server.url}/api/v1/integrations/litellm/",
            headers={"Authorization": f"Api-Key {key}"},
        )
        logger.queued = asyncio.Event()
        only_callback(monkeypatch, litellm, logger)
        await litellm.acompletion(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Name a hotel."}],
            mock_response="The Gull's Rest",
        )
        await asyncio.wait_for(logger.queued.wait(), timeout=30)
        await logger.flush_queue()

    asyncio.run(run())

    assert len(sent) == 1 and isinstance(sent[0]["startTime"], str)
    assert Generation.all_objects.count() == 0
    answer = api_client.post("/api/v1/integrations/litellm/", sent, format="json").json()
    assert (answer["created"], answer["rejected"]) == (0, 1)
    assert "generic_api_use_v1" in answer["errors"][0]["detail"]


def test_openai_instrumentation_exports_embeddings_as_one_provider_call(
    openai_instrumented, organization, priced
):
    import openai

    provider = openai_instrumented(capture=None)
    with fake_provider({"/v1/embeddings": OPENAI_EMBEDDINGS}) as (base_url, calls):
        client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="sk-test", max_retries=0)
        client.embeddings.create(model="text-embedding-3-small", input="Sea-view rooms, slow breakfasts.")
    provider.shutdown()

    assert len(calls) == 1
    call = ProviderCall.objects.get(organization=organization)
    assert call.request_id.startswith("otel:")
    assert (call.endpoint, call.provider_name, call.model_name, call.model.name) == (
        "embeddings",
        "openai",
        "text-embedding-3-small",
        "text-embedding-3-small",
    )
    assert (call.input_tokens, call.output_tokens, call.success) == (8, 0, True)
    assert call.cost_usd == genai_cost("openai", "text-embedding-3-small", input_tokens=8)
    assert call.cost_status == "priced"
    assert not Generation.all_objects.exists()


def test_litellm_generic_api_callback_records_an_embedding_as_a_provider_call(
    monkeypatch, live_server, key, organization, priced
):
    import asyncio

    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network
    import litellm
    from litellm.integrations.generic_api.generic_api_callback import GenericAPILogger

    sent: list[dict] = []

    class Logger(GenericAPILogger):
        async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
            await super().async_log_success_event(kwargs, response_obj, start_time, end_time)
            sent.append(kwargs["standard_logging_object"])
            self.queued.set()

    async def run():
        logger = Logger(
            endpoint=f"{live_server.url}/api/v1/integrations/litellm/",
            headers={"Authorization": f"Api-Key {key}"},
            log_format="json_array",
        )
        logger.queued = asyncio.Event()
        only_callback(monkeypatch, litellm, logger)
        await litellm.aembedding(
            model="text-embedding-3-small",
            input=["Sea-view rooms."],
            mock_response=[0.1, 0.2],
            user="guest-3",
        )
        await asyncio.wait_for(logger.queued.wait(), timeout=30)
        await logger.flush_queue()

    asyncio.run(run())

    assert len(sent) == 1 and sent[0]["call_type"] == "aembedding"
    call = ProviderCall.objects.get(organization=organization)
    assert call.request_id == f"litellm:{sent[0]['id']}"
    assert (call.provider_name, call.model.name, call.input_tokens) == (
        "openai",
        "text-embedding-3-small",
        sent[0]["prompt_tokens"],
    )
    assert call.cost_usd == genai_cost("openai", "text-embedding-3-small", input_tokens=call.input_tokens)
    assert call.client_cost_usd == Decimal(str(sent[0]["response_cost"])).quantize(Decimal("1e-10"))
    assert not Generation.all_objects.exists()
