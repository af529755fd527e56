"""Garbage-collector pauses in one worker: ``GET`` a path many times in-process and record every
collection the interpreter makes (``gc.callbacks``), with the request latencies around them.

    .venv/bin/python bench/gc_pauses.py                            # GET /api/v1/models/, 600 times
    .venv/bin/python bench/gc_pauses.py --path /api/v1/providers/ --requests 2000
    .venv/bin/python bench/gc_pauses.py --no-freeze                # the application not frozen

Starts a throwaway embedded PostgreSQL (``--pgdata``, deleted first) on production settings,
migrates it, syncs prices (the model catalogue ``models/`` lists) and makes an API key
(``bench.ingest.prepare_database``), then loads the application as gunicorn does (``config.wsgi``,
which freezes what it loaded; ``--no-freeze`` loads it with ``get_wsgi_application`` only) and
calls it without sockets. Prints p50/p95/p99/max of the requests and, per generation, how many
collections ran and how long they paused the request they fell in.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import end_on_signals, percentile, production_env, wsgi_call  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--path", default="/api/v1/models/")
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--no-freeze", action="store_true", help="load without config.wsgi's freeze")
    parser.add_argument("--pgdata", default=str(Path(tempfile.gettempdir()) / "inkwell-gc-pg"))
    args = parser.parse_args()

    pgdata = Path(args.pgdata)
    from config.embedded_postgres import remove_embedded_database

    remove_embedded_database(pgdata)
    atexit.register(remove_embedded_database, pgdata)
    end_on_signals()
    os.environ.update(production_env(pgdata))
    from bench.ingest import prepare_database

    api_key, _ = prepare_database(pgdata)
    if args.no_freeze:
        from django.core.wsgi import get_wsgi_application

        application = get_wsgi_application()
    else:
        from config.wsgi import application

    def get() -> str:
        status, _ = wsgi_call(application, "GET", args.path, api_key=api_key)
        return status

    status = get()  # the first request's one-off work is not what is measured
    if not status.startswith("200"):
        raise SystemExit(f"GET {args.path}: {status}")
    pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
    started: list[float] = []

    def record(phase: str, info: dict) -> None:
        if phase == "start":
            started.append(time.perf_counter())
        else:
            pauses[info["generation"]].append(time.perf_counter() - started.pop())

    gc.callbacks.append(record)
    latencies = []
    for _ in range(args.requests):
        began = time.perf_counter()
        get()
        latencies.append(time.perf_counter() - began)
    gc.callbacks.remove(record)

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.1f}"

    print(
        f"{args.requests} x GET {args.path} ({'not frozen' if args.no_freeze else 'frozen by config.wsgi'}, "
        f"{gc.get_freeze_count():,} objects frozen): p50 {ms(percentile(latencies, 0.5))} "
        f"p95 {ms(percentile(latencies, 0.95))} p99 {ms(percentile(latencies, 0.99))} "
        f"max {ms(max(latencies))} ms"
    )
    for generation, each in pauses.items():
        if each:
            print(
                f"generation {generation}: {len(each)} collections, pause p50 "
                f"{ms(percentile(each, 0.5))} ms, max {ms(max(each))} ms"
            )


if __name__ == "__main__":
    main()
