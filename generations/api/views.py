"""Viewsets of the generations API: authenticate, scope, parse, call a service or selector, respond."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from generations import selectors, services
from generations.api.filters import (
    CacheEntryFilterSet,
    CampaignFilterSet,
    GenerationFilterSet,
    GenerationRunFilterSet,
)
from generations.api.serializers import (
    BulkResponseSerializer,
    CacheEntrySerializer,
    CacheEntryWriteSerializer,
    CacheStatsPeriodSerializer,
    CacheStatsSerializer,
    CampaignSerializer,
    GenerationBranchSerializer,
    GenerationBulkSerializer,
    GenerationCreateSerializer,
    GenerationListSerializer,
    GenerationRunSerializer,
    GenerationSerializer,
    GenerationUpdateSerializer,
    LineageNodeSerializer,
    TreeNodeSerializer,
)
from generations.models import CacheEntry, Campaign, Generation, GenerationRun
from tenancy.api.viewsets import (
    RestoreMixin,
    TenantIngestViewSet,
    TenantModelViewSet,
    TenantViewSetMixin,
    query_action,
)
from tenancy.errors import NotFound
from tenancy.idempotency import request_fingerprint


@extend_schema_view(
    create=extend_schema(
        description="Record a generation. Idempotent by `request_id`, deleted generations included: "
        "the same body again answers 200 with the first row and writes nothing; another body with "
        "that `request_id` is a 409 `conflicting_replay`; the `request_id` of a deleted generation "
        "is a 409 `deleted` naming its restore URL (`POST generations/{id}/restore/`).",
    ),
    partial_update=extend_schema(
        request=GenerationUpdateSerializer,
        responses=GenerationSerializer,
        description="Move the status forward and, until the generation is finished, fill its "
        "content and usage (its cost is computed then).",
    ),
    restore=extend_schema(
        description="Bring back a soft-deleted generation (a live one answers 200 unchanged)."
    ),
)
class GenerationViewSet(RestoreMixin, TenantIngestViewSet, mixins.DestroyModelMixin):
    """Generations: idempotent ingestion, bulk, trees (branch, lineage, tree, variants)."""

    queryset = Generation.objects.all()
    serializer_class = GenerationSerializer
    filterset_class = GenerationFilterSet

    def get_queryset(self):
        if self.action == "list":
            return selectors.generation_list(organization=self.organization)
        return selectors.generation_detail(organization=self.organization)

    def get_serializer_class(self):
        if self.action in ("list", "lineage", "variants"):
            return GenerationListSerializer
        return GenerationSerializer

    create_serializer_class = GenerationCreateSerializer
    record_service = staticmethod(services.generation_record)
    ingest = services.GENERATION_INGEST
    # Called by the tenant mixin's perform_destroy, which comes before DRF's DestroyModelMixin
    # (the order of TenantModelViewSet): DELETE is a soft delete.
    delete_service = staticmethod(services.generation_delete)
    restore_service = staticmethod(services.generation_restore)
    service_instance_argument = "generation"

    def partial_update(self, request, *args, **kwargs):
        generation = self.get_object()
        serializer = GenerationUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        generation = self.call_service(
            services.generation_update, generation=generation, values=serializer.validated_data
        )
        return Response(GenerationSerializer(generation).data)

    @extend_schema(
        request=GenerationBulkSerializer,
        responses={201: BulkResponseSerializer, 200: BulkResponseSerializer},
        description="Up to 1,000 generations in one transaction: all are written or none, and an "
        "error names its item (`items.<index>.<field>`). Replayed items answer `created: false`; an "
        "item replaying another body is a 409 `conflicting_replay`, one naming a deleted "
        "generation's `request_id` a 409 `deleted` with its restore URL (nothing is written).",
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        serializer = GenerationBulkSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        items = serializer.validated_data["items"]
        fingerprints = [request_fingerprint(raw) for raw in request.data["items"]]
        results = services.generation_bulk_record(
            organization=self.organization, actor=self.actor, items=items, fingerprints=fingerprints
        )
        created = sum(result.created for result in results)
        body = {
            "created": created,
            "replayed": len(results) - created,
            "results": [
                {
                    "index": index,
                    "id": result.instance.pk,
                    "request_id": result.instance.request_id,
                    "created": result.created,
                }
                for index, result in enumerate(results)
            ],
        }
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        request=GenerationBranchSerializer,
        responses={201: GenerationSerializer, 200: GenerationSerializer},
        description="Create a child of this generation: a revision (default) or a `variant` for "
        "another vertical. Unset fields are inherited; the version is the tree's next one. "
        "Idempotent by `request_id` like `POST generations/` (a deleted one's is a 409 `deleted`).",
    )
    @action(detail=True, methods=["post"])
    def branch(self, request, pk=None):
        parent = self.get_object()
        serializer = GenerationBranchSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        recorded = self.call_service(
            services.generation_branch,
            parent=parent,
            values=serializer.validated_data,
            fingerprint=request_fingerprint({"branch_of": parent.pk, "body": request.data}),
        )
        return self.recorded_response(recorded)

    @extend_schema(responses=LineageNodeSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def lineage(self, request, pk=None):
        """The path from the tree's root to this generation, root first (one recursive query); a
        deleted ancestor keeps its place without its content."""
        return self.related_generations(selectors.generation_lineage, LineageNodeSerializer)

    @extend_schema(responses=TreeNodeSerializer, filters=False)
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def tree(self, request, pk=None):
        """The whole tree this generation belongs to, nested from the root (one query)."""
        generation = self.get_object()
        return Response(selectors.generation_tree(organization=self.organization, generation=generation))

    @extend_schema(responses=GenerationListSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def variants(self, request, pk=None):
        """This generation's variants, ordered by vertical (one query)."""
        return self.related_generations(selectors.generation_variants)

    def related_generations(self, selector, serializer_class=GenerationListSerializer) -> Response:
        """List rows of the generations ``selector`` finds for the one in the URL, in its order."""
        rows = selector(organization=self.organization, generation=self.get_object())
        return Response(serializer_class(rows, many=True).data)


