"""Permissions of the styleguides API beyond the tenancy defaults."""

from rest_framework import permissions

from tenancy.context import request_organization


class MayComputeOnReadableRows(permissions.BasePermission):
    """For POST actions that compute without writing (``check``, ``render``): any member of the
    organization, viewers included, may call them on their own rows and on global rows."""

    message = "You are not a member of an active organization (send X-Organization to choose one)."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and request_organization(request) is not None)

    def has_object_permission(self, request, view, obj):
        return True
