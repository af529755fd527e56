"""Ten writers at once, on real threads with their own connections and committed transactions:
the rollups still equal the raw rows, replays racing each other count once, and a rebuild
running in the middle of the stampede loses nothing and counts nothing twice."""

from __future__ import annotations

import datetime
import threading
from collections import Counter

import pytest
from django.utils import timezone

from analytics import rollups
from analytics.models import GenerationDailyRollup, ProviderCall, ProviderCallDailyRollup
from generations.models import Generation
from tenancy.choices import APIKeyRole
from tenancy.rls import rls_bypass
from tests.analytics.factories import rollup_sums
from tests.analytics.test_rollups import (
    raw_call_groups,
    raw_call_model_groups,
    raw_day_groups,
    raw_generation_groups,
    raw_model_groups,
    raw_user_hours,
    rollup_call_groups,
    rollup_call_model_groups,
    rollup_day_groups,
    rollup_generation_groups,
    rollup_model_groups,
    rollup_user_hours,
)
from tests.concurrency import at_once
from tests.conftest import client_for_key

pytestmark = pytest.mark.django_db(transaction=True)
WRITERS = 10
PER_WRITER = 12
CALLED_AT = "2026-03-02T10:20:00Z"


@pytest.fixture
def plain_key(make_api_client, organization):
    return make_api_client(organization, APIKeyRole.EDITOR).plain_key


def write_as(plain_key: str, writer: int) -> list[int]:
    """One writer's requests: every one lands in the same rollup groups as the others', and
    every third one replays a request_id another writer also sends (same body)."""
    client = client_for_key(plain_key)
    codes = []
    for n in range(PER_WRITER):
        shared = n % 3 == 0
        request_id = f"shared-{n}" if shared else f"w{writer}-{n}"
        generation = {
            "request_id": request_id,
            "model": "gpt-4o",
            "provider": "openai",
            "content_type": "blog",
            "user_ref": "ana",
            "status": "failed" if n % 4 == 0 else "success",
            "input_tokens": 1000 + n,
            "output_tokens": 100 + n,
            "generation_time_ms": 500 + 10 * n,
        }
        call = {
            "request_id": request_id,
            "endpoint": "/v1/chat/completions",
            "provider": "openai",
            "model": "gpt-4o",
            "input_tokens": 1000 + n,
            "output_tokens": 100 + n,
            "api_latency_ms": 400 + n,
            "status_code": 429 if n % 5 == 0 else 200,
            "occurred_at": CALLED_AT,
            "user_ref": "ana",
        }
        codes.append(client.post("/api/v1/generations/", generation, format="json").status_code)
        codes.append(client.post("/api/v1/usage/", call, format="json").status_code)
    return codes


def test_ten_concurrent_writers_keep_the_rollups_exact(plain_key, organization, priced_models):
    results = at_once(WRITERS, lambda writer: write_as(plain_key, writer))

    codes = Counter(code for codes in results for code in codes)
    shared = len(range(0, PER_WRITER, 3))
    unique = WRITERS * (PER_WRITER - shared) + shared
    assert codes == {201: 2 * unique, 200: 2 * (WRITERS * PER_WRITER - unique)}, codes
    assert Generation.objects.count() == ProviderCall.objects.count() == unique
    daily = rollup_sums(GenerationDailyRollup)  # every generation fell in one group
    assert daily.requests == unique
    assert rollup_sums(ProviderCallDailyRollup).requests == unique
    assert rollup_generation_groups() == raw_generation_groups()
    assert rollup_call_groups() == raw_call_groups()
    assert rollup_call_model_groups() == raw_call_model_groups()
    assert rollup_model_groups() == raw_model_groups()
    assert rollup_day_groups() == raw_day_groups()
    assert rollup_user_hours() == raw_user_hours()


def test_a_rebuild_during_concurrent_writes_loses_and_doubles_nothing(plain_key, organization, priced_models):
    # Calls are stamped 2026-03-02 by the client, generations today by the server: rebuild both.
    first, last = datetime.date(2026, 3, 2), timezone.now().date()

    done: list[int] = []
    rebuilds: list[int] = []
    lock = threading.Lock()

    def work(index):
        if index == 0:  # rebuild again and again while the writers write; stop when they are done
            while True:
                with lock:
                    if len(done) == WRITERS:
                        return []
                with rls_bypass(reason="test: a rebuild, as the rollup command runs it"):
                    rollups.rollup_rebuild(date_from=first, date_to=last, organizations=[organization])
                rebuilds.append(index)
        try:
            return write_as(plain_key, index)
        finally:
            with lock:
                done.append(index)

    at_once(WRITERS + 1, work)

    assert len(rebuilds) > 3, "the rebuilds ran while the writers wrote"

    assert rollup_call_groups() == raw_call_groups()
    assert rollup_call_model_groups() == raw_call_model_groups()
    assert rollup_model_groups() == raw_model_groups()
    assert rollup_day_groups() == raw_day_groups()
    assert rollup_user_hours() == raw_user_hours()
    assert rollup_generation_groups() == raw_generation_groups()
