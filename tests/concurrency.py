"""Running test code on real threads released at the same moment, and on a second session."""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import connection, connections


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


@contextlib.contextmanager
def second_connection(alias, **settings):
    """Another connection of this backend under its own alias (so ``using=alias`` scopes it),
    with ``settings`` laid over the default's; closed and unregistered on exit."""
    wrapper = type(connections["default"])({**connection.settings_dict, **settings}, alias)
    connections[alias] = wrapper
    try:
        yield wrapper
    finally:
        wrapper.close()
        wrapper.close_pool()
        del connections[alias]
