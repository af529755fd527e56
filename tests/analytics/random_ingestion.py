"""Random ingestion through the services, shared by the tests that compare what the rollups (and
the budgets reading them) say with an aggregate of the raw rows."""

from __future__ import annotations

import datetime
import random

from analytics import services
from generations import services as generation_services
from generations.models import Generation, GenerationRun
from tests.analytics.factories import fingerprint_of

UTC = datetime.UTC
DAY = datetime.timedelta(days=1)
START = datetime.datetime(2026, 2, 1, tzinfo=UTC)
MODELS = [
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini"),
    ("anthropic", "claude-sonnet-4-0"),
    ("", "homegrown"),
]
USERS = [None, "ana", "ben", "chloé"]
STATUSES = ["success"] * 6 + ["failed", "partial", "cancelled", "pending"]
KEYS = ["", fingerprint_of("key-a"), fingerprint_of("key-b")]


def random_moment(rng: random.Random, start: datetime.datetime, end: datetime.datetime) -> datetime.datetime:
    """A moment in ``[start, end)``: often exactly midnight, or a microsecond before, to test the
    edges of UTC days."""
    moment = start + datetime.timedelta(
        microseconds=rng.randrange(int((end - start) / datetime.timedelta(microseconds=1)))
    )
    edge = rng.random()
    if edge < 0.15:
        moment = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    elif edge < 0.25:
        moment = moment.replace(hour=23, minute=59, second=59, microsecond=999_999)
    return min(max(moment, start), end - datetime.timedelta(microseconds=1))


def ingest_random(
    organizations,
    rng: random.Random,
    at,
    *,
    generations: int,
    calls: int,
    start: datetime.datetime = START,
    end: datetime.datetime = START + 10 * DAY,
    keys: list[str] = KEYS,
) -> list[Generation]:
    """Record ``generations`` generations and ``calls`` provider calls of random
    ``organizations`` in ``[start, end)``, as clients do, through the services; ``at`` is the
    fixture that moves ``timezone.now()``.

    Every fifth row falls on the window's last day (a budget's "today"), the others anywhere,
    often on a midnight. Generations: some in runs, some replayed, some reporting that they
    happened hours before they were recorded; then, at ``end``, most pending ones finished (their
    cost changes: negative rollup deltas), half given metrics, some soft-deleted. Provider calls
    of every outcome, made with one of ``keys``, a third linked to a generation of their
    organization (deleted ones too). Returns the generations.
    """
    last_day = (end - datetime.timedelta(microseconds=1)).replace(hour=0, minute=0, second=0, microsecond=0)

    def moment(n: int) -> datetime.datetime:
        return random_moment(rng, start, end) if n % 5 else random_moment(rng, max(start, last_day), end)

    runs = {
        org.pk: [GenerationRun.objects.create(organization=org) for _ in range(3)] for org in organizations
    }
    created = []
    for n in range(generations):
        organization = rng.choice(organizations)
        provider, model = rng.choice(MODELS)
        recorded_at = moment(n)
        at(recorded_at)
        values = {
            "request_id": f"gen-{n}",
            "provider_name": provider,
            "model_name": model,
            "content_type": rng.choice(["blog", "social", "name"]),
            "user_ref": rng.choice(USERS),
            "status": rng.choice(STATUSES),
            "input_tokens": rng.randrange(100, 20_000),
            "output_tokens": rng.randrange(10, 2_000),
            "generation_time_ms": rng.choice([None, rng.randrange(100, 9_000)]),
            "run": rng.choice([None, *runs[organization.pk]]),
            # When it happened may be hours before it was recorded: rollups and budgets count by
            # created_at.
            "occurred_at": recorded_at - datetime.timedelta(hours=rng.choice([0, 0, 5, 30])),
        }
        recorded = generation_services.generation_record(
            organization=organization, values=values, fingerprint=f"fp-{n}"
        )
        if rng.random() < 0.1:  # a replay writes nothing and counts nothing
            generation_services.generation_record(
                organization=organization, values=values, fingerprint=f"fp-{n}"
            )
        created.append(recorded.instance)
    at(end)
    for generation in created:
        if generation.status == "pending" and rng.random() < 0.7:  # finishing it prices it anew
            generation_services.generation_update(
                organization=generation.organization,
                generation=generation,
                values={
                    "status": rng.choice(["success", "failed"]),
                    "input_tokens": rng.randrange(100, 5_000),
                    "output_tokens": rng.randrange(10, 500),
                    "generation_time_ms": rng.randrange(100, 12_000),
                },
            )
        if rng.random() < 0.5:
            retries = rng.choice([0, 0, 1, 3])
            services.performance_metric_record(
                organization=generation.organization,
                generation=generation,
                values={"cache_hit": rng.random() < 0.3, "retry_count": retries, "total_duration_ms": 900},
                fingerprint=f"metric-{generation.pk}",
            )
        if rng.random() < 0.1:  # spend is spend: deleting refunds nothing, moves no rollup
            generation_services.generation_delete(organization=generation.organization, generation=generation)
    by_organization: dict[int, list[Generation]] = {}
    for generation in created:
        by_organization.setdefault(generation.organization_id, []).append(generation)
    for n in range(calls):
        organization = rng.choice(organizations)
        provider, model = rng.choice(MODELS)
        status_code = rng.choice([200] * 8 + [429, 500, None])
        linkable = by_organization.get(organization.pk)
        services.provider_call_record(
            organization=organization,
            values={
                "request_id": f"call-{n}",
                "endpoint": "/v1/chat/completions",
                "provider_name": provider,
                "model_name": model,
                "input_tokens": rng.randrange(0, 9_000),
                "output_tokens": rng.randrange(0, 900),
                "api_latency_ms": rng.choice([None, rng.randrange(50, 12_000)]),
                "status_code": status_code,
                "success": None if status_code is not None else False,
                "error_type": "" if status_code is not None else "timeout",
                "occurred_at": moment(n),
                "user_ref": rng.choice(USERS),
                "key_fingerprint": rng.choice(keys),
                "generation": rng.choice([None, None, rng.choice(linkable)]) if linkable else None,
            },
            fingerprint=f"call-fp-{n}",
        )
    return created
