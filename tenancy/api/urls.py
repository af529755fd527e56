"""Tenancy's API routes (health)."""

from django.urls import path

from tenancy.api.views import APIRootView, HealthView

urlpatterns = [
    path("", APIRootView.as_view(), name="api-root"),
    path("health/", HealthView.as_view(), name="health"),
]
