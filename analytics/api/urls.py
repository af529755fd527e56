"""API routes of the analytics app, mounted under /api/v1/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from analytics.api.views import (
    CacheReportView,
    CleanupPreferencesView,
    ModelPerformanceViewSet,
    PerformanceMetricViewSet,
    ProviderCallViewSet,
    RateLimitReportView,
    ReportView,
    RepriceView,
    WeeklySummaryViewSet,
)
from analytics.reports import REPORTS

# Reports with their own schema description; the others share ReportView's.
REPORT_VIEWS = {"cache": CacheReportView}

router = SimpleRouter()
router.register("usage", ProviderCallViewSet, basename="provider-call")
router.register("metrics", PerformanceMetricViewSet, basename="performance-metric")
router.register("model-performance", ModelPerformanceViewSet, basename="model-performance")
router.register("weekly-summaries", WeeklySummaryViewSet, basename="weekly-summary")

urlpatterns = [
    *router.urls,
    path("cleanup-preferences/", CleanupPreferencesView.as_view(), name="cleanup-preferences"),
    *(
        path(
            f"reports/{name}/", REPORT_VIEWS.get(name, ReportView).as_view(report=name), name=f"report-{name}"
        )
        for name in REPORTS
    ),
    path("reports/rate-limits/", RateLimitReportView.as_view(), name="report-rate-limits"),
    path("reprice/", RepriceView.as_view(), name="reprice"),
]
