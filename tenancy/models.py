"""Organizations, memberships, API keys, the audit log, and the abstract bases every app uses."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from rest_framework_api_key.models import AbstractAPIKey, APIKeyManager

from tenancy.choices import APIKeyRole, AuditAction, Role

# --- Shared abstract bases ------------------------------------------------------------------


class TimeStampedModel(models.Model):
    """Adds ``created_at`` / ``updated_at``, both aware UTC, set by the database write."""

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class SoftDeleteQuerySet(models.QuerySet):
    """Queryset whose ``delete()`` hides rows instead of removing them, in one UPDATE."""

    def delete(self):
        """Soft-delete every row in one statement; returns the number of rows hidden."""
        return self.filter(deleted_at__isnull=True).update(deleted_at=timezone.now())

    delete.alters_data = True
    delete.queryset_only = True

    def restore(self):
        """Bring soft-deleted rows back; returns the number restored."""
        return self.filter(deleted_at__isnull=False).update(deleted_at=None)

    restore.alters_data = True

    def hard_delete(self):
        """Really delete (retention and GDPR purge only); cascades like Django's delete()."""
        return super().delete()

    hard_delete.alters_data = True


class AliveManager(models.Manager.from_queryset(SoftDeleteQuerySet)):
    """Default manager: soft-deleted rows do not exist for it."""

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


class DeletedManager(models.Manager.from_queryset(SoftDeleteQuerySet)):
    """Only the soft-deleted rows (admin's trash, restore)."""

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=False)


class SoftDeleteModel(models.Model):
    """Soft-deletable row: ``objects`` hides deleted rows, ``all_objects`` sees every row.

    Django's ``_base_manager`` is deliberately left unfiltered: forward relations
    (``generation.campaign``) keep resolving to a deleted parent, as history must.
    Unique constraints on subclasses should be partial; use :func:`unique_while_alive`.
    """

    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = AliveManager()
    all_objects = SoftDeleteQuerySet.as_manager()
    deleted_objects = DeletedManager()

    class Meta:
        abstract = True

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def delete(self, using=None, keep_parents=False):
        """Soft delete: set ``deleted_at``; use :meth:`hard_delete` to remove the row."""
        self.deleted_at = timezone.now()
        self.save(update_fields=["deleted_at"])
        return 1, {self._meta.label: 1}

    def restore(self):
        """Undo a soft delete."""
        self.deleted_at = None
        self.save(update_fields=["deleted_at"])

    def validate_constraints(self, exclude=None):
        # ``deleted_at`` is never a form field, so a ModelForm excludes it, and Django skips every
        # constraint whose condition names an excluded field: each ``unique_while_alive``. The
        # admin then met the duplicate only in the service's ``full_clean`` (a 500). The row's own
        # ``deleted_at`` is always known, so the partial constraints are checked with it.
        if exclude:
            exclude = set(exclude) - {"deleted_at"}
        super().validate_constraints(exclude=exclude)

    def hard_delete(self):
        """Remove the row for good, cascading as Django's delete() does."""
        return super().delete()


def unique_while_alive(*fields: str, name: str, **options) -> models.UniqueConstraint:
    """A unique constraint that ignores soft-deleted rows, so a deleted slug can be reused.

    ``full_clean`` reports a violation as a readable 400 naming the fields; a race past it
    still meets the database constraint (a 409 through the API exception handler).
    """
    named = [field for field in fields if field != "organization"]
    scope = " in this organization" if "organization" in fields else ""
    options.setdefault("violation_error_code", "unique")
    options.setdefault(
        "violation_error_message", f"Another live row already has this {' + '.join(named)}{scope}."
    )
    return models.UniqueConstraint(fields=fields, condition=Q(deleted_at__isnull=True), name=name, **options)


class SlugKeyManager(models.Manager):
    """Finds a row by its natural key, the slug."""

    def get_by_natural_key(self, slug):
        return self.get(slug=slug)


