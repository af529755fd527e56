"""URL map: admin, and the REST API under /api/v1/ (each app mounts its own router)."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from generations.api.urls import langfuse_urlpatterns
from tenancy.api.routing import api_include

api_v1 = [
    path("", include("tenancy.api.urls")),
    path("", include("providers.api.urls")),
    path("", include("styleguides.api.urls")),
    path("", include("generations.api.urls")),
    path("", include("generations.publishing.api.urls")),
    path("", include("analytics.api.urls")),
    # Unthrottled, like health: public, cacheable, and loaded by tools before any database exists.
    path("schema/", SpectacularAPIView.as_view(throttle_classes=[]), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema", throttle_classes=[]), name="docs"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    # Resolved by the path's first segment: the apps' routes all sit at this prefix.
    api_include("api/v1/", api_v1),
    # The Langfuse SDK's fixed paths (LANGFUSE_BASE_URL=<inkwell>): OTLP export and auth check.
    path("api/public/", include(langfuse_urlpatterns)),
]

handler404 = "tenancy.api.views.not_found"
handler500 = "tenancy.api.views.internal_error"
