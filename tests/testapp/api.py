"""Serializer, viewset and routes of the test-only ``Widget`` model."""

from django.urls import include, path
from rest_framework import serializers
from rest_framework.routers import SimpleRouter

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
