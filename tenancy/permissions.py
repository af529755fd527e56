"""Permission classes shared by every tenant API."""

from rest_framework import permissions

from tenancy.choices import Role
from tenancy.context import request_organization, role_at_least


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
        if not role_at_least(request, getattr(view, "write_role", Role.EDITOR)):
            self.message = "Your role may only read."
            return False
        return True

    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS:
            return True
        if hasattr(obj, "organization_id") and obj.organization_id is None:
            self.message = "Global rows are read-only to organizations."
            return False
        return True
