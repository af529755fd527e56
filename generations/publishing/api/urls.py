"""API routes of publishing, mounted under /api/v1/."""

from rest_framework.routers import SimpleRouter

from generations.publishing.api.views import ScheduledPostViewSet, SocialAccountViewSet

router = SimpleRouter()
router.register("social-accounts", SocialAccountViewSet, basename="social-account")
router.register("scheduled-posts", ScheduledPostViewSet, basename="scheduled-post")

urlpatterns = router.urls
