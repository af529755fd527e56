"""Behaviour only a real multi-worker server shows: one throttle shared by the workers, and a
database that disappears under it and comes back (issue 11)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import TypeVar

import pytest
from django.db import connection

from tenancy import services
from tenancy.choices import APIKeyRole
from tenancy.models import RateCounter
from tests.factories import OrganizationFactory
from tests.livesite import DatabaseRelay, Gunicorn, relayed_database_url

pytestmark = pytest.mark.django_db(transaction=True)

RATE = 60
T = TypeVar("T")


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory):
    """One gunicorn (two workers) for the module; each test's rows are committed
    (``transaction=True``) so the workers see them, and flushed afterwards."""
    relay = DatabaseRelay(connection.settings_dict)
    gunicorn = Gunicorn(
        database_url=relayed_database_url(relay.port),
        workdir=tmp_path_factory.mktemp("gunicorn"),
        env={"API_THROTTLE_RATE": f"{RATE}/min", "API_AUTH_FAILURE_RATE": "10/min"},
    )
    gunicorn.relay = relay
    yield gunicorn
    gunicorn.stop()
    relay.cut()


def new_key(role=APIKeyRole.EDITOR) -> str:
    organization = OrganizationFactory()
    _, plain = services.api_key_create(organization=organization, name="live", role=role)
    return plain


def within_one_window(attempt: Callable[[], T]) -> T:
    """``attempt()``'s answer from a run inside one throttle window (a minute): a run that
    straddled a minute boundary is run again, once (``attempt`` starts from nothing each time: a
    new key, or the counters cleared). Two runs in a row cannot both straddle one."""
    for _attempt in range(2):
        window = int(time.time() // 60)
        answer = attempt()
        if int(time.time() // 60) == window:
            return answer
    raise AssertionError("two runs in a row straddled a minute boundary: each took over a minute?")


def test_two_workers_share_one_throttle(server):
    def attempt():
        key = new_key()
        return key, [server.request("GET", "/api/v1/widgets/", key=key)[0] for _ in range(2 * RATE + 10)]

    key, statuses = within_one_window(attempt)
    assert Counter(statuses) == {200: RATE, 429: RATE + 10}
    status, headers, body = server.request("GET", "/api/v1/widgets/", key=key)
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert body["errors"][0]["code"] == "throttled"
    workers = {line.split()[0] for line in server.access_log.read_text().splitlines() if " 200 " in line}
    assert len(workers) == 2, "both workers served (and counted) requests"


def test_failed_authentication_is_throttled_per_address(server):
    good = new_key()

    def attempt():
        # A second run's window already counts the first run's tail: start from nothing.
        RateCounter.objects.filter(key__startswith="throttle:auth_failure:").delete()
        statuses = [server.request("GET", "/api/v1/widgets/", key=f"guess.{n:040d}")[0] for n in range(12)]
        # Past the limit, even a right key from that address waits: guessing cannot go on.
        return statuses, server.request("GET", "/api/v1/widgets/", key=good)

    statuses, (status, headers, body) = within_one_window(attempt)
    assert statuses == [401] * 10 + [429] * 2
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert body["errors"][0]["code"] == "throttled"


def test_database_down_is_a_503_with_retry_after_and_recovers_without_restart(server):
    key = new_key()
    assert server.request("GET", "/api/v1/widgets/", key=key)[0] == 200

    server.relay.cut()
    for path in ("/api/v1/widgets/", "/api/v1/generations/", "/api/v1/reports/cost/"):
        status, headers, body = server.request("GET", path, key=key)
        assert status == 503, (path, body)
        assert headers["Content-Type"] == "application/json"
        assert int(headers["Retry-After"]) >= 1
        assert body["errors"][0]["code"] == "database_unavailable"
    status, headers, body = server.request(
        "POST", "/api/v1/widgets/", key=key, body={"name": "x", "slug": "x"}
    )
    assert (status, body["errors"][0]["code"]) == (503, "database_unavailable")
    status, headers, _ = server.request("GET", "/api/v1/health/")
    assert status == 503 and "Retry-After" in headers

    server.relay.restore()
    assert server.request("GET", "/api/v1/widgets/", key=key)[0] == 200
    assert server.request("GET", "/api/v1/health/")[0] == 200
