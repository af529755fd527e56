"""Serializer fields that resolve ids inside the caller's organization."""

from rest_framework import serializers

from tenancy.context import request_organization, scope_to_organization


class TenantPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A FK id from a payload, looked up only among the caller's organization's rows.

    Another tenant's id answers exactly like an id that does not exist (400, "does not
    exist"), so ids never leak. ``allow_global=True`` also admits shared rows whose
    ``organization`` is null (global style guides, verticals). Soft-deleted rows are excluded by
    the model's default manager.
    """

    def __init__(self, *, allow_global: bool = False, **kwargs):
        self.allow_global = allow_global
        super().__init__(**kwargs)

    def get_queryset(self):
        queryset = super().get_queryset()
        request = self.context.get("request")
        organization = request_organization(request) if request is not None else None
        return scope_to_organization(queryset, organization, include_global=self.allow_global)
