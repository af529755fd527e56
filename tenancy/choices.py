"""Enumerations of the tenancy app."""

from django.db import models


class Role(models.TextChoices):
    """What a member or an API key may do inside its organization, weakest last."""

    OWNER = "owner"
    ADMIN = "admin"
    EDITOR = "editor"
    VIEWER = "viewer"

    @classmethod
    def rank(cls, role: str) -> int:
        """Higher is stronger: viewer 0 … owner 3."""
        order = [cls.VIEWER, cls.EDITOR, cls.ADMIN, cls.OWNER]
        return order.index(role)


class APIKeyRole(models.TextChoices):
    """Roles an API key can hold; ownership belongs to people, not keys."""

    ADMIN = Role.ADMIN.value, Role.ADMIN.label
    EDITOR = Role.EDITOR.value, Role.EDITOR.label
    VIEWER = Role.VIEWER.value, Role.VIEWER.label


class AuditAction(models.TextChoices):
    """Kinds of event the audit log records."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete", "Soft delete"
    RESTORE = "restore"
    HARD_DELETE = "hard_delete", "Hard delete"
    PUBLISH = "publish"
    ROTATE = "rotate", "Rotate secret"
    REVOKE = "revoke"
    REPRICE = "reprice"
    PURGE = "purge", "Purge personal data"
    OTHER = "other"


class ErrorCode(models.TextChoices):
    """Error codes our code passes by name (``code="unique"``) that no exception, field or
    validator class declares. ``tenancy.api.error_codes.error_codes()`` adds the declared ones; a
    convention test checks every ``code="…"`` in the source is in one or the other."""

    ERROR = "error", "Unexpected server error"
    UNIQUE = "unique", "Conflicts with an existing row"
    DOES_NOT_EXIST = "does_not_exist", "No such object in this organization"
    CONSTRAINT_VIOLATION = "constraint_violation", "Refused by a database constraint"
    CONFLICT = "conflict", "Conflicts with the current state"
    DELETED = "deleted", "A replay of a deleted row"
    UNKNOWN_FIELD = "unknown_field", "Unknown body field"
    UNKNOWN_PARAMETER = "unknown_parameter", "Unknown query parameter"
    REPEATED_PARAMETER = "repeated_parameter", "Query parameter given more than once"
    INVALID_TEXT = "invalid_text", "NUL or a lone surrogate in text"
    INVALID_NUMBER = "invalid_number", "A JSON number too large to be finite"
    OUT_OF_BOUNDS = "out_of_bounds", "Date outside the API's window"
    INVALID_RANGE = "invalid_range", "`from` after `to`"
    RANGE_TOO_LONG = "range_too_long", "Date range too long"
    UNKNOWN_MODEL = "unknown_model", "Unknown model"
    INVALID_MODELS = "invalid_models", "Not a list of model names"
    INACTIVE_MODEL = "inactive_model", "Inactive model"
    INACTIVE = "inactive"
    UNKNOWN_SNIPPET = "unknown_snippet", "Unknown context snippet"
    INCLUDE_CYCLE = "include_cycle", "Template includes itself"
    SANDBOX_VIOLATION = "sandbox_violation", "Refused by the template sandbox"
    OUTPUT_TOO_LONG = "output_too_long", "Rendered output too long"
    DUPLICATE = "duplicate", "Duplicate in the request"
    IN_PAST = "in_past", "Moment in the past"
    FUTURE_TIME = "future_time", "Moment in the future"
    BEFORE_OCCURRED_AT = "before_occurred_at", "Before the call happened"
    INVALID_API_KEY = "invalid_api_key", "Invalid API key"
    REVOKED_API_KEY = "revoked_api_key", "Revoked API key"
    EXPIRED_API_KEY = "expired_api_key", "Expired API key"
    INACTIVE_ORGANIZATION = "inactive_organization", "Inactive organization"
