"""Tenancy's API routes (health)."""

from django.urls import path

from tenancy.api.views import HealthView

urlpatterns = [
    path("health/", HealthView.as_view(), name="health"),
]