class GlobalSlugModel(TimeStampedModel):
    """Global platform data (providers, verticals) named by a unique slug, its natural key: seed
    fixtures loaded again update the rows instead of duplicating them."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)

    objects = SlugKeyManager()

    class Meta:
        abstract = True

    def __str__(self):
        return self.name

    def natural_key(self):
        return (self.slug,)


def null_or_at_least(minimum, *fields: str) -> Q:
    """A check constraint's condition: each of ``fields`` is null or at least ``minimum``."""
    condition = Q()
    for field in fields:
        condition &= Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gte": minimum})
    return condition


class TenantModel(TimeStampedModel):
    """A row owned by exactly one organization; every query of it is scoped by that FK."""

    # PROTECT: organizations are deactivated, never deleted out from under their data.
    # Editable for admin forms; API serializers never list it (the caller's key decides it).
    # No index of its own: every tenant table has one led by ``organization`` that serves its
    # lists and the row-level policy (``tests/test_conventions.py`` holds each to it), so a
    # single-column copy only cost every write.
    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.PROTECT, related_name="+", db_index=False
    )

    class Meta:
        abstract = True


def history_reference(to: str, **options) -> models.ForeignKey:
    """An optional foreign key from a large tenant table to global or immutable history (the
    model catalogue, verticals, published versions).

    PROTECT: history is deactivated or deprecated, never deleted from under the rows that cite
    it. No index of its own: every index of such a table leads with ``organization_id``.
    """
    return models.ForeignKey(
        to, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False, **options
    )


class KeyRecordedModel(models.Model):
    """A row a service ingests through the API, naming the organization API key that wrote it.

    Who wrote the row is its provenance: ingested rows are not audited one by one (DESIGN §3).
    """

    # SET_NULL: deleting a key never deletes what it recorded (spend, metrics). No index: reports
    # group spend by the provider-call key fingerprint; nothing looks rows up by this column.
    recorded_by_key = models.ForeignKey(
        "tenancy.OrganizationAPIKey",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        editable=False,
        help_text="The organization API key that recorded this row (empty for staff and commands).",
    )

    class Meta:
        abstract = True


class IngestedRequestModel(KeyRecordedModel, TenantModel):
    """A row a content service records with its own idempotency key, ``request_id``, once per
    organization (``tenancy.idempotency``; the Meta adds :func:`unique_request_id`), naming the
    client's user when there is one.

    Such tables are large and every index of them leads with ``organization_id``, so the
    organization FK has no index of its own.
    """

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    request_id = models.CharField(max_length=200, help_text="The client's idempotency key.")
    request_fingerprint = models.CharField(
        max_length=64, blank=True, editable=False, help_text="SHA-256 of the body that created the row."
    )
    # Null (not "") when the client names no user: most rows have none, per-user indexes are
    # partial on ``user_ref IS NOT NULL``, and analytics reads "no user" as NULL too.
    user_ref = models.CharField(  # noqa: DJ001
        max_length=200, null=True, blank=True, help_text="The client's user id."
    )

    class Meta:
        abstract = True


class TraceContextModel(models.Model):
    """Where a recorded call sat in the client's own tracing: its W3C trace context (OpenTelemetry
    ids as lowercase hex), so one agent's calls can be listed in order (``?trace_id=``).
    Generations and provider calls keep it alike (``tenancy.api.fields.TraceContextFields``
    validates it). ``db_default`` so rows inserted by code that does not know these columns yet
    (during a deploy) get "", not an error."""

    trace_id = models.CharField(
        max_length=32, blank=True, default="", db_default="", help_text="The client's trace id (32 hex)."
    )
    span_id = models.CharField(
        max_length=16, blank=True, default="", db_default="", help_text="The client's span id (16 hex)."
    )
    parent_span_id = models.CharField(
        max_length=16, blank=True, default="", db_default="", help_text="The span this call ran under."
    )

    class Meta:
        abstract = True


