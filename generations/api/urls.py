"""API routes of the generations app, mounted under /api/v1/ (and, for the Langfuse SDK's fixed
paths, ``langfuse_urlpatterns`` under /api/public/)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from generations.api.integrations import LangfuseProjectsView, LiteLLMCallbackView, OtlpTracesView
from generations.api.views import CacheEntryViewSet, CampaignViewSet, GenerationRunViewSet, GenerationViewSet

router = SimpleRouter()
router.register("generations", GenerationViewSet, basename="generation")
router.register("runs", GenerationRunViewSet, basename="generation-run")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("cache", CacheEntryViewSet, basename="cache-entry")

urlpatterns = [
    *router.urls,
    path("otel/v1/traces", OtlpTracesView.as_view(), name="otlp-traces"),
    path("integrations/litellm/", LiteLLMCallbackView.as_view(), name="litellm-callback"),
]

# The Langfuse SDK calls these exact paths under its LANGFUSE_BASE_URL.
langfuse_urlpatterns = [
    path("otel/v1/traces", OtlpTracesView.as_view(), name="langfuse-otlp-traces"),
    path("projects", LangfuseProjectsView.as_view(), name="langfuse-projects"),
]
