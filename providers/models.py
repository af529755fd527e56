"""Providers, their models and versioned prices (global rows), and per-organization credentials,
budgets and AI preferences."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from providers.choices import BudgetPeriod, CostStatus, CredentialStatus, GenerationMode
from providers.crypto import EncryptedSecretField
from tenancy.models import (
    GlobalSlugModel,
    SoftDeleteModel,
    TenantModel,
    TimeStampedModel,
    history_reference,
    null_or_at_least,
    unique_while_alive,
)

MONEY = {"max_digits": 20, "decimal_places": 10}
# A sum of many calls' costs (rollups, a run's figures, weekly summaries): below $10^20, so no
# plausible day of calls overflows one group (``providers.metering.MAX_COST_USD`` says why).
# numeric's storage is variable-length: the wider bound costs nothing per row.
MONEY_SUM = {"max_digits": 30, "decimal_places": 10}
# A budget above a billion dollars, or a rate above ten million requests, is a typo, not a plan.
MAX_LIMIT_USD = Decimal("1000000000")
MAX_REQUESTS_LIMIT = 10_000_000


# --- Global catalogue: providers, models, prices --------------------------------------------


class Provider(GlobalSlugModel):
    """An AI provider (openai, anthropic, google, perplexity). Global: no organization.

    The slug is the natural key (fixtures, API filters) and matches genai-prices' provider id.
    """

    pricing_url = models.URLField(blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["slug"]


class AIModelQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)


class AIModelManager(models.Manager.from_queryset(AIModelQuerySet)):
    def get_by_natural_key(self, provider_slug, name):
        return self.get(provider__slug=provider_slug, name=name)


class AIModel(TimeStampedModel):
    """A model of a provider (``gpt-4o``, ``claude-sonnet-4-5``). Global: no organization.

    ``name`` is the canonical name (genai-prices' model id); ``aliases`` are other names the
    provider's API reports for it (dated snapshots such as ``gpt-4o-2024-08-06``), stored in
    lower case so look-ups are case-insensitive. Deprecated models keep their prices and history;
    inactive ones are hidden from preferences.
    """

    # PROTECT: models and their prices are history for every generation that used them.
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="models")
    name = models.CharField(max_length=200)
    display_name = models.CharField(max_length=200, blank=True)
    aliases = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    context_window = models.PositiveIntegerField(null=True, blank=True, help_text="Input tokens.")
    max_output_tokens = models.PositiveIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    is_deprecated = models.BooleanField(default=False)

    # What describes a model in the catalogue, in the order staff edit it and the API shows it.
    CATALOGUE_FIELDS = (
        "provider",
        "name",
        "display_name",
        "aliases",
        "context_window",
        "max_output_tokens",
        "is_active",
        "is_deprecated",
    )

    objects = AIModelManager()

    class Meta:
        verbose_name = "AI model"
        ordering = ["provider__slug", "name"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "name"], name="aimodel_unique_name_per_provider"),
            models.CheckConstraint(
                condition=(Q(context_window__isnull=True) | Q(context_window__gt=0))
                & (Q(max_output_tokens__isnull=True) | Q(max_output_tokens__gt=0)),
                name="aimodel_token_limits_positive",
            ),
        ]
        indexes = [GinIndex(fields=["aliases"], name="aimodel_aliases_gin")]

    def __str__(self):
        return f"{self.provider_id and self.provider.slug}/{self.name}"

    def natural_key(self):
        return (self.provider.slug, self.name)

    natural_key.dependencies = ["providers.provider"]

    def save(self, *args, **kwargs):
        # Normalisation, not business logic: aliases are matched case-insensitively.
        self.aliases = sorted({alias.strip().lower() for alias in self.aliases if alias.strip()})
        super().save(*args, **kwargs)


# ModelPrice's common price units as plain columns (USD per million tokens, per 1,000 requests).
PRICE_COLUMNS = (
    "input_usd_per_mtok",
    "output_usd_per_mtok",
    "cache_read_usd_per_mtok",
    "cache_write_usd_per_mtok",
    "usd_per_k_requests",
)


class ModelPriceQuerySet(models.QuerySet):
    def valid_at(self, at):
        """Prices whose window ``[valid_from, valid_to)`` contains ``at``."""
        return self.filter(Q(valid_to__isnull=True) | Q(valid_to__gt=at), valid_from__lte=at)


class ModelPrice(TimeStampedModel):
    """The price of a model during ``[valid_from, valid_to)`` (``valid_to`` null: still open).

    ``units`` is the whole price as genai-prices gives it for that version: every price unit it
    knows (``input_mtok``, ``output_mtok``, ``cache_read_mtok``, ``input_audio_mtok``,
    ``output_image_mtok``, ``web_search_kcount``, ``requests_kcount`` …), each a decimal string
    or ``{"base": "…", "tiers": [{"start": 200000, "price": "…"}]}``. Costs are computed from it
    by genai-prices' own calculation (``providers.metering``), so a unit genai-prices learns is
    priced after a price sync, without a migration.

    The five ``*_usd_per_mtok`` / ``usd_per_k_requests`` columns and ``tiers`` are the common
    units as plain columns, for admin lists, filters and the API; a row typed by hand with only
    those columns (and no ``units``) is priced from them. Rows are never edited once used:
    ``sync_model_prices`` closes a row and opens a new one when a price changes.
    """

    # PROTECT: a price that priced generations is history.
    model = models.ForeignKey(AIModel, on_delete=models.PROTECT, related_name="prices")
    valid_from = models.DateTimeField()
    valid_to = models.DateTimeField(null=True, blank=True)
    currency = models.CharField(max_length=3, default="USD", editable=False)
    input_usd_per_mtok = models.DecimalField(**MONEY, null=True, blank=True)
    output_usd_per_mtok = models.DecimalField(**MONEY, null=True, blank=True)
    cache_read_usd_per_mtok = models.DecimalField(**MONEY, null=True, blank=True)
    cache_write_usd_per_mtok = models.DecimalField(**MONEY, null=True, blank=True)
    usd_per_k_requests = models.DecimalField(**MONEY, null=True, blank=True)
    tiers = models.JSONField(default=dict, blank=True)
    units = models.JSONField(
        default=dict,
        blank=True,
        help_text="Every genai-prices price unit of this version (USD per its unit, tiers included).",
    )
    source = models.CharField(max_length=100, blank=True, help_text="Where the price came from.")

    objects = ModelPriceQuerySet.as_manager()

    PRICE_FIELDS = PRICE_COLUMNS
    # genai-prices price key of each convenience column.
    COLUMN_UNITS = {
        "input_usd_per_mtok": "input_mtok",
        "output_usd_per_mtok": "output_mtok",
        "cache_read_usd_per_mtok": "cache_read_mtok",
        "cache_write_usd_per_mtok": "cache_write_mtok",
        "usd_per_k_requests": "requests_kcount",
    }

    class Meta:
        ordering = ["model", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["model", "valid_from"], name="modelprice_unique_start_per_model"),
            models.UniqueConstraint(
                fields=["model"], condition=Q(valid_to__isnull=True), name="modelprice_one_open_per_model"
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=F("valid_from")),
                name="modelprice_window_not_empty",
            ),
            models.CheckConstraint(
                condition=null_or_at_least(0, *PRICE_COLUMNS),
                name="modelprice_prices_not_negative",
            ),
        ]
        indexes = [models.Index(fields=["model", "valid_from"], name="modelprice_model_from_idx")]

    def __str__(self):
        end = self.valid_to.date().isoformat() if self.valid_to else "open"
        return f"{self.model_id and self.model} from {self.valid_from.date().isoformat()} to {end}"

    def price_units(self) -> dict:
        """Every price unit of this version in genai-prices' keys (``units``, or the columns
        when the row was typed by hand without them)."""
        if self.units:
            return self.units
        units = {}
        for column, key in self.COLUMN_UNITS.items():
            base = getattr(self, column)
            if base is None:
                continue
            tiers = (self.tiers or {}).get(column)
            if tiers:
                units[key] = {
                    "base": str(base),
                    "tiers": [{"start": int(t["start"]), "price": str(t["usd_per_mtok"])} for t in tiers],
                }
            else:
                units[key] = str(base)
        return units

    def comparable(self) -> dict:
        """The prices as plain data, for comparing two versions (sync's diff)."""
        return self.price_units()


class TokenCounts(models.Model):
    """Tokens by kind: what one metered call used, or (in analytics' rollups) the sum over many.

    ``input_tokens`` counts every input token, cached ones included, as genai-prices does.
    """

    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cache_read_tokens = models.BigIntegerField(default=0)
    cache_write_tokens = models.BigIntegerField(default=0)
    total_tokens = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class MeteredUsage(TokenCounts):
    """Which model a metered call used, what it used and what it cost: the one shape Generation
    and ProviderCall share.

    ``provider_name`` and ``model_name`` are the names the client sent; ``provider`` and
    ``model`` what they resolved to in the catalogue (null when nobody knows them: the row is
    kept, unpriced). ``usage`` is the full normalised usage, every genai-prices unit the call
    reported (``input_audio_tokens``, ``output_image_tokens``, ``web_searches`` …); the token
    columns (:class:`TokenCounts`) repeat its common units for filters, rollups and reports.
    What the client sent (``client_usage``, ``client_cost_usd``) is kept apart from what Inkwell computed
    (``cost_usd``, with ``cost_status`` and the ``price`` row used) by
    ``providers.metering`` at the price valid at ``occurred_at``. ``cost_usd`` is set exactly
    when ``cost_status`` is ``priced``: an unknown price or a missing usage is never a silent $0.
    Children add ``usage_and_cost_constraints`` to their Meta (named after their table).
    """

    provider_name = models.CharField(
        max_length=50, blank=True, help_text="The provider as the client sent it."
    )
    model_name = models.CharField(max_length=200, blank=True, help_text="The model as the client sent it.")
    provider = history_reference("providers.Provider")
    model = history_reference("providers.AIModel")
    occurred_at = models.DateTimeField(
        default=timezone.now, help_text="When the call happened; it is priced at the price valid then."
    )
    usage = models.JSONField(
        default=dict, blank=True, help_text="Every usage unit, normalised (genai-prices' unit names)."
    )
    client_usage = models.JSONField(
        null=True, blank=True, help_text="The usage object as the client sent it."
    )
    client_cost_usd = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="The client's own figure."
    )
    cost_usd = models.DecimalField(**MONEY, null=True, blank=True, help_text="Computed by Inkwell.")
    cost_status = models.CharField(max_length=10, choices=CostStatus.choices, default=CostStatus.UNPRICED)
    # SET_NULL: the stored cost is history and stays; only the link to a corrected price goes.
    # No index: nothing looks rows up by their price.
    price = models.ForeignKey(
        ModelPrice,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        help_text="The price the cost was computed with.",
    )

    class Meta:
        abstract = True