def per_user_index(*newest_first: str, name: str) -> models.Index:
    """The index of one user's rows of a tenant, newest first (``newest_first``: the ordering
    columns): partial, since most rows name no user (``user_ref`` null)."""
    return models.Index(
        fields=["organization", "user_ref", *newest_first], condition=Q(user_ref__isnull=False), name=name
    )


def unique_request_id(name: str) -> models.UniqueConstraint:
    """``(organization, request_id)`` is unique over every row, soft-deleted ones included: a
    request is recorded once, ever (a deleted one is restored, not written again)."""
    return models.UniqueConstraint(
        fields=["organization", "request_id"],
        name=name,
        violation_error_message="This request_id was already recorded in this organization.",
    )


# --- Tenancy models -------------------------------------------------------------------------


class OrganizationQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)


class Organization(TimeStampedModel):
    """A tenant: a customer whose data no other tenant may see."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    is_active = models.BooleanField(
        default=True, help_text="Inactive organizations' API keys and members are refused."
    )

    objects = OrganizationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Membership(TimeStampedModel):
    """A user's role in an organization (owner, admin, editor, viewer)."""

    # CASCADE: a membership means nothing without its user or organization.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.EDITOR)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="membership_unique_user_per_org"),
        ]
        ordering = ["organization", "user"]

    def __str__(self):
        return f"{self.user} in {self.organization} ({self.role})"


class OrganizationAPIKey(AbstractAPIKey):
    """A service's credential for the REST API: hashed, prefixed, revocable, expiring, role-bound.

    The secret is shown once on creation and stored only as a hash (djangorestframework-api-key).
    """

    # PROTECT: keys are revoked, not deleted, so audit events keep their actor.
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="api_keys")
    role = models.CharField(max_length=16, choices=APIKeyRole.choices, default=APIKeyRole.EDITOR)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = APIKeyManager()

    # The primary key embeds the key's hash; the audit log names a key by its prefix only.
    audit_secret_fields = ("id", "hashed_key")

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "Organization API key"
        verbose_name_plural = "Organization API keys"
        indexes = [models.Index(fields=["organization", "-created"], name="apikey_org_created_idx")]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def audit_object_id(self) -> str:
        return self.prefix


class AuditEventQuerySet(models.QuerySet):
    def for_object(self, instance: models.Model):
        return self.filter(object_type=instance._meta.label_lower, object_id=str(instance.pk))


class AuditEvent(models.Model):
    """Append-only record of a sensitive action: who, in which organization, did what, when.

    ``changes`` maps each changed field to ``[old, new]``; secret fields appear only as
    ``"[secret changed]"``, never with values.
    """

    # Nullable: platform actions (price sync, key rotation) belong to no organization.
    # PROTECT: audit history outlives nothing it describes; organizations are deactivated.
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="audit_events"
    )
    # SET_NULL: the actor label below keeps who it was after the user or key is gone.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    api_key = models.ForeignKey(
        OrganizationAPIKey, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="audit_org_created_idx"),
            models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
        ]

    def __str__(self):
        return f"{self.actor_label or 'system'} {self.action} {self.object_type}:{self.object_id}"


# --- Rate limiting --------------------------------------------------------------------------


class RateCounter(models.Model):
    """How many requests one client made in one fixed window of a rate limit.

    Shared by every worker and server because it lives in PostgreSQL (no extra server to run);
    incremented with one atomic ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` so concurrent
    requests never lose a count. ``key`` names the limit and the client (``api_key:key:42``,
    ``auth_failure:ip:203.0.113.9``); rows of past windows are deleted as new ones start.
    Not tenant data: a key may belong to no organization (an unauthenticated address).
    """

    key = models.CharField(max_length=200)
    window_start = models.DateTimeField()
    expires_at = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "window_start"], name="tenancy_ratecounter_key_window"),
        ]
        indexes = [models.Index(fields=["expires_at"], name="tenancy_ratecounter_expires")]

    def __str__(self):
        return f"{self.key} @ {self.window_start:%Y-%m-%d %H:%M:%S}: {self.count}"
