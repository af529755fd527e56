"""Views of the analytics API: authenticate, scope, parse, call a service or selector, respond."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics import reports, repricing, selectors, services
from analytics.api.filters import (
    ModelPerformanceFilterSet,
    PerformanceMetricFilterSet,
    ProviderCallFilterSet,
    WeeklySummaryFilterSet,
)
from analytics.api.serializers import (
    CleanupPreferencesSerializer,
    ModelPerformanceSerializer,
    PerformanceMetricCreateSerializer,
    PerformanceMetricSerializer,
    ProviderCallCreateSerializer,
    ProviderCallSerializer,
    RateLimitQuerySerializer,
    ReportQuerySerializer,
    ReportSerializer,
    RepriceReportSerializer,
    RepriceRequestSerializer,
    WeeklySummarySerializer,
)
from analytics.models import ModelPerformance, PerformanceMetric, ProviderCall, WeeklySummary
from tenancy.api.viewsets import TenantIngestViewSet, TenantRequestMixin, TenantViewSetMixin
from tenancy.choices import Role
from tenancy.pagination import CreatedAtCursorPagination


class CalledAtCursorPagination(CreatedAtCursorPagination):
    """Provider calls newest first by when they were made (the time-series index)."""

    ordering = ("-occurred_at", "-id")


class WeekCursorPagination(CreatedAtCursorPagination):
    """Weekly summaries, latest week first."""

    ordering = ("-week_start", "-id")


@extend_schema_view(
    create=extend_schema(
        description="Record a provider API call. Idempotent by `request_id`: the same body again "
        "answers 200 with the first row and writes nothing; another body with that `request_id` is "
        "a 409. Send our token fields or the provider's own `usage` object.",
    )
)
class ProviderCallViewSet(TenantIngestViewSet):
    """Provider API calls (``usage/``): idempotent ingestion, lists with filters. Calls are a
    log: they are never edited, and leave only through retention."""

    queryset = ProviderCall.objects.all()
    serializer_class = ProviderCallSerializer
    filterset_class = ProviderCallFilterSet
    pagination_class = CalledAtCursorPagination

    list_selector = staticmethod(selectors.provider_call_list)

    create_serializer_class = ProviderCallCreateSerializer
    record_service = staticmethod(services.provider_call_record)
    ingest = services.PROVIDER_CALL_INGEST


@extend_schema_view(
    create=extend_schema(
        description="Record a generation's performance metrics (one per generation). The same body "
        "again answers 200 and writes nothing; another body for that generation is a 409.",
    )
)
class PerformanceMetricViewSet(TenantIngestViewSet):
    """Performance metrics of generations (``metrics/``)."""

    queryset = PerformanceMetric.objects.all()
    serializer_class = PerformanceMetricSerializer
    filterset_class = PerformanceMetricFilterSet

    list_selector = staticmethod(selectors.performance_metric_list)

    create_serializer_class = PerformanceMetricCreateSerializer
    record_service = staticmethod(services.performance_metric_record)

    def record_arguments(self, validated_data) -> dict:
        values = dict(validated_data)
        return {"generation": values.pop("generation"), "values": values}


class ModelPerformanceViewSet(TenantViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """How each model did in each run (``model-performance/``), kept exact from the runs'
    generations."""

    queryset = ModelPerformance.objects.all()
    serializer_class = ModelPerformanceSerializer
    filterset_class = ModelPerformanceFilterSet

    list_selector = staticmethod(selectors.model_performance_list)


class WeeklySummaryViewSet(TenantViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Weekly summaries (``weekly-summaries/``), written by ``manage.py weekly_summaries``."""

    queryset = WeeklySummary.objects.all()
    serializer_class = WeeklySummarySerializer
    filterset_class = WeeklySummaryFilterSet
    pagination_class = WeekCursorPagination

    list_selector = staticmethod(selectors.weekly_summary_list)


class CleanupPreferencesView(TenantRequestMixin, APIView):
    """``cleanup-preferences/``: the caller's organization's retention. GET shows its
    preferences and the retention in force; PUT/PATCH (admin keys) shorten or reset them."""

    write_role = Role.ADMIN

    @extend_schema(responses=CleanupPreferencesSerializer)
    def get(self, request):
        preferences = services.cleanup_preferences_for(organization=self.organization)
        return Response(CleanupPreferencesSerializer(preferences).data)

    @extend_schema(request=CleanupPreferencesSerializer, responses=CleanupPreferencesSerializer)
    def put(self, request):
        return self._write(request, partial=False)

    @extend_schema(request=CleanupPreferencesSerializer, responses=CleanupPreferencesSerializer)
    def patch(self, request):
        return self._write(request, partial=True)

    def _write(self, request, *, partial: bool):
        serializer = CleanupPreferencesSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        if not partial:  # PUT replaces: a field left out returns to the platform's default
            values = {name: values.get(name) for name in serializer.Meta.fields if name != "effective"}
        preferences = services.cleanup_preferences_update(
            organization=self.organization, actor=self.actor, values=values
        )
        return Response(CleanupPreferencesSerializer(preferences).data)