# --- Per organization: credentials, budgets, preferences -------------------------------------


class ProviderCredential(SoftDeleteModel, TenantModel):
    """An organization's API key for a provider, encrypted at rest.

    The key is never readable through the API, admin or logs: ``api_key_encrypted`` holds the
    ciphertext (``providers.crypto``), ``key_version`` the key material it was written with,
    ``fingerprint`` the keyed HMAC of the key (``providers.credentials.fingerprint_of``, to
    match usage rows) and ``last4`` its last
    four characters. Code that must call the provider gets the key from
    ``providers.credentials.credential_secret``.
    """

    # PROTECT: a provider with credentials is deactivated, not deleted.
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="credentials")
    name = models.CharField(max_length=100)
    api_key_encrypted = EncryptedSecretField(version_field="key_version")
    key_version = models.CharField(max_length=16, editable=False)
    fingerprint = models.CharField(max_length=64, editable=False)
    last4 = models.CharField(max_length=4, editable=False)
    status = models.CharField(
        max_length=16, choices=CredentialStatus.choices, default=CredentialStatus.ACTIVE
    )
    rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)

    audit_secret_fields = ("api_key_encrypted",)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            unique_while_alive("organization", "provider", "name", name="credential_unique_name_per_org"),
            models.CheckConstraint(
                condition=Q(fingerprint__regex=r"^[0-9a-f]{64}$"), name="credential_fingerprint_is_sha256"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "fingerprint"], name="credential_org_fingerprint_idx"),
            models.Index(fields=["organization", "-created_at"], name="credential_org_created_idx"),
        ]

    def __str__(self):
        return f"{self.name} (…{self.last4})"

    @property
    def is_usable(self) -> bool:
        """Active, not deleted and not expired."""
        return (
            self.status == CredentialStatus.ACTIVE
            and not self.is_deleted
            and (self.expires_at is None or self.expires_at > timezone.now())
        )


