"""URL map: admin, and the REST API under /api/v1/ (each app mounts its own router)."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

api_v1 = [
    path("", include("tenancy.api.urls")),
    path("", include("providers.api.urls")),
    path("", include("styleguides.api.urls")),
    path("", include("generations.api.urls")),
    path("", include("generations.publishing.api.urls")),
    path("", include("analytics.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
]

handler404 = "tenancy.api.views.not_found"
handler500 = "tenancy.api.views.internal_error"
