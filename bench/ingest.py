"""Ingestion throughput: single POSTs vs bulk POSTs of 1,000 vs a raw psycopg COPY, in one run.

    .venv/bin/python bench/ingest.py                      # starts its own gunicorn + PostgreSQL
    .venv/bin/python bench/ingest.py --single 3000 --bulk-batches 30 --clients 4

Without ``--url`` it starts a throwaway embedded PostgreSQL (``--pgdata``, deleted first),
migrates it, syncs model prices, creates an organization and an API key, and starts gunicorn
with 2 workers on production settings (DEBUG off, persistent connections) against it. With
``--url`` and ``--api-key`` it benchmarks that server instead (the COPY phase then needs
``DATABASE_URL`` of the same database).

Phases, each writing fresh request ids into the same ``generations_generation`` table:

1. single: ``--single`` POSTs of one generation each, from ``--clients`` threads;
2. bulk: ``--bulk-batches`` POSTs of 1,000 generations each, from ``--clients`` threads;
3. copy: the rows the bulk phase wrote, re-keyed, loaded with ``COPY … FROM STDIN`` (psycopg 3).

Every payload is realistic: a provider usage object (OpenAI, Anthropic or Google, cached tokens
included) that the server normalises and prices, ~1.5 KB of content, parameters and metadata.
"""

from __future__ import annotations

import argparse
import atexit
import http.client
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import end_on_signals, production_env, start_gunicorn, stop_server  # noqa: E402

MODELS = [
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini"),
    ("anthropic", "claude-sonnet-4-0"),
    ("google", "gemini-2.5-flash"),
]
PARAGRAPH = (
    "Wake up to the Atlantic from every sea-view room, then take the cliff path to breakfast on "
    "the terrace, where the bread is baked at dawn and the coffee comes from a roaster two streets "
    "away. "
)


def usage_for(provider: str, rng: random.Random) -> dict:
    prompt, completion = rng.randint(500, 8000), rng.randint(100, 1500)
    cached = rng.randint(0, prompt // 2)
    if provider == "openai":
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached},
        }
    if provider == "anthropic":
        return {
            "input_tokens": prompt - cached,
            "output_tokens": completion,
            "cache_read_input_tokens": cached,
            "cache_creation_input_tokens": 0,
        }
    return {
        "promptTokenCount": prompt,
        "candidatesTokenCount": completion,
        "cachedContentTokenCount": cached,
        "totalTokenCount": prompt + completion,
    }


def payload(request_id: str, rng: random.Random) -> dict:
    provider, model = rng.choice(MODELS)
    return {
        "request_id": request_id,
        "user_ref": f"user-{rng.randint(1, 200)}",
        "content_type": rng.choice(["blog", "social", "amazon", "chat"]),
        "agent_name": "bench-writer",
        "provider": provider,
        "model": model,
        "target_channel": "blog",
        "prompt": "Write about sea-view rooms for families.",
        "parameters": {"temperature": 0.7, "max_tokens": 2048},
        "metadata": {"bench": True, "shard": rng.randint(0, 15)},
        "content": PARAGRAPH * 6,
        "content_format": "markdown",
        "usage": usage_for(provider, rng),
        "status": "success",
        "generation_time_ms": rng.randint(800, 20000),
    }


class Client:
    """One HTTP connection per thread (gunicorn's sync workers close it after each response)."""

    def __init__(self, base_url: str, api_key: str):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.headers = {"Authorization": f"Api-Key {api_key}", "Content-Type": "application/json"}

    def post(self, path: str, body: dict) -> tuple[int, dict]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=300)
        try:
            connection.request("POST", path, body=json.dumps(body), headers=self.headers)
            response = connection.getresponse()
            return response.status, json.loads(response.read() or b"{}")
        finally:
            connection.close()

    def get(self, path: str) -> int:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            connection.request("GET", path)
            return connection.getresponse().status
        finally:
            connection.close()


def run_parallel(count: int, clients: int, call) -> float:
    """Run ``call(i)`` for i in range(count) on ``clients`` threads; returns elapsed seconds."""
    failures = []
    lock = threading.Lock()

    def work(index):
        status, body = call(index)
        if status not in (200, 201):
            with lock:
                failures.append((status, body))

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(work, range(count)))
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, first: {failures[0]}")
    return elapsed


# --- server set-up ------------------------------------------------------------------------------


def prepare_database(pgdata: Path) -> tuple[str, int]:
    """Fresh embedded PostgreSQL, migrated and priced; returns (plain API key, organization id)."""
    import django

    django.setup()
    from django.core.management import call_command

    from providers.price_sync import price_sync
    from tenancy import services
    from tenancy.rls import rls_bypass

    call_command("migrate", verbosity=0)
    # Set-up outside any request: every organization's rows, as an operator's command would.
    with rls_bypass(reason="bench set-up"):
        price_sync()
        organization = services.organization_create(name="Bench", slug=f"bench-{uuid.uuid4().hex[:6]}")
        _, plain_key = services.api_key_create(organization=organization, name="bench")
    return plain_key, organization.pk