class Budget(SoftDeleteModel, TenantModel):
    """A spending and request-rate limit for an organization, optionally narrowed to one user
    reference and/or one credential.

    ``limit_usd`` applies to the current calendar ``period`` (UTC); the request limits to the
    last minute and hour. At least one limit is set. Spending is read from every registered
    spend source (``providers.spending``), so providers never imports the apps that record it.
    """

    name = models.CharField(max_length=100)
    # Null means every user; the same convention as generations' user_ref.
    user_ref = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    # CASCADE: a budget narrowed to a credential means nothing once the credential is purged
    # (credentials are soft-deleted otherwise, and the budget stays with them).
    credential = models.ForeignKey(
        ProviderCredential, on_delete=models.CASCADE, null=True, blank=True, related_name="budgets"
    )
    period = models.CharField(max_length=8, choices=BudgetPeriod.choices, default=BudgetPeriod.MONTH)
    limit_usd = models.DecimalField(**MONEY, null=True, blank=True)
    max_requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    max_requests_per_hour = models.PositiveIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)

    # The limits and the period the USD one counts over, as staff and the API list them.
    LIMIT_FIELDS = ("period", "limit_usd", "max_requests_per_minute", "max_requests_per_hour")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            unique_while_alive("organization", "name", name="budget_unique_name_per_org"),
            models.CheckConstraint(
                condition=Q(limit_usd__isnull=False)
                | Q(max_requests_per_minute__isnull=False)
                | Q(max_requests_per_hour__isnull=False),
                name="budget_has_a_limit",
                violation_error_message="Set a USD limit or a request limit.",
            ),
            models.CheckConstraint(
                condition=Q(limit_usd__isnull=True) | Q(limit_usd__gt=0, limit_usd__lte=MAX_LIMIT_USD),
                name="budget_limit_usd_in_range",
                violation_error_message=f"The USD limit must be above 0 and at most {MAX_LIMIT_USD:,}.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(max_requests_per_minute__isnull=True)
                    | Q(max_requests_per_minute__gte=1, max_requests_per_minute__lte=MAX_REQUESTS_LIMIT)
                )
                & (
                    Q(max_requests_per_hour__isnull=True)
                    | Q(max_requests_per_hour__gte=1, max_requests_per_hour__lte=MAX_REQUESTS_LIMIT)
                ),
                name="budget_request_limits_in_range",
                violation_error_message=f"Request limits must be between 1 and {MAX_REQUESTS_LIMIT:,}.",
            ),
            models.CheckConstraint(condition=~Q(user_ref=""), name="budget_user_ref_null_not_empty"),
        ]
        indexes = [models.Index(fields=["organization", "is_active"], name="budget_org_active_idx")]

    def __str__(self):
        return self.name

    def clean(self):
        # Tenant tables never point across organizations (and the schema stays shardable).
        if (
            self.credential_id
            and self.organization_id
            and self.credential.organization_id != self.organization_id
        ):
            raise ValidationError({"credential": "No such credential in this organization."})


