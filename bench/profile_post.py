"""CPU profile of ``POST /api/v1/generations/`` in-process, through the real middleware stack.

    .venv/bin/python bench/profile_post.py                    # 2,000 POSTs, top 40 by cumulative time
    .venv/bin/python bench/profile_post.py --requests 500 --sort tottime --top 60 --out /tmp/post.prof

Starts a throwaway embedded PostgreSQL (``--pgdata``, deleted first) on production settings
(``bench._harness.production_env``: DEBUG off, persistent connection), migrates it, syncs prices,
makes an organization and an API key (``bench.ingest.prepare_database``), then calls Django's
WSGI application directly with the bench's payloads (``bench.ingest.payload``), as gunicorn's
worker would, without sockets. It reports the Python CPU time per request (``process_time``,
PostgreSQL's own work runs in another process) without the profiler, then again under cProfile
with its table (CPU time: waiting for PostgreSQL or for a busy CPU counts nothing). The profile
is saved with ``--out`` for ``python -m pstats``.
"""

from __future__ import annotations

import argparse
import atexit
import cProfile
import json
import os
import pstats
import random
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import end_on_signals, production_env, wsgi_call  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000, help="POSTs timed (and profiled)")
    parser.add_argument("--warm", type=int, default=200, help="POSTs before timing (imports, caches)")
    parser.add_argument("--sort", default="cumulative", help="pstats sort key (cumulative, tottime …)")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--out", help="write the cProfile data here")
    parser.add_argument("--no-profile", action="store_true", help="only the CPU time, no cProfile pass")
    parser.add_argument("--pgdata", default=str(Path(tempfile.gettempdir()) / "inkwell-profile-pg"))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    pgdata = Path(args.pgdata)
    shutil.rmtree(pgdata, ignore_errors=True)
    from config.embedded_postgres import remove_embedded_database

    atexit.register(remove_embedded_database, pgdata)
    end_on_signals()
    os.environ.update(production_env(pgdata))
    from bench.ingest import payload, prepare_database

    api_key, _ = prepare_database(pgdata)
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
    rng = random.Random(args.seed)
    token = uuid.uuid4().hex[:8]
    statuses: dict[str, int] = {}

    def post(request_id: str) -> None:
        body = json.dumps(payload(request_id, rng)).encode()
        status, _ = wsgi_call(application, "POST", "/api/v1/generations/", api_key=api_key, body=body)
        statuses[status] = statuses.get(status, 0) + 1

    for i in range(args.warm):
        post(f"warm-{token}-{i}")
    statuses.clear()

    # In chunks of 100: on a shared box the CPU time of a chunk grows when other processes
    # thrash the caches, so the fastest chunks are the steadiest figure of our own cost.
    chunks: list[float] = []
    cpu, wall = time.process_time(), time.perf_counter()
    for start in range(0, args.requests, 100):
        chunk = time.process_time()
        for i in range(start, min(start + 100, args.requests)):
            post(f"plain-{token}-{i}")
        chunks.append((time.process_time() - chunk) / (min(start + 100, args.requests) - start))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    chunks.sort()
    print(f"without profiler: {args.requests} POSTs, statuses {statuses}")
    print(
        f"  Python CPU {cpu / args.requests * 1e6:,.0f} µs/request (chunks of 100: fastest "
        f"{chunks[0] * 1e6:,.0f}, median {chunks[len(chunks) // 2] * 1e6:,.0f}), "
        f"wall {wall / args.requests * 1e6:,.0f} µs"
    )

    if args.no_profile:
        return
    statuses.clear()
    # CPU time, not wall time: waits for PostgreSQL (and for the CPU on a busy box) are not ours.
    profiler = cProfile.Profile(time.process_time_ns, 1e-9)
    profiler.enable()
    for i in range(args.requests):
        post(f"profiled-{token}-{i}")
    profiler.disable()
    print(f"under cProfile: statuses {statuses}")
    if args.out:
        profiler.dump_stats(args.out)
    stats = pstats.Stats(profiler)
    stats.sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
