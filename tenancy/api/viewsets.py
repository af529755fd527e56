"""The base viewset every tenant API uses: scoped reads, service-backed writes, soft delete, restore."""

from __future__ import annotations

import functools

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from tenancy import services
from tenancy.actors import Actor, actor_from_request
from tenancy.api.checked_fields import checked_fields
from tenancy.context import request_organization, scope_to_organization
from tenancy.idempotency import Recorded, request_fingerprint
from tenancy.models import Organization, SoftDeleteModel


def query_action(query_serializer, responses, **action_kwargs):
    """Decorator of a GET action on the collection that answers one object for a query string
    (``budgets/check/``, ``cache/stats/``): its schema documents ``query_serializer``'s fields as
    the parameters and no list filters (the method's docstring is the description), its routing
    skips the filter backends and pagination. The method is called with the validated query
    (``self.validated_query(query_serializer)``) as ``query``."""

    def decorate(method):
        @functools.wraps(method)
        def answer(self, request, *args, **kwargs):
            return method(self, request, *args, query=self.validated_query(query_serializer), **kwargs)

        routed = action(
            detail=False, methods=["get"], filter_backends=[], pagination_class=None, **action_kwargs
        )
        documented = extend_schema(parameters=[query_serializer], responses=responses, filters=False)
        return documented(routed(answer))

    return decorate


class TenantRequestMixin:
    """The caller's organization and actor, for any DRF view (viewsets and plain ``APIView``s)."""

    @property
    def organization(self) -> Organization:
        return request_organization(self.request)

    @property
    def actor(self) -> Actor:
        return actor_from_request(self.request)

    def validated_query(self, serializer_class) -> dict:
        """The request's query string validated by ``serializer_class`` (a bad value is a 400
        naming it), with the view's context, so related fields are scoped to the caller."""
        context = self.get_serializer_context() if hasattr(self, "get_serializer_context") else {}
        query = serializer_class(data=self.request.query_params, context={"request": self.request, **context})
        query.is_valid(raise_exception=True)
        return query.validated_data


class TenantViewSetMixin(TenantRequestMixin):
    """Scopes every query to the caller's organization and writes through the app's services.

    - ``get_queryset`` filters by ``organization`` (plus global rows, read-only, when
      ``include_global = True``): another tenant's object is a 404, never a 403. A viewset whose
      app has a selector for the rows names it instead, ``list_selector``, called with
      ``organization=``.
    - Writes call four hooks, each a service function taking ``organization=`` and ``actor=``:
      ``create_service(**validated_data)``, ``update_service(<row>=row, **validated_data)``,
      ``delete_service(<row>=row)`` and ``restore_service(<row>=row)``, where ``<row>`` is
      ``service_instance_argument`` (``"instance"`` unless the app's services name the row, e.g.
      ``"budget"``). The defaults are tenancy's generic, validated and audited writes
      (a soft delete for soft-deletable rows), so an app
      with richer rules supplies only its services. ``organization`` always comes from the
      caller, never from the payload; FK ids in payloads resolve through
      ``TenantPrimaryKeyRelatedField``.
    - The response of a create or update is the row re-read through ``get_queryset`` (so
      annotations the list shows are there too).
    """

    include_global = False
    # Integer primary keys: anything else in the URL is a 404 before a query is attempted.
    lookup_value_regex = "[0-9]+"

    # The app's selector for the rows, taking ``organization=`` (it scopes them itself).
    list_selector = None
    create_service = None
    update_service = None
    delete_service = None
    restore_service = None
    service_instance_argument = "instance"

    def scope_queryset(self, queryset):
        return scope_to_organization(queryset, self.organization, include_global=self.include_global)

    def get_queryset(self):
        if self.list_selector is not None:
            return type(self).list_selector(organization=self.organization)
        return self.scope_queryset(super().get_queryset())

    def fresh(self, instance):
        """``instance`` re-read through ``get_queryset`` (with its annotations) after a write."""
        return self.get_queryset().get(pk=instance.pk)

    def call_service(self, service, instance=None, **data):
        """Call one of the app's write services with the caller's organization and actor."""
        if instance is not None:
            data[self.service_instance_argument] = instance
        return service(organization=self.organization, actor=self.actor, **data)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        if self.create_service is None:
            instance = services.tenant_row_create(
                organization=self.organization, actor=self.actor, model=serializer.Meta.model, **data
            )
        else:
            instance = self.call_service(type(self).create_service, **data)
        serializer.instance = self.fresh(instance)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        if self.update_service is None:
            services.tenant_row_update(
                organization=self.organization, actor=self.actor, instance=serializer.instance, **data
            )
        else:
            self.call_service(type(self).update_service, serializer.instance, **data)
        serializer.instance = self.fresh(serializer.instance)

    def perform_destroy(self, instance):
        if self.delete_service is not None:
            self.call_service(type(self).delete_service, instance)
        elif isinstance(instance, SoftDeleteModel):
            services.soft_delete(organization=self.organization, actor=self.actor, instance=instance)
        else:
            instance.delete()

    def perform_restore(self, instance):
        if not instance.is_deleted:
            return
        if self.restore_service is not None:
            self.call_service(type(self).restore_service, instance)
        else:
            services.restore(organization=self.organization, actor=self.actor, instance=instance)


