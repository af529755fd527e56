"""Serializer, viewset and routes of the test-only ``Widget`` model."""

from django.db import connection
from django.http import JsonResponse
from django.urls import include, path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

# The project's error handlers: Django reads them from the root URLconf only, not through include.
from config.urls import handler404, handler500  # noqa: F401
from tenancy.api.fields import TenantPrimaryKeyRelatedField
from tenancy.api.viewsets import RestoreMixin, TenantModelViewSet
from tests.testapp.models import Widget


class WidgetSerializer(serializers.ModelSerializer):
    parent = TenantPrimaryKeyRelatedField(queryset=Widget.objects.all(), required=False, allow_null=True)

    class Meta:
        model = Widget
        fields = ["id", "name", "slug", "parent", "created_at", "updated_at"]


class WidgetViewSet(RestoreMixin, TenantModelViewSet):
    queryset = Widget.objects.all()
    serializer_class = WidgetSerializer
    filterset_fields = ["slug"]


router = SimpleRouter()
router.register("widgets", WidgetViewSet, basename="widget")

urlpatterns = [path("api/v1/", include(router.urls)), path("", include("config.urls"))]


class UnscopedWidgetNamesView(APIView):
    """A deliberate bug for the row-level security tests: lists widgets by raw SQL with no
    organization filter. The database wall must still answer only the caller's rows."""

    def get(self, request):
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM testapp_widget ORDER BY name")
            raw = [name for (name,) in cursor.fetchall()]
        orm = sorted(Widget.all_objects.values_list("name", flat=True))
        return Response({"raw": raw, "orm": orm})


urlpatterns.insert(0, path("api/v1/unscoped-widget-names/", UnscopedWidgetNamesView.as_view()))


def _session_statement_timeout() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return cursor.fetchone()[0]


def _sleep_thirty_seconds() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(30)")


class StatementTimeoutView(APIView):
    """What the session's statement cap is while an API request runs (not in the schema: the
    API fuzz test reads every documented operation)."""

    @extend_schema(exclude=True)
    def get(self, request):
        return Response({"statement_timeout": _session_statement_timeout()})


class SlowStatementView(APIView):
    """A statement of thirty seconds, for the statement cap's tests (not in the schema: the fuzz
    test would wait for it and get the cap's 503)."""

    @extend_schema(exclude=True)
    def get(self, request):
        _sleep_thirty_seconds()
        return Response({"finished": True})


def plain_statement_timeout(request):
    """The session's statement cap in a plain Django view (mounted in the admin and outside it)."""
    return JsonResponse({"statement_timeout": _session_statement_timeout()})


def plain_slow_statement(request):
    """A statement of thirty seconds in a plain Django view (mounted in the admin)."""
    _sleep_thirty_seconds()
    return JsonResponse({"finished": True})


urlpatterns.insert(0, path("api/v1/statement-timeout/", StatementTimeoutView.as_view()))
urlpatterns.insert(0, path("api/v1/slow-statement/", SlowStatementView.as_view()))
# Before the admin's own routes (its catch-all would answer them): an admin request by its path.
urlpatterns.insert(0, path("admin/test-statement-timeout/", plain_statement_timeout))
urlpatterns.insert(0, path("admin/test-slow-statement/", plain_slow_statement))
urlpatterns.insert(0, path("plain/statement-timeout/", plain_statement_timeout))
