"""API routes of the styleguides app, mounted under /api/v1/."""

from rest_framework.routers import SimpleRouter

from styleguides.api import views

router = SimpleRouter()
router.register("verticals", views.VerticalViewSet, basename="vertical")
router.register("style-guides", views.StyleGuideViewSet, basename="style-guide")
router.register("brand-rules", views.BrandRuleViewSet, basename="brand-rule")
router.register("templates", views.PromptTemplateViewSet, basename="prompt-template")
router.register("snippets", views.ContextSnippetViewSet, basename="context-snippet")
router.register("content-pillars", views.ContentPillarViewSet, basename="content-pillar")
router.register("content-series", views.ContentSeriesViewSet, basename="content-series")

urlpatterns = router.urls