def wait_healthy(client: Client, seconds: int = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if client.get("/api/v1/health/") == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("gunicorn did not become healthy")


# --- the COPY phase -----------------------------------------------------------------------------


def copy_rows(prefix: str, copy_prefix: str) -> tuple[int, float]:
    """COPY the rows the bulk phase wrote (re-keyed) into the same table; returns (rows, seconds)."""
    from django.db import connection

    from generations.models import Generation
    from tenancy import rls

    # The raw baseline runs as the tables' owner: PostgreSQL refuses COPY FROM under row-level
    # security, which binds the app's role (tenancy/rls.py).
    with rls.database_owner():
        return _copy_rows(connection, Generation._meta, prefix, copy_prefix)


def _copy_rows(connection, opts, prefix: str, copy_prefix: str) -> tuple[int, float]:
    columns = [
        field.column
        for field in opts.concrete_fields
        if field.column not in ("id",)  # the identity column numbers the copies
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(columns)} FROM generations_generation WHERE request_id LIKE %s",
            [f"{prefix}%"],
        )
        rows = cursor.fetchall()
    request_id_at = columns.index("request_id")
    copies = []
    for row in rows:
        row = list(row)
        row[request_id_at] = copy_prefix + row[request_id_at][len(prefix) :]
        copies.append([json.dumps(value) if isinstance(value, dict | list) else value for value in row])
    raw = connection.connection  # the psycopg 3 connection under Django's
    started = time.perf_counter()
    statement = f"COPY generations_generation ({', '.join(columns)}) FROM STDIN"
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for row in copies:
            copy.write_row(row)
    raw.commit()
    return len(copies), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--single", type=int, default=2000, help="single POSTs (default 2000)")
    parser.add_argument("--bulk-batches", type=int, default=20, help="bulk POSTs of 1,000 (default 20)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads (default 4)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--pgdata", default=str(Path(tempfile.gettempdir()) / "inkwell-bench-pg"))
    parser.add_argument("--url", help="benchmark this running server instead of starting one")
    parser.add_argument("--api-key", help="with --url: an editor API key of that server")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    env = dict(os.environ)
    server = None
    if args.url:
        base_url, api_key = args.url, args.api_key
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")
        import django

        django.setup()
    else:
        pgdata = Path(args.pgdata)
        shutil.rmtree(pgdata, ignore_errors=True)
        from config.embedded_postgres import remove_embedded_database

        # Stop and delete the throwaway server however the run ends (figures printed or not):
        # atexit covers a normal end, an error and Ctrl-C; SIGTERM and SIGHUP are made to end
        # the run the same way (by default they would skip atexit and leave the server running).
        atexit.register(remove_embedded_database, pgdata)
        end_on_signals()
        env.update(production_env(pgdata))
        os.environ.update(env)
        api_key, _ = prepare_database(pgdata)
        base_url = f"http://127.0.0.1:{args.port}"
        server = start_gunicorn(args.port, env)
    client = Client(base_url, api_key)
    try:
        wait_healthy(client)
        run_token = uuid.uuid4().hex[:8]
        rng = random.Random(args.seed)

        # Warm both workers (imports, first queries) before timing anything.
        run_parallel(
            20, 2, lambda i: client.post("/api/v1/generations/", payload(f"warm-{run_token}-{i}", rng))
        )

        singles = [payload(f"s-{run_token}-{i}", rng) for i in range(args.single)]
        single_s = run_parallel(
            args.single, args.clients, lambda i: client.post("/api/v1/generations/", singles[i])
        )

        bulk_prefix = f"b-{run_token}-"
        batches = [
            {"items": [payload(f"{bulk_prefix}{b}-{i}", rng) for i in range(1000)]}
            for b in range(args.bulk_batches)
        ]
        bulk_s = run_parallel(
            args.bulk_batches,
            min(args.clients, 2),
            lambda b: client.post("/api/v1/generations/bulk/", batches[b]),
        )

        copied, copy_s = copy_rows(bulk_prefix, f"c-{run_token}-")
    finally:
        if server is not None:
            stop_server(server)

    single_rate = args.single / single_s
    bulk_rows = args.bulk_batches * 1000
    bulk_rate = bulk_rows / bulk_s
    copy_rate = copied / copy_s
    print(f"CPU cores: {os.cpu_count()}, gunicorn workers: 2, client threads: {args.clients}")
    print(f"single POST   {args.single:>7} rows in {single_s:7.2f} s  {single_rate:10.0f} generations/s")
    print(f"bulk POST     {bulk_rows:>7} rows in {bulk_s:7.2f} s  {bulk_rate:10.0f} generations/s")
    print(f"psycopg COPY  {copied:>7} rows in {copy_s:7.2f} s  {copy_rate:10.0f} generations/s")
    print(
        f"bulk / single {bulk_rate / single_rate:6.1f}x   copy / bulk {copy_rate / bulk_rate:6.1f}x   "
        f"copy / single {copy_rate / single_rate:6.1f}x"
    )


if __name__ == "__main__":
    main()
