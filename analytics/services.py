"""Writes of the analytics app: provider-call and performance-metric ingestion, cleanup
preferences and weekly summaries.

Every function takes ``organization`` first, runs in one transaction, audits what people change
(ingested calls record the key that wrote them instead, DESIGN §3) and
adds its rows to the rollups in that same transaction (``analytics.rollups``), so a report never
sees a row its rollup has not counted, or the reverse. A single provider call is one statement
instead: its INSERT carries its rollup writes (``tenancy.idempotency.WrittenWith``).

Idempotency is ``tenancy.idempotency``'s, as for generations: a provider call's key is its
``request_id``, a performance metric's the generation it describes (one metric per generation);
a replay with the same body answers the first row and writes nothing, another body is a 409,
and a race meets the unique constraint.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from analytics import rollups
from analytics.choices import ErrorType
from analytics.models import (
    CleanupPreferences,
    GenerationModelDailyRollup,
    PerformanceMetric,
    ProviderCall,
    WeeklySummary,
)
from generations.models import Generation
from providers.credentials import fingerprint_of_digest
from providers.metering import Meter, check_occurred_at
from tenancy import services as tenancy_services
from tenancy.actors import SYSTEM, Actor
from tenancy.errors import DomainError
from tenancy.idempotency import IdempotentIngest, Recorded
from tenancy.models import Organization

PROVIDER_CALL_INGEST = IdempotentIngest(
    model=ProviderCall, constraint="provider_call_unique_request_id_per_org"
)
# A metric's key is its generation (one metric per generation; the one-to-one's unique index).
METRIC_INGEST = IdempotentIngest(
    model=PerformanceMetric,
    constraint="analytics_performancemetric_generation_id_key",
    key="generation",
    describe=lambda generation: f"The metrics of generation {generation.pk}",
)
TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
CALL_RELATION_FIELDS = frozenset(
    field.name for field in ProviderCall._meta.concrete_fields if field.is_relation
)


def error_type_for(status_code: int | None) -> str:
    """The error type a failed call's HTTP status implies, when the client names none."""
    if status_code in (408, 504):
        return ErrorType.TIMEOUT
    if status_code == 429:
        return ErrorType.RATE_LIMIT
    if status_code in (401, 403):
        return ErrorType.AUTH
    if status_code is not None and 500 <= status_code <= 599:
        return ErrorType.SERVER_ERROR
    if status_code is not None and 400 <= status_code <= 499:
        return ErrorType.INVALID_REQUEST
    return ErrorType.OTHER


def _check_own_generation(generation: Generation, organization: Organization) -> None:
    """Refuse a generation of another organization as an unknown id would be (no leak)."""
    if generation.organization_id != organization.pk:
        raise DomainError(
            "No such generation in this organization.", code="does_not_exist", attr="generation"
        )


# --- provider calls ---------------------------------------------------------------------------


def provider_call_record(
    *,
    organization: Organization,
    actor: Actor = SYSTEM,
    values: dict[str, Any],
    fingerprint: str,
    checked_fields: frozenset[str] = frozenset(),
) -> Recorded:
    """Record one provider API call, idempotently by ``values["request_id"]``, metered at
    ``occurred_at`` (default now, never in the future) by ``providers.metering``, and count it in
    the rollups.

    ``values`` are validated field values (``generation`` already scoped to ``organization``),
    plus optional ``usage`` (a provider usage object instead of the token fields) and
    ``total_tokens``. ``key_fingerprint`` arrives as the SHA-256 hex of the provider key and is
    stored as its fingerprint (``providers.credentials.fingerprint_of_digest``). ``success``
    defaults to "a 2xx or 3xx status came back"; a failed call with no ``error_type`` gets the
    one its status implies (:func:`error_type_for`). ``checked_fields``: the fields whose values
    the caller's serializer checked as the model would (``tenancy.api.checked_fields``), not
    checked again while the call holds them unchanged.
    """

    # No look-up first: a new request_id is one INSERT … ON CONFLICT (tenancy.idempotency).
    def build() -> ProviderCall:
        return _build_call(
            organization=organization,
            actor=actor,
            values=values,
            meter=Meter(),
            now=timezone.now(),
            checked_fields=checked_fields,
        )

    # One statement, no transaction of its own: the INSERT with its rollup writes, which happen
    # only if it writes the row. Not audited: an ingested row records the key that wrote it
    # (DESIGN §3).
    return PROVIDER_CALL_INGEST.record(
        organization=organization,
        key=values["request_id"],
        fingerprint=fingerprint,
        build=build,
        add_writes=lambda call, written_with: rollups.rollups_count_provider_calls(
            calls=[call], written_with=written_with
        ),
    )


