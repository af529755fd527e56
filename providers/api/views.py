"""Viewsets of the providers API: authenticate, scope, parse, call a service or selector, respond."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from providers import selectors, services
from providers.api.filters import (
    AIModelFilterSet,
    AIPreferenceFilterSet,
    BudgetFilterSet,
    ProviderCredentialFilterSet,
)
from providers.api.serializers import (
    AIModelSerializer,
    AIPreferenceSerializer,
    BudgetCheckQuerySerializer,
    BudgetCheckSerializer,
    BudgetSerializer,
    CredentialRotateSerializer,
    ProviderCredentialSerializer,
    ProviderSerializer,
    UserRefQuerySerializer,
)
from providers.budgets import budget_check
from providers.models import AIPreference, Budget, ProviderCredential
from tenancy.api.viewsets import GlobalReadOnlyViewSet, RestoreMixin, TenantModelViewSet, query_action
from tenancy.choices import Role
from tenancy.errors import NotFound


class ProviderViewSet(GlobalReadOnlyViewSet):
    """The AI providers Inkwell knows. Global and read-only; looked up by slug."""

    list_selector = staticmethod(selectors.providers_list)
    serializer_class = ProviderSerializer
    lookup_field = "slug"
    search_fields = ["slug", "name"]


class AIModelViewSet(GlobalReadOnlyViewSet):
    """Models of every provider with the price valid now. Global and read-only."""

    list_selector = staticmethod(selectors.ai_models_with_current_price)
    serializer_class = AIModelSerializer
    filterset_class = AIModelFilterSet
    search_fields = ["name", "display_name"]
    lookup_value_regex = "[0-9]+"


class ProviderCredentialViewSet(RestoreMixin, TenantModelViewSet):
    """The organization's provider API keys. ``api_key`` is write-only; admins write."""

    queryset = ProviderCredential.objects.all()
    serializer_class = ProviderCredentialSerializer
    filterset_class = ProviderCredentialFilterSet
    search_fields = ["name", "last4", "fingerprint"]
    write_role = Role.ADMIN

    list_selector = staticmethod(selectors.credentials_for)

    create_service = staticmethod(services.credential_create)
    update_service = staticmethod(services.credential_update)
    service_instance_argument = "credential"

    def perform_create(self, serializer):
        # A new credential starts active; the serializer has refused any other ``status``.
        serializer.validated_data.pop("status", None)
        super().perform_create(serializer)

    @extend_schema(request=CredentialRotateSerializer, responses=ProviderCredentialSerializer)
    @action(detail=True, methods=["post"])
    def rotate(self, request, pk=None):
        """Replace the API key (the old one is gone for good); answers the credential."""
        credential = self.get_object()
        serializer = CredentialRotateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.credential_rotate(
            organization=self.organization,
            actor=self.actor,
            credential=credential,
            api_key=serializer.validated_data["api_key"],
        )
        return Response(ProviderCredentialSerializer(credential).data, status=status.HTTP_200_OK)


class BudgetViewSet(RestoreMixin, TenantModelViewSet):
    """Spending and request-rate limits; ``check/`` answers whether spending is allowed now."""

    queryset = Budget.objects.all()
    serializer_class = BudgetSerializer
    filterset_class = BudgetFilterSet
    search_fields = ["name", "user_ref"]
    write_role = Role.ADMIN

    list_selector = staticmethod(selectors.budgets_for)

    create_service = staticmethod(services.budget_create)
    update_service = staticmethod(services.budget_update)
    service_instance_argument = "budget"

    @query_action(BudgetCheckQuerySerializer, BudgetCheckSerializer)
    def check(self, request, query):
        """May the organization (this user, this credential) spend now? Every active budget that
        applies is checked against recorded spending of the current period and the requests of
        the last minute and hour."""
        result = budget_check(
            organization=self.organization,
            user_ref=query.get("user_ref") or None,
            credential=query.get("credential"),
        )
        return Response(BudgetCheckSerializer(result).data)


class AIPreferenceViewSet(RestoreMixin, TenantModelViewSet):
    """AI preferences of the organization (``user_ref`` null) and of its users."""

    queryset = AIPreference.objects.all()
    serializer_class = AIPreferenceSerializer
    filterset_class = AIPreferenceFilterSet
    search_fields = ["user_ref"]

    list_selector = staticmethod(selectors.ai_preferences_for)

    create_service = staticmethod(services.ai_preference_create)
    update_service = staticmethod(services.ai_preference_update)
    service_instance_argument = "preference"

    @query_action(UserRefQuerySerializer, AIPreferenceSerializer)
    def effective(self, request, query):
        """The preference that applies to `user_ref`: theirs, else the organization's (404: none)."""
        preference = selectors.ai_preference_effective(
            organization=self.organization, user_ref=query.get("user_ref") or None
        )
        if preference is None:
            raise NotFound("No AI preference applies.")
        return Response(self.get_serializer(preference).data)
