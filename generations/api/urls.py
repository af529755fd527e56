"""API routes of the generations app, mounted under /api/v1/."""

from rest_framework.routers import SimpleRouter

from generations.api.views import CacheEntryViewSet, CampaignViewSet, GenerationRunViewSet, GenerationViewSet

router = SimpleRouter()
router.register("generations", GenerationViewSet, basename="generation")
router.register("runs", GenerationRunViewSet, basename="generation-run")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("cache", CacheEntryViewSet, basename="cache-entry")

urlpatterns = router.urls