class IdempotentCreateMixin:
    """``POST`` records one row through the app's idempotent record service
    (``tenancy.idempotency``): 201 with the new row, 200 with the first one when the same body
    comes again (another body under the same key is the service's 409).

    ``create_serializer_class`` validates the body; ``record_service`` is called with
    ``organization=``, ``actor=``, ``fingerprint=`` (of the body as sent) and the arguments
    :meth:`record_arguments` makes of the validated data (``values=`` unless overridden). The
    answer is the row through ``serializer_class``. Goes with :class:`TenantViewSetMixin`.
    """

    create_serializer_class = None
    record_service = None
    # The service's IdempotentIngest: a body that no longer validates because a row it names was
    # deleted since (a parent, a campaign) is still the replay of what it recorded then.
    ingest = None

    def record_arguments(self, validated_data) -> dict:
        """The record service's arguments besides organization, actor and fingerprint: the values,
        and which of them the create serializer checked as the model would, so the service's
        own check of the row skips them (``tenancy.api.checked_fields``)."""
        return {
            "values": validated_data,
            "checked_fields": checked_fields(self.create_serializer_class, self.queryset.model),
        }

    def create(self, request, *args, **kwargs):
        serializer = self.create_serializer_class(data=request.data, context=self.get_serializer_context())
        fingerprint = request_fingerprint(request.data)
        if not serializer.is_valid():
            replayed = self.replay_of_invalid(serializer, fingerprint)
            if replayed is None:
                raise ValidationError(serializer.errors)
            return self.recorded_response(replayed)
        recorded = self.call_service(
            type(self).record_service,
            fingerprint=fingerprint,
            **self.record_arguments(serializer.validated_data),
        )
        return self.recorded_response(recorded)

    def replay_of_invalid(self, serializer, fingerprint: str) -> Recorded | None:
        """The first answer to a body that does not validate now but was recorded before (the
        same body: 200 with its row; another body or a deleted row: the ingest's 409), or None.
        Only a failed validation pays for the look-up."""
        ingest = type(self).ingest
        if ingest is None or ingest.key in serializer.errors:
            return None
        try:
            key = serializer.fields[ingest.key].run_validation(serializer.initial_data.get(ingest.key))
        except (ValidationError, DjangoValidationError, KeyError, AttributeError):
            return None
        return ingest.replay(organization=self.organization, key=key, fingerprint=fingerprint)

    def recorded_response(self, recorded: Recorded) -> Response:
        """The recorded row: 201 when this request created it, 200 for a replay."""
        return Response(
            self.serializer_class(recorded.instance).data,
            status=status.HTTP_201_CREATED if recorded.created else status.HTTP_200_OK,
        )


class GlobalReadOnlyViewSet(viewsets.ReadOnlyModelViewSet):
    """Global rows (providers, models, verticals): belong to no organization, read-only to every
    caller. The rows come from the app's selector, ``list_selector``, called without arguments."""

    list_selector = None

    def get_queryset(self):
        return type(self).list_selector()


class TenantModelViewSet(TenantViewSetMixin, viewsets.ModelViewSet):
    """List, retrieve, create, update and (soft) delete inside the caller's organization."""


class TenantIngestViewSet(
    IdempotentCreateMixin,
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Rows clients record and do not edit (generations, provider calls, metrics): an idempotent
    ``POST`` (:class:`IdempotentCreateMixin`), list and retrieve inside the caller's organization."""


class RestoreMixin:
    """``POST {id}/restore/`` brings back a soft-deleted row of the caller's organization through
    ``restore_service``; answers the row. Restoring a live row is a no-op answered 200, so
    clients can retry safely."""

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None):
        model = self.get_queryset().model
        instance = get_object_or_404(self.scope_queryset(model.all_objects.all()), pk=pk)
        self.check_object_permissions(request, instance)
        self.perform_restore(instance)
        return Response(self.get_serializer(self.fresh(instance)).data, status=status.HTTP_200_OK)