class RepriceView(TenantRequestMixin, APIView):
    """``POST reprice/`` (admin keys): price the caller's organization's generations and
    provider calls again with the prices known now (see ``analytics.repricing``). Runs
    synchronously; for very large ranges use ``manage.py reprice`` on the worker."""

    write_role = Role.ADMIN

    @extend_schema(request=RepriceRequestSerializer, responses=RepriceReportSerializer)
    def post(self, request):
        serializer = RepriceRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        query = serializer.validated_data
        report = repricing.reprice_run(
            organization=self.organization,
            model_name=query.get("model"),
            date_from=query.get("from"),
            date_to=query.get("to"),
            only_unpriced=query["only_unpriced"],
            dry_run=query["dry_run"],
            actor=self.actor,
        )
        return Response(RepriceReportSerializer({**report.as_dict(), "dry_run": query["dry_run"]}).data)


REPORT_PARAMETERS = [
    OpenApiParameter("from", OpenApiTypes.DATE, description="First UTC day (default: 30 days before `to`)."),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Last UTC day, included (default: today)."),
    OpenApiParameter(
        "group_by",
        OpenApiTypes.STR,
        description="Comma-separated dimensions: model, provider, content_type, user, day, month.",
    ),
    OpenApiParameter("source", OpenApiTypes.STR, enum=["generations", "provider_calls"]),
    OpenApiParameter("limit", OpenApiTypes.INT, description="Rows at most (default 1000)."),
]


class QueryReportView(TenantRequestMixin, APIView):
    """A report of the caller's organization: ``GET`` reads the query string through
    ``query_serializer_class`` (a bad value is a 400 naming it) and answers what
    :meth:`run_report` makes of it. Subclasses document their parameters with
    ``extend_schema_view(get=…)``."""

    query_serializer_class = None

    def get(self, request):
        return Response(self.run_report(self.validated_query(self.query_serializer_class)).as_dict())

    def run_report(self, params: dict):
        """The report for the validated query ``params`` (an object with ``as_dict()``)."""
        raise NotImplementedError


@extend_schema_view(get=extend_schema(parameters=REPORT_PARAMETERS, responses=ReportSerializer))
class ReportView(QueryReportView):
    """One report (``reports/<name>/``), answered from the rollups of the caller's organization.
    A range over 400 days, ``to`` before ``from`` or an unknown ``group_by`` is a 400."""

    report = ""
    query_serializer_class = ReportQuerySerializer

    def run_report(self, params: dict):
        return reports.report_run(
            organization=self.organization,
            report=self.report,
            date_from=params["from"],
            date_to=params["to"],
            group_by=params.get("group_by"),
            source=params.get("source"),
            limit=params["limit"],
        )


@extend_schema_view(
    get=extend_schema(
        description="Cache figures of generations, from the daily rollups. `reported_cache_hits` "
        "counts generations whose performance metric (`metrics/`) reported `cache_hit: true`: the "
        "client's own account of serving a generation from a cache, whichever cache it was; "
        "`reported_cache_hit_rate` is `reported_cache_hits / requests`. `cache_read_share` is the "
        "share of input tokens the provider read from its prompt cache. Lookups of this API's "
        "response cache (`GET cache/{key}/`) are counted by `cache/stats/` instead (`hits`, "
        "`misses`, `hit_rate`)."
    )
)
class CacheReportView(ReportView):
    """``reports/cache/``: :class:`ReportView` with the meaning of its cache figures in the schema."""

    report = "cache"


@extend_schema_view(
    get=extend_schema(
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATETIME, description="Default: an hour before `to`."),
            OpenApiParameter("to", OpenApiTypes.DATETIME, description="Default: now."),
            OpenApiParameter(
                "threshold", OpenApiTypes.INT, description="Requests in one hour (default 100)."
            ),
            OpenApiParameter("group_by", OpenApiTypes.STR, description="Only `user` (the default)."),
            OpenApiParameter("limit", OpenApiTypes.INT),
        ],
        responses=ReportSerializer,
    )
)
class RateLimitReportView(QueryReportView):
    """``reports/rate-limits/``: users who made more than ``threshold`` provider calls in one
    clock hour (UTC), by default in the current and previous hour ("the last hour")."""

    query_serializer_class = RateLimitQuerySerializer

    def run_report(self, params: dict):
        return reports.rate_limit_report(
            organization=self.organization,
            since=params["from"],
            until=params["to"],
            threshold=params["threshold"],
            group_by=params.get("group_by") or "",
            limit=params["limit"],
        )