MAX_BULK_CALLS = 1000


def provider_call_bulk_record(
    *,
    organization: Organization,
    actor: Actor = SYSTEM,
    items: list[dict[str, Any]],
    fingerprints: list[str],
) -> list[Recorded]:
    """Record many provider calls (validated values as :func:`provider_call_record` takes them,
    distinct ``request_id``s, at most ``MAX_BULK_CALLS``) all or nothing, with the same rules.

    One query finds the replays, one meter prices the batch, one insert writes the new rows and
    one rollup update counts them. A refused item raises a ``DomainError`` naming it
    (``items.<index>.<field>``, detail ``Item <index>: …``) and nothing is written, so a caller
    can drop it and try again (``generations.integrations.recording.batch_record`` does). If a
    concurrent request records one of the keys meanwhile, the batch runs once more and that key
    is a replay.
    """
    if len(items) > MAX_BULK_CALLS:
        raise DomainError(f"At most {MAX_BULK_CALLS} calls at once.", attr="items")
    return PROVIDER_CALL_INGEST.retrying(
        lambda: _bulk_record_calls_once(
            organization=organization, actor=actor, items=items, fingerprints=fingerprints
        )
    )


def _bulk_record_calls_once(*, organization, actor, items, fingerprints) -> list[Recorded]:
    results = PROVIDER_CALL_INGEST.replays(
        organization=organization, keys=[item["request_id"] for item in items], fingerprints=fingerprints
    )
    meter, now = Meter(), timezone.now()
    new: list[ProviderCall] = []
    for index, values in enumerate(items):
        if results[index] is not None:
            continue
        try:
            call = _build_call(organization=organization, actor=actor, values=values, meter=meter, now=now)
        except DomainError as exc:
            raise DomainError(
                f"Item {index}: {exc.detail}",
                code=exc.code,
                attr=f"items.{index}.{exc.attr or 'non_field_errors'}",
            ) from exc
        except DjangoValidationError as exc:
            name, messages = next(iter(exc.message_dict.items()))
            raise DomainError(f"Item {index}: {messages[0]}", attr=f"items.{index}.{name}") from exc
        call.request_fingerprint = fingerprints[index]
        new.append(call)
        results[index] = Recorded(call, created=True)
    if new:
        ProviderCall.objects.bulk_create(new)
        # Not audited: an ingested row records the key that wrote it (DESIGN §3).
        rollups.rollups_count_provider_calls(calls=new)
    return results


