"""Writes of the tenancy app, and the audit service every app's writes go through."""

from __future__ import annotations

import datetime
import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from tenancy.actors import SYSTEM, Actor
from tenancy.choices import APIKeyRole, AuditAction, Role
from tenancy.errors import Conflict
from tenancy.models import AuditEvent, Membership, Organization, OrganizationAPIKey
from tenancy.slugs import slug_for, unique_slug

SECRET_PLACEHOLDER = "[secret changed]"  # noqa: S105 - a label, not a secret
_json = DjangoJSONEncoder()


class _SecretMark(str):
    """A snapshot entry standing for a secret value: an HMAC of it, so a change can be detected
    without the audit log ever holding the value (or an unkeyed hash of it)."""


def _secret_fields(instance: models.Model) -> set[str]:
    """Fields a model declares secret (``audit_secret_fields``); their values are never recorded."""
    return set(getattr(instance, "audit_secret_fields", ()))


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return value
    return _json.default(value)


def audit_snapshot(instance: models.Model | None) -> dict[str, Any]:
    """The concrete field values of ``instance`` as JSON-able data, secrets masked."""
    if instance is None:
        return {}
    secret = _secret_fields(instance)
    snapshot = {}
    for field in instance._meta.concrete_fields:
        value = getattr(instance, field.attname)
        if field.name in secret:
            digest = hmac.new(settings.SECRET_KEY.encode(), str(value).encode(), hashlib.sha256)
            snapshot[field.name] = _SecretMark(digest.hexdigest())
            continue
        try:
            snapshot[field.name] = _jsonable(value)
        except TypeError:
            snapshot[field.name] = str(value)
    return snapshot


def audit_diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """``{field: [old, new]}`` for every field whose value differs (``updated_at`` ignored).

    A changed secret is recorded as ``["[secret]", "[secret changed]"]``, never with values.
    """
    changes = {}
    for name in sorted(set(before) | set(after)):
        if name == "updated_at":
            continue
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if isinstance(old, _SecretMark) or isinstance(new, _SecretMark):
            changes[name] = [None if old is None else "[secret]", SECRET_PLACEHOLDER]
        else:
            changes[name] = [old, new]
    return changes


