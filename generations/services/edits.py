"""Changes people make to recorded generations: ``generation_update`` (status forward only;
content and usage while not finished), ``generation_delete`` and ``generation_restore``. Each is
audited (values of the small fields, only "changed" for the large ones) and signalled.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from generations.choices import GenerationStatus, RecordedAction
from generations.errors import GenerationFinished, StatusRegression
from generations.models import Generation
from generations.services.ingestion import (
    RELATION_FIELDS,
    TOKEN_FIELDS,
    keep_client_total,
    meter_generation,
    send_recorded,
)
from generations.signals import COUNTED_FIELDS
from providers.metering import Meter, check_occurred_at
from tenancy import services as tenancy_services
from tenancy.actors import SYSTEM, Actor
from tenancy.choices import AuditAction
from tenancy.models import Organization

# What a finished generation may no longer change: its result and what it cost. The provider's
# response is both: its usage is metered again when it changes.
RESULT_FIELDS = frozenset(
    {
        "content",
        "content_format",
        "raw_response",
        *TOKEN_FIELDS,
        "total_tokens",
        "client_cost_usd",
        "generation_time_ms",
    }
)


# Audit events of generations record these values; large fields (content, prompt, raw request
# and response) are recorded as changed, without their values, so the audit log stays small.
AUDITED_VALUES = (
    "request_id",
    "status",
    "model_name",
    "provider_name",
    *TOKEN_FIELDS,
    "total_tokens",
    "cost_usd",
    "cost_status",
    "client_cost_usd",
    "generation_time_ms",
    "occurred_at",
    "completed_at",
    "parent",
    "version",
    "kind",
    "branch_name",
    "error_message",
)
AUDITED_WITHOUT_VALUES = ("content", "prompt", "metadata", "parameters", "raw_request", "raw_response")


def _audit_values(generation: Generation) -> dict[str, Any]:
    snapshot = tenancy_services.audit_snapshot(generation)
    values = {name: snapshot.get(name) for name in AUDITED_VALUES}
    values.update({name: "[set]" for name in AUDITED_WITHOUT_VALUES if getattr(generation, name)})
    return values


def _audit_changes(before: dict[str, Any], generation: Generation, big_before: dict[str, Any]):
    changes = tenancy_services.audit_diff(before, _audit_values(generation))
    for name in AUDITED_WITHOUT_VALUES:
        if big_before[name] != getattr(generation, name):
            changes[name] = ["[before]", "[changed]"]
    return changes


@transaction.atomic
def generation_update(
    *,
    organization: Organization,
    actor: Actor = SYSTEM,
    generation: Generation,
    values: dict[str, Any],
) -> Generation:
    """Change a generation: status forward only, and content/usage while it is not finished.

    Completing a pending generation (``status`` success/partial/failed/cancelled) with content
    and usage (our token fields or ``usage``, a provider usage object) fills them and computes
    the cost at the price valid when it happened (``occurred_at``). A finished generation's result and cost
    never change (:class:`GenerationFinished`); a backwards status is :class:`StatusRegression`.
    """
    generation = Generation.objects.select_for_update().get(pk=generation.pk, organization=organization)
    values = dict(values)
    usage_payload = values.pop("usage", None)
    total_tokens = values.pop("total_tokens", None)
    new_status = values.get("status", generation.status)
    if not GenerationStatus.can_move(generation.status, new_status):
        raise StatusRegression(
            f"Status moves forward only: {generation.status} cannot become {new_status}.", attr="status"
        )
    changes_result = (
        bool(RESULT_FIELDS & set(values)) or usage_payload is not None or total_tokens is not None
    )
    if generation.is_terminal and changes_result:
        raise GenerationFinished(
            f"Generation {generation.pk} is {generation.status}: its content, usage and cost are final."
        )
    before = _audit_values(generation)
    big_before = {name: getattr(generation, name) for name in AUDITED_WITHOUT_VALUES}
    previous = {name: getattr(generation, name) for name in COUNTED_FIELDS}
    for name, value in values.items():
        setattr(generation, name, value)
    if generation.is_terminal and generation.completed_at is None:
        generation.completed_at = timezone.now()
    check_occurred_at(
        occurred_at=generation.occurred_at, now=generation.occurred_at, completed_at=generation.completed_at
    )
    if changes_result:
        sent_tokens = any(name in values for name in TOKEN_FIELDS)
        meter = Meter()
        if usage_payload is None and not sent_tokens and generation.usage:
            # Only the status or content changed: the usage reported before stands.
            meter.remeasure(generation).apply(generation)
            keep_client_total(generation, total_tokens)
        else:
            meter_generation(
                generation,
                meter=meter,
                usage_payload=usage_payload,
                tokens={name: getattr(generation, name) for name in TOKEN_FIELDS} if sent_tokens else None,
                total_tokens=total_tokens,
            )
    generation.clean_fields(exclude=RELATION_FIELDS)
    generation.save()
    changes = _audit_changes(before, generation, big_before)
    if changes:
        tenancy_services.audit_record(
            organization=organization,
            actor=actor,
            action=AuditAction.UPDATE,
            instance=generation,
            changes=changes,
        )
    if any(previous[name] != getattr(generation, name) for name in COUNTED_FIELDS):
        send_recorded(organization, [generation], RecordedAction.UPDATED, {generation.pk: previous})
    return generation


@transaction.atomic
def generation_delete(*, organization: Organization, actor: Actor = SYSTEM, generation: Generation) -> None:
    """Soft-delete a generation: it leaves lists, its tree keeps it, and what it cost stays spent
    (budgets, rollups, reports and weekly summaries still count it). Its ``request_id`` stays
    taken: a replay is a 409 ``deleted`` naming the restore URL."""
    tenancy_services.soft_delete(organization=organization, actor=actor, instance=generation)
    send_recorded(organization, [generation], RecordedAction.DELETED)


@transaction.atomic
def generation_restore(*, organization: Organization, actor: Actor = SYSTEM, generation: Generation) -> None:
    """Bring back a soft-deleted generation (its request_id was never given to another row)."""
    tenancy_services.restore(organization=organization, actor=actor, instance=generation)
    send_recorded(organization, [generation], RecordedAction.RESTORED)