def _build_call(
    *,
    organization: Organization,
    actor: Actor,
    values: dict[str, Any],
    meter: Meter,
    now: datetime.datetime,
    checked_fields: frozenset[str] = frozenset(),
) -> ProviderCall:
    """An unsaved, metered and validated provider call from validated ``values`` (see
    :func:`provider_call_record` for what they hold, the defaults applied and
    ``checked_fields``)."""
    checked_values = values
    values = dict(values)
    generation = values.get("generation")
    if generation is not None:
        _check_own_generation(generation, organization)
    usage_payload = values.pop("usage", None)
    total_tokens = values.pop("total_tokens", None)
    tokens = {name: values.pop(name) for name in TOKEN_FIELDS if name in values}
    if values.get("key_fingerprint"):
        # The client sends the key's SHA-256 (all it can compute); stored and shown is the keyed
        # fingerprint credentials carry, so budgets by credential match and no unsalted hash is kept.
        values["key_fingerprint"] = fingerprint_of_digest(values["key_fingerprint"])
    call = ProviderCall(organization=organization, recorded_by_key=actor.api_key, **values)
    if call.occurred_at is None:
        call.occurred_at = now
    check_occurred_at(occurred_at=call.occurred_at, now=now)
    call.recorded_with_generation = generation is not None
    if not call.content_type and generation is not None:
        call.content_type = generation.content_type
    if values.get("success") is None:
        call.success = call.status_code is not None and 200 <= call.status_code <= 399
    if not call.success and not call.error_type:
        call.error_type = error_type_for(call.status_code)
    if call.success and call.error_type:
        # The serializer says so when ``success`` is sent; here it follows from the status.
        raise DomainError(
            f"A successful call (status {call.status_code}) has no error type; send success: false.",
            attr="error_type",
        )

    call.model = meter.model(call.model_name, call.provider_name)
    # The provider the client named, when we know it (Azure reselling an OpenAI model is Azure).
    call.provider = meter.provider(call.provider_name) or (call.model.provider if call.model else None)
    if usage_payload is not None:
        call.client_usage = usage_payload
    meter.measure(
        provider_name=call.provider_name,
        model=call.model,
        at=call.occurred_at,
        usage_object=usage_payload,
        tokens=tokens,
        attr="usage" if usage_payload is not None else "cache_read_tokens",
    ).apply(call)
    if total_tokens is not None:
        call.total_tokens = total_tokens
    # Relations are instances resolved already (the generation inside the organization, the
    # catalogue rows by the meter, the caller's key): validating them again costs a query each.
    tenancy_services.clean_unchecked_fields(
        call, exclude=CALL_RELATION_FIELDS, checked=checked_fields, values=checked_values
    )
    return call


# --- performance metrics ----------------------------------------------------------------------


@transaction.atomic
def performance_metric_record(
    *,
    organization: Organization,
    actor: Actor = SYSTEM,
    generation: Generation,
    values: dict[str, Any],
    fingerprint: str,
) -> Recorded:
    """Record the performance metrics of one generation (one per generation, idempotent) and
    add its cache hit and retries to the generation's daily rollup group."""
    _check_own_generation(generation, organization)

    def build() -> PerformanceMetric:
        metric = PerformanceMetric(
            organization=organization, generation=generation, recorded_by_key=actor.api_key, **values
        )
        metric.clean_fields(exclude=["recorded_by_key"])  # the caller's own key: no query
        return metric

    # No look-up first: a generation's first metrics are one INSERT … ON CONFLICT.
    recorded = METRIC_INGEST.record(
        organization=organization, key=generation, fingerprint=fingerprint, build=build
    )
    if not recorded.created:
        return recorded
    # Not audited: the metric records the key that wrote it (DESIGN §3).
    metric = recorded.instance
    rollups.rollups_count_metric(metric=metric, generation=generation)
    return recorded


# --- cleanup preferences ----------------------------------------------------------------------


@transaction.atomic
def cleanup_preferences_update(
    *, organization: Organization, actor: Actor = SYSTEM, values: dict[str, Any]
) -> CleanupPreferences:
    """Set an organization's retention preferences (each may only shorten the platform's
    default; null returns to it). Validated (``full_clean``) and audited."""
    preferences = CleanupPreferences.objects.select_for_update().filter(
        organization=organization
    ).first() or CleanupPreferences(organization=organization)
    before = tenancy_services.audit_snapshot(preferences) if preferences.pk else None
    for name, value in values.items():
        setattr(preferences, name, value)
    return tenancy_services.audited_save(
        organization=organization, actor=actor, instance=preferences, before=before
    )


