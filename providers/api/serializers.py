"""Serializers of the providers API: shapes and field rules only (no queries, no business rules).

``api_key`` is write-only everywhere: no response, error or schema example carries it.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils.functional import cached_property
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from providers.choices import BudgetCheckReason, BudgetPeriod, CredentialStatus, GenerationMode
from providers.models import (
    MAX_LIMIT_USD,
    MAX_REQUESTS_LIMIT,
    MONEY,
    AIModel,
    AIPreference,
    Budget,
    ModelPrice,
    Provider,
    ProviderCredential,
)
from providers.services import MAX_API_KEY_LENGTH
from tenancy.api.fields import TenantPrimaryKeyRelatedField
from tenancy.api.strict import CreateOnlyFieldsMixin

# --- Catalogue (read-only) ----------------------------------------------------------------------


class ProviderSerializer(serializers.ModelSerializer):
    class Meta:
        model = Provider
        fields = ["id", "slug", "name", "pricing_url", "is_active"]
        read_only_fields = fields


class ModelPriceSerializer(serializers.ModelSerializer):
    """A price version: every genai-prices unit it prices (``units``, USD per unit, tiers
    included), and the common ones as plain columns."""

    units = serializers.SerializerMethodField()

    class Meta:
        model = ModelPrice
        fields = [
            "id",
            "valid_from",
            "valid_to",
            "currency",
            *ModelPrice.PRICE_FIELDS,
            "tiers",
            "units",
            "source",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "object", "additionalProperties": True})
    def get_units(self, obj: ModelPrice) -> dict:
        return obj.price_units()


class AIModelSerializer(serializers.ModelSerializer):
    """A model with the price valid now (``current_price``; null when it has none)."""

    provider = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    current_price = serializers.SerializerMethodField()

    class Meta:
        model = AIModel
        fields = ["id", *AIModel.CATALOGUE_FIELDS, "current_price"]
        read_only_fields = fields

    @cached_property
    def _price_serializer(self) -> ModelPriceSerializer:
        # One for the whole page (a list's rows share this child serializer). A serializer per
        # row left ~2,000 objects in reference cycles per page of 50 (fields point back at their
        # serializer): 600 GETs of the page set off 25 full collections instead of 3-5
        # (bench/gc_pauses.py), each a pause inside a request.
        return ModelPriceSerializer(context=self.context)

    @extend_schema_field(ModelPriceSerializer(allow_null=True))
    def get_current_price(self, model: AIModel):
        # `current_prices` is prefetched by providers.selectors.ai_models_with_current_price.
        prices = getattr(model, "current_prices", None) or []
        return self._price_serializer.to_representation(prices[0]) if prices else None


# --- Credentials ---------------------------------------------------------------------------------


def _api_key_field(**kwargs) -> serializers.CharField:
    return serializers.CharField(
        write_only=True,
        trim_whitespace=True,
        max_length=MAX_API_KEY_LENGTH,
        style={"input_type": "password"},
        help_text="The provider's API key. Write-only: never returned.",
        **kwargs,
    )


class ProviderCredentialSerializer(CreateOnlyFieldsMixin, serializers.ModelSerializer):
    """Create with ``provider`` (slug), ``name`` and ``api_key``; update ``name``, ``expires_at``
    or ``status`` (revoking is final). The key is replaced only by ``POST {id}/rotate/``."""

    provider = serializers.SlugRelatedField(
        slug_field="slug", queryset=Provider.objects.filter(is_active=True)
    )
    api_key = _api_key_field()

    class Meta:
        model = ProviderCredential
        fields = [
            "id",
            "provider",
            "name",
            "api_key",
            "fingerprint",
            "last4",
            "status",
            "created_at",
            "updated_at",
            "rotated_at",
            "expires_at",
        ]
        read_only_fields = ["id", "fingerprint", "last4", "created_at", "updated_at", "rotated_at"]
        # The provider is what the key is for; the key changes only through rotate/.
        create_only_fields = ["provider", "api_key"]

    # On update `api_key` is read-only; strict input refuses it with this pointer.
    unknown_field_hints = {"api_key": "Replace the key with POST credentials/{id}/rotate/."}

    def validate(self, attrs):
        if self.instance is None and attrs.get("status") == CredentialStatus.REVOKED:
            raise serializers.ValidationError({"status": "A new credential starts active."})
        if (
            self.instance is not None
            and self.instance.status == CredentialStatus.REVOKED
            and attrs.get("status") == CredentialStatus.ACTIVE
        ):
            raise serializers.ValidationError({"status": "A revoked credential cannot be reactivated."})
        return attrs


class CredentialRotateSerializer(serializers.Serializer):
    api_key = _api_key_field()


# --- Budgets -------------------------------------------------------------------------------------


class OptionalUserRefField(serializers.CharField):
    """``user_ref`` of a row for one user or for the whole organization: null, left out or ``""``
    (stored as null) means the organization-wide row. Only spaces is refused: it names no user,
    and reading it as "everyone" would widen a budget or preference the client meant for one."""

    default_error_messages = {
        "blank": "A user reference cannot be only spaces; leave it out or send null for everyone."
    }

    def __init__(self, **kwargs):
        super().__init__(max_length=200, allow_null=True, allow_blank=True, required=False, **kwargs)

    def run_validation(self, data=serializers.empty):
        if isinstance(data, str) and data and not data.strip():
            self.fail("blank")
        # CharField answers "" before to_internal_value runs, so the mapping goes here.
        return super().run_validation(data) or None


class BudgetSerializer(serializers.ModelSerializer):
    """A USD limit per period and/or request-rate limits, for the organization or narrowed to
    a ``user_ref`` and/or a ``credential`` (an id of the caller's organization)."""

    credential = TenantPrimaryKeyRelatedField(
        queryset=ProviderCredential.objects.all(), allow_null=True, required=False
    )
    user_ref = OptionalUserRefField()
    limit_usd = serializers.DecimalField(
        **MONEY, allow_null=True, required=False, min_value=Decimal("0.0000000001"), max_value=MAX_LIMIT_USD
    )
    max_requests_per_minute = serializers.IntegerField(
        allow_null=True, required=False, min_value=1, max_value=MAX_REQUESTS_LIMIT
    )
    max_requests_per_hour = serializers.IntegerField(
        allow_null=True, required=False, min_value=1, max_value=MAX_REQUESTS_LIMIT
    )

    class Meta:
        model = Budget
        fields = [
            "id",
            "name",
            "user_ref",
            "credential",
            *Budget.LIMIT_FIELDS,
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


class UserRefQuerySerializer(serializers.Serializer):
    """``?user_ref=``: a user reference as stored (at most 200 characters); empty means none."""

    user_ref = serializers.CharField(max_length=200, required=False, allow_blank=True)


class BudgetCheckQuerySerializer(UserRefQuerySerializer):
    credential = TenantPrimaryKeyRelatedField(queryset=ProviderCredential.all_objects.all(), required=False)


class BudgetStatusSerializer(serializers.Serializer):
    budget = serializers.IntegerField(source="budget.pk")
    name = serializers.CharField(source="budget.name")
    user_ref = serializers.CharField(source="budget.user_ref", allow_null=True)
    credential = serializers.IntegerField(source="budget.credential_id", allow_null=True)
    period = serializers.ChoiceField(source="budget.period", choices=BudgetPeriod.choices)
    period_start = serializers.DateTimeField()
    allowed = serializers.BooleanField()
    reason = serializers.ChoiceField(choices=BudgetCheckReason.choices)
    limit_usd = serializers.DecimalField(source="budget.limit_usd", **MONEY, allow_null=True)
    spent_usd = serializers.DecimalField(**MONEY)
    remaining_usd = serializers.DecimalField(**MONEY, allow_null=True)
    max_requests_per_minute = serializers.IntegerField(
        source="budget.max_requests_per_minute", allow_null=True
    )
    requests_last_minute = serializers.IntegerField(allow_null=True)
    max_requests_per_hour = serializers.IntegerField(source="budget.max_requests_per_hour", allow_null=True)
    requests_last_hour = serializers.IntegerField(allow_null=True)


class BudgetCheckSerializer(serializers.Serializer):
    """``allowed`` and ``reason``, with the deciding budget's numbers at the top level."""

    allowed = serializers.BooleanField()
    reason = serializers.ChoiceField(choices=BudgetCheckReason.choices)
    detail = serializers.CharField()
    checked_at = serializers.DateTimeField()
    budget = serializers.IntegerField(source="binding.budget.pk", allow_null=True, default=None)
    period = serializers.CharField(source="binding.budget.period", allow_null=True, default=None)
    limit_usd = serializers.DecimalField(
        source="binding.budget.limit_usd", **MONEY, allow_null=True, default=None
    )
    spent_usd = serializers.DecimalField(source="binding.spent_usd", **MONEY, allow_null=True, default=None)
    remaining_usd = serializers.DecimalField(
        source="binding.remaining_usd", **MONEY, allow_null=True, default=None
    )
    budgets = BudgetStatusSerializer(source="statuses", many=True)


# --- AI preferences ------------------------------------------------------------------------------


class PreferredModelSerializer(serializers.Serializer):
    """A model by name or alias (``provider`` narrows the look-up) and its weight."""

    model = serializers.CharField(max_length=200)
    provider = serializers.CharField(max_length=50, required=False, allow_null=True, allow_blank=True)
    weight = serializers.DecimalField(
        max_digits=9,
        decimal_places=3,
        min_value=Decimal("0.001"),
        max_value=Decimal("1000"),
        default=Decimal("1"),
    )


class AIPreferenceSerializer(serializers.ModelSerializer):
    """The organization's defaults (``user_ref`` null) or one user's; ``preferred_models`` are
    validated against the model catalogue (an unknown name is a 400 naming it)."""

    user_ref = OptionalUserRefField()
    default_generation_mode = serializers.ChoiceField(choices=GenerationMode.choices, required=False)
    preferred_models = PreferredModelSerializer(many=True, required=False, max_length=50)

    class Meta:
        model = AIPreference
        fields = [
            "id",
            "user_ref",
            "default_generation_mode",
            "deep_thinking",
            "auto_generate",
            "preferred_models",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        # Prefetched by providers.selectors.ai_preferences_for (or set by the service).
        data["preferred_models"] = [
            {"model": row.model.name, "provider": row.model.provider.slug, "weight": str(row.weight)}
            for row in instance.preferred_models.all()
        ]
        return data
