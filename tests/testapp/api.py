"""Serializer, viewset and routes of the test-only ``Widget`` model."""

from django.db import connection
from django.urls import include, path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

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

handler404 = "tenancy.api.views.not_found"


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


class StatementTimeoutView(APIView):
    """What the session's statement cap is while an API request runs (not in the schema: the
    API fuzz test reads every documented operation)."""

    @extend_schema(exclude=True)
    def get(self, request):
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            return Response({"statement_timeout": cursor.fetchone()[0]})


class SlowStatementView(APIView):
    """A statement of thirty seconds, for the statement cap's tests (not in the schema: the fuzz
    test would wait for it and get the cap's 503)."""

    @extend_schema(exclude=True)
    def get(self, request):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(30)")
        return Response({"finished": True})


urlpatterns.insert(0, path("api/v1/statement-timeout/", StatementTimeoutView.as_view()))
urlpatterns.insert(0, path("api/v1/slow-statement/", SlowStatementView.as_view()))