class GenerationRunViewSet(RestoreMixin, TenantModelViewSet):
    """Multi-model runs; status, completed models and totals derive from their generations."""

    queryset = GenerationRun.objects.all()
    serializer_class = GenerationRunSerializer
    filterset_class = GenerationRunFilterSet
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if self.action == "list":
            return selectors.run_list(organization=self.organization)
        return selectors.run_detail(organization=self.organization)

    def list(self, request, *args, **kwargs):
        """A page of runs, cut before their figures are aggregated (for the page's runs only)."""
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        selectors.run_figures_attach(organization=self.organization, runs=page)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    create_service = staticmethod(services.run_create)


class CampaignViewSet(RestoreMixin, TenantModelViewSet):
    """Campaigns; generations filter by them (``generations/?campaign=<id>``)."""

    queryset = Campaign.objects.all()
    serializer_class = CampaignSerializer
    filterset_class = CampaignFilterSet
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    list_selector = staticmethod(selectors.campaign_list)


KEY_PARAMETER = OpenApiParameter("key", OpenApiTypes.STR, OpenApiParameter.PATH, description="Cache key.")


@extend_schema_view(
    retrieve=extend_schema(
        parameters=[KEY_PARAMETER],
        description="The cached response; counts a hit. 404 when missing or expired (a miss).",
    ),
    update=extend_schema(
        parameters=[KEY_PARAMETER],
        request=CacheEntryWriteSerializer,
        responses={201: CacheEntrySerializer, 200: CacheEntrySerializer},
        description="Store the response under this key for `ttl_seconds`: 201 when the key is new, "
        "200 when it replaces an entry (whose hit count starts afresh).",
    ),
    destroy=extend_schema(parameters=[KEY_PARAMETER]),
)
class CacheEntryViewSet(TenantViewSetMixin, viewsets.GenericViewSet):
    """The response cache: ``PUT``/``GET``/``DELETE cache/{key}/``, ``GET cache/stats/``."""

    queryset = CacheEntry.objects.all()
    serializer_class = CacheEntrySerializer
    filterset_class = CacheEntryFilterSet
    lookup_field = "key"
    lookup_value_regex = "[^/]{1,255}"

    list_selector = staticmethod(selectors.cache_entry_list)

    def list(self, request):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, key=None):
        entry = services.cache_entry_hit(organization=self.organization, key=key)
        if entry is None:
            raise NotFound("No live cache entry under this key.")
        return Response(self.get_serializer(entry).data)

    def update(self, request, key=None):
        serializer = CacheEntryWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry, created = services.cache_entry_store(
            organization=self.organization, key=key, **serializer.validated_data
        )
        return Response(
            self.get_serializer(entry).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    def destroy(self, request, key=None):
        if not services.cache_entry_delete(organization=self.organization, key=key):
            raise NotFound("No cache entry under this key.")
        return Response(status=status.HTTP_204_NO_CONTENT)

    @query_action(CacheStatsPeriodSerializer, CacheStatsSerializer)
    def stats(self, request, query):
        """Response-cache hits, misses, hit rate and cost saved over a period: lookups of
        ``GET cache/{key}/``. (``reports/cache/`` counts something else, ``reported_cache_hits``:
        generations whose performance metric reported ``cache_hit``.)"""
        stats = selectors.cache_stats(
            organization=self.organization, since=query.get("from"), until=query.get("to")
        )
        return Response(CacheStatsSerializer(stats).data)
