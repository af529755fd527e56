"""FilterSets of the providers API."""

import django_filters

from providers.models import AIModel, AIPreference, Budget, ProviderCredential
from tenancy.api.filters import TenantFilterSet


class AIModelFilterSet(TenantFilterSet):
    provider = django_filters.CharFilter(field_name="provider__slug", lookup_expr="iexact")
    name = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = AIModel
        fields = ["provider", "name", "is_active", "is_deprecated"]


class ProviderCredentialFilterSet(TenantFilterSet):
    provider = django_filters.CharFilter(field_name="provider__slug", lookup_expr="iexact")

    class Meta:
        model = ProviderCredential
        fields = ["provider", "status", "fingerprint", "last4"]


class BudgetFilterSet(TenantFilterSet):
    class Meta:
        model = Budget
        fields = ["period", "user_ref", "credential", "is_active"]


class AIPreferenceFilterSet(TenantFilterSet):
    organization_default = django_filters.BooleanFilter(
        field_name="user_ref", lookup_expr="isnull", label="Only the organization-wide preference"
    )

    class Meta:
        model = AIPreference
        fields = ["user_ref", "default_generation_mode", "deep_thinking", "auto_generate"]