def audit_record(
    *,
    organization: Organization | None,
    actor: Actor,
    action: str,
    instance: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    changes: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event. The only function that writes ``AuditEvent`` rows.

    Callers pass ``changes`` built with :func:`audit_diff` (secrets already masked) or a dict of
    their own that holds no secret values.
    """
    if instance is not None:
        object_type = object_type or instance._meta.label_lower
        object_id = object_id or str(getattr(instance, "audit_object_id", instance.pk))
    return AuditEvent.objects.create(
        organization=organization,
        user=actor.user,
        api_key=actor.api_key,
        actor_label=actor.label[:200],
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_repr=str(instance)[:200] if instance is not None else "",
        changes=changes or {},
        request_id=actor.request_id[:100],
    )


@transaction.atomic
def audited_save(
    *,
    organization: Organization | None,
    actor: Actor,
    instance: models.Model,
    before: dict[str, Any] | None = None,
    action: str | None = None,
    related_changes: Callable[[], dict[str, list]] | None = None,
) -> models.Model:
    """Validate (``full_clean``), save and audit one row: the generic write path.

    ``before`` is the :func:`audit_snapshot` taken before the caller changed the instance; when
    it is ``None`` the save is a create. ``related_changes``, when given, runs after the save
    (the row has its id) to write rows that hang off it, and returns their ``{name: [before,
    after]}`` for the same audit event.
    """
    creating = before is None
    instance.full_clean()
    instance.save()
    changes = audit_diff(before or {}, audit_snapshot(instance))
    if related_changes is not None:
        changes.update(related_changes())
    audit_record(
        organization=organization,
        actor=actor,
        action=action or (AuditAction.CREATE if creating else AuditAction.UPDATE),
        instance=instance,
        changes=changes,
    )
    return instance


_MISSING = object()


def clean_unchecked_fields(
    instance: models.Model,
    *,
    exclude: Iterable[str] = (),
    checked: Iterable[str] = (),
    values: Mapping[str, object] = {},
) -> None:
    """``instance.clean_fields()`` but for ``exclude`` and each of ``checked`` (names of fields an
    input serializer checks as the model would: ``tenancy.api.checked_fields``) whose value on
    ``instance`` is still the very object ``values`` (what the serializer returned) holds for it:
    a value the service replaced since is checked."""
    skip = set(exclude)
    state = instance.__dict__
    for name in checked:
        if name in values and state.get(name, _MISSING) is values[name]:
            skip.add(name)
    instance.clean_fields(exclude=skip)


@transaction.atomic
def tenant_row_create(
    *, organization: Organization | None, actor: Actor, model: type[models.Model], **fields
) -> models.Model:
    """Create a row of ``model`` owned by ``organization`` with ``fields`` (a missing ``slug``
    derived from ``name``), validated and audited: what an app without richer rules uses."""
    if not fields.get("slug") and fields.get("name") and any(f.name == "slug" for f in model._meta.fields):
        fields["slug"] = slug_for(model, organization=organization, name=fields["name"])
    return audited_save(
        organization=organization, actor=actor, instance=model(organization=organization, **fields)
    )


@transaction.atomic
def tenant_row_update(
    *,
    organization: Organization | None,
    actor: Actor,
    instance: models.Model,
    audit_action: str | None = None,
    **fields,
) -> models.Model:
    """Change ``fields`` of ``instance``, validated and audited (as ``audit_action`` when given,
    such as a revoke, else as an update). Named apart from ``fields`` so a model may have a field
    called ``action``."""
    before = audit_snapshot(instance)
    for name, value in fields.items():
        setattr(instance, name, value)
    return audited_save(
        organization=organization, actor=actor, instance=instance, before=before, action=audit_action
    )


def _audit_deleted_at(
    organization: Organization | None, actor: Actor, instance: models.Model, action: str, *, before
) -> None:
    """Audit a soft delete or a restore: the change of ``deleted_at`` from ``before``."""
    changes = [moment.isoformat() if moment else None for moment in (before, instance.deleted_at)]
    audit_record(
        organization=organization,
        actor=actor,
        action=action,
        instance=instance,
        changes={"deleted_at": changes},
    )


def _lock_deleted_at(instance: models.Model) -> None:
    """Lock ``instance``'s row and read its ``deleted_at`` as committed: two requests deleting (or
    restoring) one row at once act once, the second finding it done."""
    instance.deleted_at = (
        type(instance)
        ._base_manager.select_for_update()
        .filter(pk=instance.pk)
        .values_list("deleted_at", flat=True)
        .first()
    )


@transaction.atomic
def soft_delete(*, organization: Organization | None, actor: Actor, instance: models.Model) -> None:
    """Soft-delete a row and audit it; a row already deleted stays as it was (one audit event, and
    its ``deleted_at`` keeps the moment it was deleted)."""
    _lock_deleted_at(instance)
    if instance.deleted_at is not None:
        return
    instance.delete()
    _audit_deleted_at(organization, actor, instance, AuditAction.DELETE, before=None)


@transaction.atomic
def restore(*, organization: Organization | None, actor: Actor, instance: models.Model) -> None:
    """Restore a soft-deleted row and audit it.

    A partial unique constraint may refuse it (a live row took the slug meanwhile): that is a
    :class:`~tenancy.errors.Conflict` (409) saying which, checked first so that the admin's
    restore action can report it too; a race past the check still meets the database constraint
    (an IntegrityError, a 409 through the API exception handler). Restoring a live row does
    nothing (no audit event).
    """
    _lock_deleted_at(instance)
    deleted_at = instance.deleted_at
    if deleted_at is None:
        return
    instance.deleted_at = None
    try:
        instance.validate_constraints()
    except ValidationError as exc:
        instance.deleted_at = deleted_at
        raise Conflict(
            f"{instance._meta.verbose_name} {instance.pk} cannot be restored: {' '.join(exc.messages)}"
        ) from None
    instance.restore()
    _audit_deleted_at(organization, actor, instance, AuditAction.RESTORE, before=deleted_at)


@transaction.atomic
def organization_create(*, name: str, slug: str = "", actor: Actor = SYSTEM) -> Organization:
    """Create an organization (slug derived from the name when not given) and audit it."""
    organization = Organization(name=name, slug=slug or unique_slug(Organization.objects.all(), name))
    return audited_save(organization=None, actor=actor, instance=organization)


@transaction.atomic
def membership_add(*, organization: Organization, user, role: str = Role.EDITOR, actor: Actor = SYSTEM):
    """Give ``user`` a role in ``organization`` (updating it if they are already a member)."""
    membership, _ = Membership.objects.update_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    audit_record(
        organization=organization,
        actor=actor,
        action=AuditAction.UPDATE,
        instance=membership,
        changes={"role": [None, role]},
    )
    return membership


@transaction.atomic
def api_key_create(
    *,
    organization: Organization,
    name: str,
    role: str = APIKeyRole.EDITOR,
    expiry_date: datetime.datetime | None = None,
    actor: Actor = SYSTEM,
) -> tuple[OrganizationAPIKey, str]:
    """Create an API key; returns the row and the plain key, which is never retrievable again."""
    api_key = OrganizationAPIKey(organization=organization, name=name, role=role, expiry_date=expiry_date)
    plain_key = OrganizationAPIKey.objects.assign_key(api_key)
    audited_save(organization=organization, actor=actor, instance=api_key)
    return api_key, plain_key


@transaction.atomic
def api_key_revoke(*, api_key: OrganizationAPIKey, actor: Actor = SYSTEM) -> OrganizationAPIKey:
    """Revoke an API key for good (djangorestframework-api-key forbids un-revoking)."""
    if not api_key.revoked:
        before = audit_snapshot(api_key)
        api_key.revoked = True
        audited_save(
            organization=api_key.organization,
            actor=actor,
            instance=api_key,
            before=before,
            action=AuditAction.REVOKE,
        )
    return api_key


API_KEY_TOUCH_INTERVAL = datetime.timedelta(minutes=1)


def api_key_touch_due(*, api_key: OrganizationAPIKey) -> bool:
    """Whether this copy of the key last recorded a use more than a minute ago."""
    return api_key.last_used_at is None or timezone.now() - api_key.last_used_at > API_KEY_TOUCH_INTERVAL


def api_key_touch(*, api_key: OrganizationAPIKey) -> None:
    """Record that a key was used, at most once a minute so hot keys do not write every call.

    The UPDATE is conditional on the stored value being stale too, so workers that each hold
    a copy of the key write once a minute between them, not once each."""
    if not api_key_touch_due(api_key=api_key):
        return
    now = timezone.now()
    OrganizationAPIKey.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - API_KEY_TOUCH_INTERVAL), pk=api_key.pk
    ).update(last_used_at=now)
    api_key.last_used_at = now
