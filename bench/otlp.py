"""OTLP trace ingestion vs the bulk API: the same generations, 512 per request, both ways.

    .venv/bin/python bench/otlp.py                  # starts its own gunicorn + PostgreSQL
    .venv/bin/python bench/otlp.py --batches 20 --spans 512

Starts a throwaway embedded PostgreSQL and gunicorn (2 workers, production settings) exactly as
``bench/ingest.py`` does, then alternates, ``--batches`` times each: one ``POST
generations/bulk/`` of ``--spans`` items, and one ``POST otel/v1/traces`` protobuf export of
``--spans`` generation spans carrying the same data (provider, model, token counts with cached
tokens, ~1.5 KB of content, parameters, user) as the GenAI semantic conventions write it.
Prints time per request and per generation for both, and their ratio.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import production_env, start_gunicorn, stop_server  # noqa: E402 - after sys.path
from bench.ingest import Client, payload, prepare_database, wait_healthy  # noqa: E402


def _attribute(key: str, value):
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def otlp_export(items: list[dict]) -> bytes:
    """The items of a bulk request as one OTLP export of chat spans (GenAI conventions)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

    trace_id = os.urandom(16)
    now = time.time_ns()
    spans = []
    for item in items:
        usage = item["usage"]
        if item["provider"] == "openai":
            tokens = (
                usage["prompt_tokens"],
                usage["completion_tokens"],
                usage["prompt_tokens_details"]["cached_tokens"],
            )
        elif item["provider"] == "anthropic":
            cached = usage["cache_read_input_tokens"]
            tokens = (usage["input_tokens"] + cached, usage["output_tokens"], cached)
        else:
            tokens = (
                usage["promptTokenCount"],
                usage["candidatesTokenCount"],
                usage["cachedContentTokenCount"],
            )
        output = [{"role": "assistant", "parts": [{"type": "text", "content": item["content"]}]}]
        attributes = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": item["provider"],
            "gen_ai.request.model": item["model"],
            "gen_ai.usage.input_tokens": tokens[0],
            "gen_ai.usage.output_tokens": tokens[1],
            "gen_ai.usage.cache_read.input_tokens": tokens[2],
            "gen_ai.request.temperature": 0.7,
            "gen_ai.request.max_tokens": 2048,
            "gen_ai.output.messages": json.dumps(output),
            "user.id": item["user_ref"],
        }
        spans.append(
            Span(
                trace_id=trace_id,
                span_id=os.urandom(8),
                name=f"chat {item['model']}",
                kind=Span.SPAN_KIND_CLIENT,
                start_time_unix_nano=now - item["generation_time_ms"] * 1_000_000,
                end_time_unix_nano=now,
                attributes=[_attribute(key, value) for key, value in attributes.items()],
            )
        )
    export = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource={"attributes": [_attribute("service.name", "bench-writer")]},
                scope_spans=[ScopeSpans(scope={"name": "bench"}, spans=spans)],
            )
        ]
    )
    return export.SerializeToString()


def post(base_url: str, api_key: str, path: str, body: bytes, content_type: str) -> float:
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)
    headers = {"Authorization": f"Api-Key {api_key}", "Content-Type": content_type}
    try:
        started = time.perf_counter()
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        content = response.read()
        elapsed = time.perf_counter() - started
    finally:
        connection.close()
    if response.status not in (200, 201):
        raise SystemExit(f"{path} answered {response.status}: {content[:300]!r}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, default=10, help="requests of each kind (default 10)")
    parser.add_argument("--spans", type=int, default=512, help="generations per request (default 512)")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--pgdata", default=str(Path(tempfile.gettempdir()) / "inkwell-bench-otlp-pg"))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    pgdata = Path(args.pgdata)
    shutil.rmtree(pgdata, ignore_errors=True)
    env = dict(os.environ)
    env.update(production_env(pgdata))
    os.environ.update(env)
    api_key, _ = prepare_database(pgdata)
    base_url = f"http://127.0.0.1:{args.port}"
    server = start_gunicorn(args.port, env)
    rng = random.Random(args.seed)
    token = uuid.uuid4().hex[:8]
    bulk_times, otlp_times = [], []
    try:
        wait_healthy(Client(base_url, api_key))
        warm = [payload(f"warm-{token}-{i}", rng) for i in range(args.spans)]
        post(
            base_url,
            api_key,
            "/api/v1/generations/bulk/",
            json.dumps({"items": warm}).encode(),
            "application/json",
        )
        post(base_url, api_key, "/api/v1/otel/v1/traces", otlp_export(warm), "application/x-protobuf")
        for batch in range(args.batches):
            items = [payload(f"b-{token}-{batch}-{i}", rng) for i in range(args.spans)]
            bulk_body = json.dumps({"items": items}).encode()
            otlp_body = otlp_export([payload(f"o-{token}-{batch}-{i}", rng) for i in range(args.spans)])
            bulk_times.append(
                post(base_url, api_key, "/api/v1/generations/bulk/", bulk_body, "application/json")
            )
            otlp_times.append(
                post(base_url, api_key, "/api/v1/otel/v1/traces", otlp_body, "application/x-protobuf")
            )
    finally:
        stop_server(server)
        from config.embedded_postgres import stop_embedded_database

        stop_embedded_database(str(pgdata))
        shutil.rmtree(pgdata, ignore_errors=True)

    bulk, otlp = statistics.median(bulk_times), statistics.median(otlp_times)
    print(
        f"CPU cores: {os.cpu_count()}, gunicorn workers: 2, {args.batches} requests of {args.spans} each way"
    )
    for name, seconds, body in (
        ("bulk POST (JSON)", bulk, bulk_body),
        ("OTLP export (protobuf)", otlp, otlp_body),
    ):
        per_generation_ms = seconds / args.spans * 1000
        print(
            f"{name:<24} median {seconds * 1000:8.1f} ms/request  {per_generation_ms:6.3f} ms/generation  "
            f"{args.spans / seconds:8.0f} generations/s  body {len(body) / 1024:7.0f} KiB"
        )
    print(f"OTLP / bulk time per generation: {otlp / bulk:5.2f}x (below 1 is faster)")


if __name__ == "__main__":
    main()
