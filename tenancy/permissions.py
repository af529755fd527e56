"""Permission classes shared by every tenant API."""

from rest_framework import permissions

from tenancy.choices import Role
from tenancy.context import request_organization, request_role, role_at_least


def role_needed_message(needed: str, current: str | None) -> str:
    """Say which role a write needs and which one the caller has, so an editor key on an
    admin-only endpoint knows what to ask for (not just "read only")."""
    return f"This action needs the {needed} role or higher; the caller's role is {current or 'none'}."


class IsOrganizationMember(permissions.BasePermission):
    """The caller acts for an organization; viewers may only read.

    Global rows (``organization`` is null: shared verticals, providers, global style guides)
    are read-only to every tenant.
    """

    message = "You are not a member of an active organization (send X-Organization to choose one)."

    def has_permission(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return False
        if request_organization(request) is None:
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        needed = getattr(view, "write_role", Role.EDITOR)
        if not role_at_least(request, needed):
            self.message = role_needed_message(needed, request_role(request))
            return False
        return True

    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS:
            return True
        if hasattr(obj, "organization_id") and obj.organization_id is None:
            self.message = "Global rows are read-only to organizations."
            return False
        return True
