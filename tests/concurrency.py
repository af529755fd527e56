"""Running test code on real threads released at the same moment."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import connection


def at_once(count: int, call):
    """Run ``call(i)`` in ``count`` threads released together; returns the results in order.

    Each thread has its own database connection (Django's are per thread), closed when it ends
    so the test database can be dropped afterwards.
    """
    barrier = threading.Barrier(count)

    def run(index):
        try:
            barrier.wait(timeout=30)
            return call(index)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))
