"""Writes of the providers app. Each validates, writes, audits (never with secret values) and
returns the row, in one transaction."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from providers.choices import CredentialStatus
from providers.crypto import store_secret
from providers.metering import snapshot_from_units
from providers.models import (
    AIModel,
    AIPreference,
    Budget,
    ModelPrice,
    PreferredModel,
    Provider,
    ProviderCredential,
)
from providers.price_sync import snapshot_prices_as_columns
from providers.selectors import model_resolve
from tenancy import services as audit
from tenancy.actors import SYSTEM, Actor
from tenancy.choices import AuditAction
from tenancy.errors import Conflict, DomainError
from tenancy.models import Organization

MIN_API_KEY_LENGTH = 16
MAX_API_KEY_LENGTH = 4096


def api_key_clean(api_key: str) -> str:
    """Keys are opaque strings; surrounding whitespace is a copy-paste accident, not key."""
    if not isinstance(api_key, str) or not api_key.strip():
        raise DomainError("The API key may not be empty.", code="blank", attr="api_key")
    api_key = api_key.strip()
    if len(api_key) < MIN_API_KEY_LENGTH:
        # Shorter keys are not real provider keys, and their last four would be most of them.
        raise DomainError(
            f"The API key is shorter than {MIN_API_KEY_LENGTH} characters.", code="min_length", attr="api_key"
        )
    if len(api_key) > MAX_API_KEY_LENGTH:
        raise DomainError(f"The API key is longer than {MAX_API_KEY_LENGTH} characters.", attr="api_key")
    if any(character.isspace() for character in api_key):
        raise DomainError("The API key may not contain whitespace.", attr="api_key")
    return api_key


@transaction.atomic
def credential_create(
    *,
    organization: Organization,
    actor: Actor = SYSTEM,
    provider: Provider,
    name: str,
    api_key: str,
    expires_at: datetime.datetime | None = None,
) -> ProviderCredential:
    """Store a provider API key for ``organization``, encrypted; the audit event names it by
    fingerprint only."""
    credential = ProviderCredential(
        organization=organization, provider=provider, name=name, expires_at=expires_at
    )
    store_secret(
        credential,
        "api_key_encrypted",
        api_key_clean(api_key),
        last4_field="last4",
        fingerprint_field="fingerprint",
    )
    return audit.audited_save(organization=organization, actor=actor, instance=credential)


@transaction.atomic
def credential_update(
    *, organization: Organization, actor: Actor = SYSTEM, credential: ProviderCredential, **fields
) -> ProviderCredential:
    """Change a credential's name, expiry or status (``api_key`` goes through
    :func:`credential_rotate`). Revoking through here is audited as a revoke."""
    unknown = set(fields) - {"name", "expires_at", "status"}
    if unknown:
        raise DomainError(f"Cannot change {', '.join(sorted(unknown))} here.", attr=sorted(unknown)[0])
    revoking = (
        fields.get("status") == CredentialStatus.REVOKED and credential.status != CredentialStatus.REVOKED
    )
    return audit.tenant_row_update(
        organization=organization,
        actor=actor,
        instance=credential,
        audit_action=AuditAction.REVOKE if revoking else None,
        **fields,
    )


@transaction.atomic
def credential_rotate(
    *, organization: Organization, actor: Actor = SYSTEM, credential: ProviderCredential, api_key: str
) -> ProviderCredential:
    """Replace a credential's API key (the provider-side key changed); audited as a rotation.
    A revoked credential is final: 409, nothing stored."""
    if credential.status == CredentialStatus.REVOKED:
        raise Conflict("This credential is revoked, which is final; add a new one.", attr="status")
    api_key = api_key_clean(api_key)
    before = audit.audit_snapshot(credential)
    store_secret(
        credential, "api_key_encrypted", api_key, last4_field="last4", fingerprint_field="fingerprint"
    )
    credential.rotated_at = timezone.now()
    return audit.audited_save(
        organization=organization, actor=actor, instance=credential, before=before, action=AuditAction.ROTATE
    )


@transaction.atomic
def credential_revoke(
    *, organization: Organization, actor: Actor = SYSTEM, credential: ProviderCredential
) -> ProviderCredential:
    """Stop using a credential for good; the row stays for its history."""
    if credential.status == CredentialStatus.REVOKED:
        return credential
    return credential_update(
        organization=organization, actor=actor, credential=credential, status=CredentialStatus.REVOKED
    )


# --- Budgets -----------------------------------------------------------------------------------


def _check_credential_owner(organization: Organization, credential: ProviderCredential | None) -> None:
    if credential is not None and credential.organization_id != organization.pk:
        # Same answer as an id that does not exist: ids never leak across tenants.
        raise DomainError("No such credential.", code="does_not_exist", attr="credential")


@transaction.atomic
def budget_create(*, organization: Organization, actor: Actor = SYSTEM, **fields) -> Budget:
    """Create a budget (validated against the database's constraints first, for clear errors)."""
    _check_credential_owner(organization, fields.get("credential"))
    budget = Budget(organization=organization, **fields)
    return audit.audited_save(organization=organization, actor=actor, instance=budget)


@transaction.atomic
def budget_update(*, organization: Organization, actor: Actor = SYSTEM, budget: Budget, **fields) -> Budget:
    """Change a budget's scope or limits."""
    if "credential" in fields:
        _check_credential_owner(organization, fields["credential"])
    before = audit.audit_snapshot(budget)
    for name, value in fields.items():
        setattr(budget, name, value)
    return audit.audited_save(organization=organization, actor=actor, instance=budget, before=before)


# --- AI preferences ----------------------------------------------------------------------------


def _resolve_preferred(preferred_models) -> list[tuple[AIModel, Decimal]]:
    """``[(AIModel, weight)]`` from ``[{"model": name or AIModel, "provider": slug, "weight": w}]``.

    Names resolve through :func:`providers.selectors.model_resolve` (canonical name or alias);
    an unknown, inactive or repeated model is refused, naming it.
    """
    seen = set()
    resolved = []
    for index, entry in enumerate(preferred_models):
        model = entry["model"]
        if not isinstance(model, AIModel):
            provider = entry.get("provider") or None
            found = model_resolve(name=model, provider=provider)
            if found is None:
                where = f" of provider {provider!r}" if provider else ""
                raise DomainError(
                    f"Unknown model {model!r}{where} (preferred_models[{index}]).",
                    code="unknown_model",
                    attr="preferred_models",
                )
            model = found
        weight = Decimal(entry.get("weight", 1))
        if model.pk in seen:
            raise DomainError(f"{model} is listed twice.", code="duplicate", attr="preferred_models")
        if not model.is_active:
            raise DomainError(f"{model} is not active.", code="inactive_model", attr="preferred_models")
        seen.add(model.pk)
        resolved.append((model, weight))
    return resolved


def _preferred_label(model: AIModel, weight: Decimal) -> str:
    """How the audit log names one preferred model (``provider/model*weight``); an update
    compares the lists before and after in this form."""
    return f"{model.provider.slug}/{model.name}*{weight.normalize()}"


def _write_preferred(preference: AIPreference, preferred: list[tuple[AIModel, Decimal]]) -> list[str]:
    PreferredModel.objects.filter(preference=preference).delete()
    rows = [
        PreferredModel(
            organization_id=preference.organization_id,
            preference=preference,
            model=model,
            weight=weight,
            position=i,
        )
        for i, (model, weight) in enumerate(preferred)
    ]
    for row in rows:
        row.full_clean(exclude=["preference", "organization"])
    PreferredModel.objects.bulk_create(rows)
    return [_preferred_label(model, weight) for model, weight in preferred]


@transaction.atomic
def ai_preference_create(
    *, organization: Organization, actor: Actor = SYSTEM, preferred_models=(), **fields
) -> AIPreference:
    """Create the organization's (``user_ref`` None) or a user's AI preference."""
    preferred = _resolve_preferred(preferred_models)
    preference = AIPreference(organization=organization, **fields)
    return audit.audited_save(
        organization=organization,
        actor=actor,
        instance=preference,
        related_changes=lambda: {"preferred_models": [None, _write_preferred(preference, preferred)]},
    )


@transaction.atomic
def ai_preference_update(
    *,
    organization: Organization,
    actor: Actor = SYSTEM,
    preference: AIPreference,
    preferred_models=None,
    **fields,
) -> AIPreference:
    """Change a preference; ``preferred_models`` (when given) replaces the whole list."""
    before = audit.audit_snapshot(preference)
    before_models = [
        _preferred_label(row.model, row.weight)
        for row in preference.preferred_models.select_related("model__provider").order_by("position", "id")
    ]
    for name, value in fields.items():
        setattr(preference, name, value)

    def preferred_models_change() -> dict:
        if preferred_models is None:
            return {}
        after_models = _write_preferred(preference, _resolve_preferred(preferred_models))
        return {} if after_models == before_models else {"preferred_models": [before_models, after_models]}

    return audit.audited_save(
        organization=organization,
        actor=actor,
        instance=preference,
        before=before,
        related_changes=preferred_models_change,
    )


ADMIN_PRICE_SOURCE = "admin"


@transaction.atomic
def model_price_change(
    *, model: AIModel, prices: dict[str, Decimal | None], actor: Actor = SYSTEM
) -> ModelPrice | None:
    """Give ``model`` a new price version from now on, with ``prices`` (convenience columns of
    :class:`ModelPrice`, e.g. ``{"input_usd_per_mtok": Decimal("2.5")}``; ``None`` removes a unit).

    Prices are history: the version in force is closed at now (what it priced stays priced as
    it was) and a new one opens with the same genai-prices ``units``, the given units replaced
    (a replaced unit loses its tiers: a hand-typed price is one rate), so the metering core
    prices it like a synced one. Audited. Returns the new version, or ``None`` when nothing
    changes. A later ``sync_model_prices`` replaces it if genai-prices disagrees.
    """
    now = timezone.now()
    versions = ModelPrice.objects.select_for_update().filter(model=model)
    current = versions.valid_at(now).first()
    units = dict(current.price_units()) if current else {}
    changes = {}
    for column, value in prices.items():
        key = ModelPrice.COLUMN_UNITS[column]
        before = getattr(current, column) if current else None
        if (before is None and value is None) or (
            before is not None and value is not None and Decimal(before) == Decimal(value)
        ):
            continue
        changes[column] = [None if before is None else str(before), None if value is None else str(value)]
        if value is None:
            units.pop(key, None)
        else:
            units[key] = str(value)
    if not changes:
        return None
    # The new version ends where the current one did (a scheduled future version stays).
    valid_to = current.valid_to if current else None
    if current is None:
        upcoming = versions.filter(valid_from__gt=now).order_by("valid_from").first()
        valid_to = upcoming.valid_from if upcoming else None
    else:
        current.valid_to = now
        current.save(update_fields=["valid_to", "updated_at"])
    columns = snapshot_prices_as_columns(snapshot_from_units(units))
    columns["units"] = units  # daily intervals (``time_of_day``) included
    price = ModelPrice(model=model, valid_from=now, valid_to=valid_to, source=ADMIN_PRICE_SOURCE, **columns)
    price.full_clean()
    price.save()
    audit.audit_record(
        organization=None, actor=actor, action=AuditAction.UPDATE, instance=price, changes=changes
    )
    return price


def user_settings_purge(
    *, organization: Organization, user_ref: str, dry_run: bool = False
) -> dict[str, int]:
    """Hard-delete ``user_ref``'s budgets and AI preferences in ``organization`` (the GDPR purge,
    ``analytics.purge``; deleted rows included). Returns the rows per kind (``dry_run``: the rows
    that would go, nothing deleted). Runs in the caller's transaction; the caller audits."""
    budgets = Budget.all_objects.filter(organization=organization, user_ref=user_ref)
    preferences = AIPreference.all_objects.filter(organization=organization, user_ref=user_ref)
    if dry_run:
        return {"budgets": budgets.count(), "ai_preferences": preferences.count()}
    return {"budgets": budgets.hard_delete()[0], "ai_preferences": preferences.hard_delete()[0]}