class AIPreference(SoftDeleteModel, TenantModel):
    """How an organization (``user_ref`` null) or one of its users generates by default:
    preferred models with weights, generation mode, deep thinking, auto-generate.

    A user's preference, when present, replaces the organization's (see
    ``providers.selectors.ai_preference_effective``).
    """

    user_ref = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    default_generation_mode = models.CharField(
        max_length=16, choices=GenerationMode.choices, default=GenerationMode.PROFESSIONAL
    )
    deep_thinking = models.BooleanField(default=False)
    auto_generate = models.BooleanField(default=False)

    class Meta:
        verbose_name = "AI preference"
        ordering = ["-created_at", "-id"]
        constraints = [
            # nulls_distinct=False: one organization-wide row (user_ref null) per organization.
            unique_while_alive(
                "organization", "user_ref", name="aipreference_unique_user_per_org", nulls_distinct=False
            ),
            models.CheckConstraint(condition=~Q(user_ref=""), name="aipreference_user_ref_null_not_empty"),
        ]

    def __str__(self):
        return f"AI preference for {self.user_ref or 'the organization'}"


class PreferredModel(TenantModel):
    """One preferred model of an :class:`AIPreference`, with its weight (higher is chosen more)."""

    # CASCADE: the list belongs to its preference.
    preference = models.ForeignKey(AIPreference, on_delete=models.CASCADE, related_name="preferred_models")
    # PROTECT: a model named in a preference is deactivated, not deleted.
    model = models.ForeignKey(AIModel, on_delete=models.PROTECT, related_name="+")
    weight = models.DecimalField(max_digits=9, decimal_places=3, default=Decimal("1"))
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["preference", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "preference", "model"], name="preferredmodel_unique_per_preference"
            ),
            models.CheckConstraint(
                condition=Q(weight__gt=0, weight__lte=1000), name="preferredmodel_weight_in_range"
            ),
        ]

    def __str__(self):
        return f"{self.model_id}  x  {self.weight}"
