"""Helpers for the OpenTelemetry ingestion tests: spans made by the real OpenTelemetry SDK and
encoded by its own OTLP encoder, model prices from genai-prices, and a fake provider server."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import genai_prices
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
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
