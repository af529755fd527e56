"""The base viewset every tenant API uses: scoped reads, audited writes, soft delete, restore."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from tenancy import services
from tenancy.actors import Actor, actor_from_request
from tenancy.context import request_organization, scope_to_organization
from tenancy.models import Organization, SoftDeleteModel


class TenantViewSetMixin:
    """Scopes every query to the caller's organization.

    - ``get_queryset`` filters by ``organization`` (plus global rows, read-only, when
      ``include_global = True``): another tenant's object is a 404, never a 403.
    - ``perform_create`` sets ``organization`` from the caller, never from the payload.
    - writes go through :func:`tenancy.services.audited_save`, so each is validated
      (``full_clean``) and audited; apps with richer rules override ``perform_*`` and call
      their own services.
    - FK ids in payloads resolve through ``TenantPrimaryKeyRelatedField``.
    """

    include_global = False
    # Integer primary keys: anything else in the URL is a 404 before a query is attempted.
    lookup_value_regex = "[0-9]+"

    @property
    def organization(self) -> Organization:
        return request_organization(self.request)

    @property
    def actor(self) -> Actor:
        return actor_from_request(self.request)

    def scope_queryset(self, queryset):
        return scope_to_organization(queryset, self.organization, include_global=self.include_global)

    def get_queryset(self):
        return self.scope_queryset(super().get_queryset())

    def perform_create(self, serializer):
        instance = serializer.Meta.model(organization=self.organization, **self._plain_fields(serializer))
        services.audited_save(organization=self.organization, actor=self.actor, instance=instance)
        self._set_many_to_many(instance, serializer)
        serializer.instance = instance

    def perform_update(self, serializer):
        instance = serializer.instance
        before = services.audit_snapshot(instance)
        for name, value in self._plain_fields(serializer).items():
            setattr(instance, name, value)
        services.audited_save(
            organization=self.organization, actor=self.actor, instance=instance, before=before
        )
        self._set_many_to_many(instance, serializer)

    def perform_destroy(self, instance):
        if isinstance(instance, SoftDeleteModel):
            services.soft_delete(organization=self.organization, actor=self.actor, instance=instance)
        else:
            instance.delete()

    @staticmethod
    def _many_to_many_names(serializer) -> set[str]:
        return {field.name for field in serializer.Meta.model._meta.many_to_many}

    def _plain_fields(self, serializer) -> dict:
        m2m = self._many_to_many_names(serializer)
        return {name: value for name, value in serializer.validated_data.items() if name not in m2m}

    def _set_many_to_many(self, instance, serializer):
        for name in self._many_to_many_names(serializer) & set(serializer.validated_data):
            getattr(instance, name).set(serializer.validated_data[name])


class TenantModelViewSet(TenantViewSetMixin, viewsets.ModelViewSet):
    """List, retrieve, create, update and (soft) delete inside the caller's organization."""


class TenantReadOnlyViewSet(TenantViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """List and retrieve inside the caller's organization (plus global rows if configured)."""


class RestoreMixin:
    """``POST {id}/restore/`` brings back a soft-deleted row of the caller's organization.

    Restoring a live row is a no-op answered 200, so clients can retry safely.
    """

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None):
        model = self.get_queryset().model
        instance = get_object_or_404(self.scope_queryset(model.all_objects.all()), pk=pk)
        self.check_object_permissions(request, instance)
        if instance.is_deleted:
            services.restore(organization=self.organization, actor=self.actor, instance=instance)
        return Response(self.get_serializer(instance).data, status=status.HTTP_200_OK)