def cleanup_preferences_for(*, organization: Organization) -> CleanupPreferences:
    """The organization's preferences (an unsaved all-default row when it has none)."""
    return CleanupPreferences.objects.filter(organization=organization).first() or CleanupPreferences(
        organization=organization
    )


# --- weekly summaries -------------------------------------------------------------------------


def week_start_of(day: datetime.date) -> datetime.date:
    """The Monday of ``day``'s ISO week."""
    return day - datetime.timedelta(days=day.weekday())


def _rate(part: int, whole: int) -> Decimal | None:
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001")) if whole else None


def _change(now: Decimal | int, before: Decimal | int) -> Decimal | None:
    if not before:
        return None
    return ((Decimal(now) - Decimal(before)) / Decimal(before)).quantize(Decimal("0.0001"))


def _week_totals(organization: Organization, week_start: datetime.date) -> dict[str, Any]:
    rows = GenerationModelDailyRollup.objects.filter(
        organization=organization, day__gte=week_start, day__lt=week_start + datetime.timedelta(days=7)
    )
    totals = rows.aggregate(
        requests=Sum("requests", default=0),
        successes=Sum("successes", default=0),
        failures=Sum("failures", default=0),
        cost_usd=Sum("cost_usd", default=Decimal(0)),
        unpriced_requests=Sum("unpriced_requests", default=0),
        total_tokens=Sum("total_tokens", default=0),
    )
    top = (
        rows.values("provider_name", "model_name")
        .annotate(requests=Sum("requests"), cost=Sum("cost_usd"))
        .order_by("-cost", "-requests", "model_name", "provider_name")[:5]
    )
    totals["top_models"] = [
        {
            "model": row["model_name"],
            "provider": row["provider_name"],
            "requests": row["requests"],
            "cost_usd": format(row["cost"], "f"),
        }
        for row in top
    ]
    return totals


@transaction.atomic
def weekly_summary_write(*, organization: Organization, week_start: datetime.date, actor: Actor = SYSTEM):
    """Write (or rewrite) ``organization``'s summary of the week starting ``week_start`` (a
    Monday) from the daily rollups: volume, cost, top models, failure rate, and the change
    against the week before. Idempotent: the same rollups give the same row."""
    if week_start.weekday() != 0:
        raise DomainError("A week starts on a Monday.", attr="week_start")
    this = _week_totals(organization, week_start)
    before = _week_totals(organization, week_start - datetime.timedelta(days=7))
    failure_rate = _rate(this["failures"], this["requests"])
    previous_failure_rate = _rate(before["failures"], before["requests"])
    fields = {
        "requests": this["requests"],
        "successes": this["successes"],
        "failures": this["failures"],
        "failure_rate": failure_rate,
        "cost_usd": this["cost_usd"],
        "unpriced_requests": this["unpriced_requests"],
        "total_tokens": this["total_tokens"],
        "top_models": this["top_models"],
        "previous_requests": before["requests"],
        "previous_cost_usd": before["cost_usd"],
        "previous_failure_rate": previous_failure_rate,
        "requests_change_pct": _change(this["requests"], before["requests"]),
        "cost_change_pct": _change(this["cost_usd"], before["cost_usd"]),
        "failure_rate_change": (
            failure_rate - previous_failure_rate
            if failure_rate is not None and previous_failure_rate is not None
            else None
        ),
    }
    summary = (
        WeeklySummary.objects.select_for_update()
        .filter(organization=organization, week_start=week_start)
        .first()
    )
    before_snapshot = tenancy_services.audit_snapshot(summary) if summary else None
    summary = summary or WeeklySummary(organization=organization, week_start=week_start)
    for name, value in fields.items():
        setattr(summary, name, value)
    return tenancy_services.audited_save(
        organization=organization, actor=actor, instance=summary, before=before_snapshot
    )
