"""Helpers for the OpenTelemetry ingestion tests: spans made by the real OpenTelemetry SDK and
encoded by its own OTLP encoder, model prices from genai-prices, and a fake provider server."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import genai_prices
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from providers.price_sync import price_sync, snapshot_catalogue

PRICED_MODELS = {"gpt-4o", "gpt-4o-mini", "claude-sonnet-4-0", "claude-3-5-haiku-latest"}


def sync_prices(models=PRICED_MODELS) -> None:
    """Providers, these models and their prices, synced from genai-prices' snapshot."""
    price_sync(catalogue=[entry for entry in snapshot_catalogue() if entry.name in models])


def genai_cost(provider: str, model: str, **tokens) -> Decimal:
    """What genai-prices says these tokens cost now (our independent oracle)."""
    usage = genai_prices.Usage(**tokens)
    price = genai_prices.calc_price(usage, model, provider_id=provider).total_price
    return Decimal(price).quantize(Decimal("1e-10"))


class SpanRecorder:
    """A tracer provider whose finished spans stay in memory, to be encoded as OTLP."""

    def __init__(self, service_name: str = "writer-agent"):
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = self.provider.get_tracer("tests.otel", "1.0")

    def spans(self):
        return self.exporter.get_finished_spans()

    def protobuf(self) -> bytes:
        return encode_spans(self.spans()).SerializeToString()

    def otlp_json(self) -> bytes:
        """OTLP/JSON as exporters write it: camelCase names and hex (not base64) ids."""
        document = json_format.MessageToDict(encode_spans(self.spans()))
        for resource_spans in document["resourceSpans"]:
            for scope_spans in resource_spans["scopeSpans"]:
                for span in scope_spans["spans"]:
                    for name in ("traceId", "spanId", "parentSpanId"):
                        if name in span:
                            span[name] = _b64_to_hex(span[name])
        return json.dumps(document).encode()


def _b64_to_hex(value: str) -> str:
    import base64

    return base64.b64decode(value).hex()


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, dict] = {}
    requests: list = []

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.requests.append((self.path, json.loads(self.rfile.read(length) or b"{}")))
        body = json.dumps(self.routes[self.path]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextmanager
def fake_provider(routes: dict[str, dict]):
    """A local HTTP server answering each path with a recorded JSON response, from a thread."""
    handler = type("Handler", (_Handler,), {"routes": routes, "requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# --- spans the SDK would not write ----------------------------------------------------------------
# The SDK's API refuses some attribute values (key-value lists, bytes) and always sets ids and
# times; an exporter of another language or a broken one may send anything the protocol allows.


def any_value(value) -> AnyValue:
    """``value`` as an OTLP ``AnyValue`` of the matching kind (lists as arrays, dicts as kvlists)."""
    result = AnyValue()
    if isinstance(value, bool):
        result.bool_value = value
    elif isinstance(value, int):
        result.int_value = value
    elif isinstance(value, float):
        result.double_value = value
    elif isinstance(value, str):
        result.string_value = value
    elif isinstance(value, bytes):
        result.bytes_value = value
    elif isinstance(value, list):
        result.array_value.values.extend(any_value(item) for item in value)
    elif isinstance(value, dict):
        result.kvlist_value.values.extend(KeyValue(key=k, value=any_value(v)) for k, v in value.items())
    return result


RAW_CHAT_ATTRIBUTES = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.usage.input_tokens": 1000,
    "gen_ai.usage.output_tokens": 100,
}
_raw_spans = iter(range(1, 10**9))


def raw_span(attributes=None, **fields) -> Span:
    """A protobuf chat span (a fresh trace and span id, started 2 s ago, 1 s long) with
    ``attributes`` over :data:`RAW_CHAT_ATTRIBUTES` (a ``None`` value removes one) and any span
    field overridden."""
    number = next(_raw_spans)
    now = time.time_ns()
    values = {
        "name": "chat gpt-4o",
        "trace_id": bytes.fromhex(f"{number:032x}"),
        "span_id": bytes.fromhex(f"{number:016x}"),
        "start_time_unix_nano": now - 2 * 10**9,
        "end_time_unix_nano": now - 10**9,
        **fields,
    }
    span = Span(**values)
    for key, value in {**RAW_CHAT_ATTRIBUTES, **(attributes or {})}.items():
        if value is not None:
            span.attributes.append(KeyValue(key=key, value=any_value(value)))
    return span


def raw_export(*spans: Span, service_name: str = "writer-agent") -> bytes:
    """An ``ExportTraceServiceRequest`` of these spans under one resource, as protobuf."""
    message = ExportTraceServiceRequest()
    resource_spans = message.resource_spans.add()
    resource_spans.resource.attributes.append(KeyValue(key="service.name", value=any_value(service_name)))
    resource_spans.scope_spans.add().spans.extend(spans)
    return message.SerializeToString()


def request_id_of(span: Span) -> str:
    """The request id Inkwell gives a raw span."""
    return f"otel:{span.trace_id.hex()}:{span.span_id.hex()}"
