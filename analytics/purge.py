"""The GDPR purge: erase one user's content and personal fields across apps, keep the money.

A user reference (``user_ref``) is the client's id for one of its users. Purging it, in one
transaction per organization:

- generations: content, prompt, raw request and response, metadata, parameters, error text and
  branch name are blanked and ``user_ref`` cleared; the rows stay, with their tokens and cost,
  so cost totals and rollup rebuilds stay right (anonymous);
- runs: prompt and error details blanked, ``user_ref`` cleared;
- provider calls: ``user_ref`` and error message cleared; performance metrics of the user's
  generations lose their validation errors and cache key;
- the user's own budgets and AI preferences are deleted (they describe only that person);
- rollups move the user's groups into the anonymous groups (``user_ref = ''``), adding up;
- archived copies (retention) of those rows are scrubbed the same way;
- audit events that recorded the reference have it replaced by ``[purged]``;
- one ``purge`` audit event records what was erased, naming the user only by a keyed hash.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from analytics import rollups
from analytics.models import ArchivedRecord, PerformanceMetric, ProviderCall
from generations.models import Generation, GenerationRun
from generations.services import retention as generation_retention
from providers import services as provider_services
from providers.models import AIPreference, Budget
from tenancy import services as tenancy_services
from tenancy.actors import SYSTEM, Actor
from tenancy.bulk import rows_update
from tenancy.choices import AuditAction
from tenancy.models import AuditEvent, Organization

PURGED = "[purged]"
# Field values a purge writes, per model: content and personal fields, never tokens or costs
# (generations' and runs' are theirs: generations.services.retention).
PROVIDER_CALL_ERASED = {"user_ref": None, "error_message": ""}
METRIC_ERASED = {"validation_errors": [], "cache_key": ""}
ARCHIVE_ERASED = {
    "generations.generation": generation_retention.GENERATION_ERASED,
    "generations.generationrun": generation_retention.RUN_ERASED,
    "analytics.providercall": PROVIDER_CALL_ERASED,
    "analytics.performancemetric": METRIC_ERASED,
}


def user_ref_digest(user_ref: str) -> str:
    """A keyed hash naming a purged user in the audit log without the reference itself."""
    return hmac.new(settings.SECRET_KEY.encode(), user_ref.encode(), hashlib.sha256).hexdigest()[:32]


@dataclass
class PurgeOutcome:
    """Rows a purge erased (or would erase, in a dry run) in one organization."""

    organization: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _organizations_with(user_ref: str) -> list[Organization]:
    ids = set(Generation.all_objects.filter(user_ref=user_ref).values_list("organization_id", flat=True))
    ids |= set(ProviderCall.objects.filter(user_ref=user_ref).values_list("organization_id", flat=True))
    ids |= set(GenerationRun.all_objects.filter(user_ref=user_ref).values_list("organization_id", flat=True))
    ids |= set(Budget.all_objects.filter(user_ref=user_ref).values_list("organization_id", flat=True))
    ids |= set(AIPreference.all_objects.filter(user_ref=user_ref).values_list("organization_id", flat=True))
    ids |= set(
        ArchivedRecord.objects.filter(data__fields__user_ref=user_ref).values_list(
            "organization_id", flat=True
        )
    )
    return list(Organization.objects.filter(pk__in=ids).order_by("pk"))


def _scrub_archive(organization: Organization, user_ref: str) -> int:
    """Erase the user from archived copies: their rows, and metrics of their generations."""
    records = list(
        ArchivedRecord.objects.select_for_update().filter(
            organization=organization, data__fields__user_ref=user_ref
        )
    )
    generation_ids = [int(r.object_id) for r in records if r.model_label == "generations.generation"]
    records += list(
        ArchivedRecord.objects.select_for_update().filter(
            organization=organization,
            model_label="analytics.performancemetric",
            data__fields__generation__in=generation_ids,
        )
    )
    records = list({record.pk: record for record in records}.values())  # a record matched twice
    for record in records:
        erased = ARCHIVE_ERASED.get(record.model_label, {"user_ref": None})
        fields = record.data.get("fields", {})
        for name, value in erased.items():
            if name in fields:
                fields[name] = value
    rows_update(model=ArchivedRecord, rows=records, fields=["data"])
    return len(records)


def _scrub_audit_log(organization: Organization, user_ref: str) -> int:
    """Replace the reference in audit events that recorded it (a budget's or preference's)."""
    events = list(
        AuditEvent.objects.select_for_update().filter(
            organization=organization, changes__user_ref__contains=[user_ref]
        )
    )
    for event in events:
        if isinstance(event.changes.get("user_ref"), list):
            event.changes["user_ref"] = [
                PURGED if value == user_ref else value for value in event.changes["user_ref"]
            ]
        event.object_repr = event.object_repr.replace(user_ref, PURGED)
    rows_update(model=AuditEvent, rows=events, fields=["changes", "object_repr"])
    return len(events)


@transaction.atomic
def user_purge_organization(
    *, organization: Organization, user_ref: str, actor: Actor = SYSTEM, dry_run: bool = False
) -> PurgeOutcome:
    """Erase ``user_ref`` in ``organization`` (see the module docstring), in one transaction,
    and audit it. ``dry_run`` counts what would be erased and writes nothing."""
    if not user_ref:
        raise ValueError("Name the user reference to purge.")
    generation_ids = list(
        Generation.all_objects.filter(organization=organization, user_ref=user_ref).values_list(
            "pk", flat=True
        )
    )
    metrics = PerformanceMetric.objects.filter(organization=organization, generation_id__in=generation_ids)
    calls = ProviderCall.objects.filter(organization=organization, user_ref=user_ref)
    outcome = PurgeOutcome(organization=organization.slug)
    mine = {"organization": organization, "user_ref": user_ref, "dry_run": dry_run}
    if dry_run:
        would_erase = generation_retention.generations_user_erase(**mine)
        outcome.counts = {
            "generations": would_erase["generations"],
            "performance_metrics": metrics.count(),
            "runs": would_erase["runs"],
            "provider_calls": calls.count(),
            **provider_services.user_settings_purge(**mine),
        }
        return outcome
    outcome.counts = {
        # Metrics first: they are found through the generations' ids, not the reference.
        "performance_metrics": metrics.update(**METRIC_ERASED),
        **generation_retention.generations_user_erase(**mine),
        "provider_calls": calls.update(**PROVIDER_CALL_ERASED),
        **provider_services.user_settings_purge(**mine),
        "rollup_groups": rollups.rollups_anonymise_user(organization=organization, user_ref=user_ref),
        "archived_records": _scrub_archive(organization, user_ref),
        "audit_events": _scrub_audit_log(organization, user_ref),
    }
    tenancy_services.audit_record(
        organization=organization,
        actor=actor,
        action=AuditAction.PURGE,
        object_type="user_ref",
        object_id=user_ref_digest(user_ref),
        changes={name: [None, count] for name, count in outcome.counts.items()},
    )
    return outcome


def user_purge(
    *,
    user_ref: str,
    organizations: Iterable[Organization] | None = None,
    actor: Actor = SYSTEM,
    dry_run: bool = False,
) -> list[PurgeOutcome]:
    """Purge ``user_ref`` in each of ``organizations`` (default: every organization where it
    appears), one transaction and one audit event per organization."""
    chosen = list(organizations) if organizations is not None else _organizations_with(user_ref)
    return [
        user_purge_organization(organization=organization, user_ref=user_ref, actor=actor, dry_run=dry_run)
        for organization in chosen
    ]
