"""API routes of the providers app, mounted under /api/v1/."""

from rest_framework.routers import SimpleRouter

from providers.api.views import (
    AIModelViewSet,
    AIPreferenceViewSet,
    BudgetViewSet,
    ProviderCredentialViewSet,
    ProviderViewSet,
)

router = SimpleRouter()
router.register("providers", ProviderViewSet, basename="provider")
router.register("models", AIModelViewSet, basename="aimodel")
router.register("credentials", ProviderCredentialViewSet, basename="credential")
router.register("budgets", BudgetViewSet, basename="budget")
router.register("ai-preferences", AIPreferenceViewSet, basename="aipreference")

urlpatterns = router.urls
