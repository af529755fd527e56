"""Enumerations of the tenancy app."""

from django.db import models


class Role(models.TextChoices):
    """What a member or an API key may do inside its organization, weakest last."""

    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    EDITOR = "editor", "Editor"
    VIEWER = "viewer", "Viewer"

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

    CREATE = "create", "Create"
    UPDATE = "update", "Update"
    DELETE = "delete", "Soft delete"
    RESTORE = "restore", "Restore"
    HARD_DELETE = "hard_delete", "Hard delete"
    PUBLISH = "publish", "Publish"
    ROTATE = "rotate", "Rotate secret"
    REVOKE = "revoke", "Revoke"
    REPRICE = "reprice", "Reprice"
    PURGE = "purge", "Purge personal data"
    OTHER = "other", "Other"
