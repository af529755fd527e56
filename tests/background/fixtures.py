"""Fixtures for tests that run a real worker: import them into the test module."""

from __future__ import annotations

import pytest
from django.db import connection

from tenancy import rls
from tests.background.harness import Receiver, Worker

PROCRASTINATE_TABLES = (
    "procrastinate_periodic_defers",
    "procrastinate_events",
    "procrastinate_jobs",
    "procrastinate_workers",
)


def _truncate_queue():
    # TRUNCATE is the tables' owner's (the app role may only read and write rows).
    with rls.database_owner(), connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(PROCRASTINATE_TABLES)} CASCADE")


@pytest.fixture
def empty_queue(transactional_db):
    """A queue with no job, worker or periodic record (Django's flush leaves these unmanaged
    tables alone, so one test's jobs would otherwise run in the next one's worker)."""
    _truncate_queue()
    yield
    _truncate_queue()


@pytest.fixture
def start_worker(empty_queue):
    """``start_worker(**options) -> Worker``, started and stopped (SIGTERM) after the test."""
    workers: list[Worker] = []

    def start(**options) -> Worker:
        worker = Worker(name=f"worker{len(workers) + 1}", **options)
        workers.append(worker)
        return worker.wait_started()

    yield start
    for worker in workers:
        worker.close()


@pytest.fixture
def make_receiver():
    """``make_receiver(statuses=[...], hold=Event) -> Receiver`` on 127.0.0.1, closed afterwards."""
    receivers: list[Receiver] = []

    def make(**options) -> Receiver:
        receiver = Receiver(**options)
        receivers.append(receiver)
        return receiver

    yield make
    for receiver in receivers:
        receiver.close()
