"""Admin of the providers app: catalogue and prices, masked credentials, budgets, preferences.

Credentials show their fingerprint and last four characters only; a new key is typed into a
password field that never renders a value, and is saved through the credential services (so it
is encrypted and the change audited without the value).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from providers import models, services
from providers.choices import CredentialStatus
from tenancy.admin_mixins import InkwellModelAdmin, admin_actor, adopt_created, field_values, secret_input
from tenancy.choices import AuditAction
from tenancy.errors import DomainError
from tenancy.services import audit_record


@admin.register(models.Provider)
class ProviderAdmin(InkwellModelAdmin):
    list_display = ["slug", "name", "is_active", "pricing_url"]
    list_filter = ["is_active"]
    search_fields = ["slug", "name"]


class ModelPriceInline(admin.TabularInline):
    """A model's price versions, newest first; edited on the price's own page (audited)."""

    model = models.ModelPrice
    extra = 0
    can_delete = False
    show_change_link = True
    fields = [
        "valid_from",
        "valid_to",
        *models.ModelPrice.PRICE_FIELDS,
        "tiers",
        "units",
        "source",
    ]
    readonly_fields = fields
    ordering = ["-valid_from"]

    def has_add_permission(self, request, obj=None):
        return False


PRICE_FIELD_LABELS = {
    "input_usd_per_mtok": "Input (USD per million tokens)",
    "output_usd_per_mtok": "Output (USD per million tokens)",
    "cache_read_usd_per_mtok": "Cache read (USD per million tokens)",
    "cache_write_usd_per_mtok": "Cache write (USD per million tokens)",
    "usd_per_k_requests": "USD per thousand requests",
}


def _price_field(label: str) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=False,
        min_value=0,
        max_digits=20,
        decimal_places=10,
        help_text="Saved as a new price version from now on; empty removes this unit.",
    )


class AIModelAdminForm(forms.ModelForm):
    """The model's fields plus its current price: a changed price is saved as a new version
    from now on (``services.model_price_change``), never by editing the version in force."""

    input_usd_per_mtok = _price_field(PRICE_FIELD_LABELS["input_usd_per_mtok"])
    output_usd_per_mtok = _price_field(PRICE_FIELD_LABELS["output_usd_per_mtok"])
    cache_read_usd_per_mtok = _price_field(PRICE_FIELD_LABELS["cache_read_usd_per_mtok"])
    cache_write_usd_per_mtok = _price_field(PRICE_FIELD_LABELS["cache_write_usd_per_mtok"])
    usd_per_k_requests = _price_field(PRICE_FIELD_LABELS["usd_per_k_requests"])

    class Meta:
        model = models.AIModel
        fields = list(models.AIModel.CATALOGUE_FIELDS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = self.instance.prices.valid_at(timezone.now()).first() if self.instance.pk else None
        if current is not None:
            for column in PRICE_FIELD_LABELS:
                self.fields[column].initial = getattr(current, column)


@admin.register(models.AIModel)
class AIModelAdmin(InkwellModelAdmin):
    list_display = [
        "name",
        "provider",
        "display_name",
        "context_window",
        "max_output_tokens",
        "is_active",
        "is_deprecated",
    ]
    list_filter = ["provider", "is_active", "is_deprecated"]
    search_fields = ["name", "display_name", "provider__slug"]
    list_select_related = ["provider"]
    inlines = [ModelPriceInline]
    form = AIModelAdminForm

    def get_fieldsets(self, request, obj=None):
        model_fields = [name for name in self.get_fields(request, obj) if name not in PRICE_FIELD_LABELS]
        return [
            (None, {"fields": model_fields}),
            ("Current price", {"fields": list(PRICE_FIELD_LABELS)}),
        ]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        changed = [column for column in PRICE_FIELD_LABELS if column in form.changed_data]
        if changed:
            services.model_price_change(
                model=obj,
                prices={column: form.cleaned_data[column] for column in changed},
                actor=admin_actor(request),
            )


@admin.register(models.ModelPrice)
class ModelPriceAdmin(InkwellModelAdmin):
    list_display = [
        "model",
        "valid_from",
        "valid_to",
        *models.ModelPrice.PRICE_FIELDS,
        "unit_count",
        "source",
    ]
    list_filter = ["model__provider", "source", ("valid_to", admin.EmptyFieldListFilter)]
    search_fields = ["model__name", "model__provider__slug"]
    list_select_related = ["model__provider"]
    autocomplete_fields = ["model"]
    date_hierarchy = "valid_from"
    readonly_fields = ["units_table"]

    @admin.display(description="Units")
    def unit_count(self, obj: models.ModelPrice) -> int:
        """How many genai-prices units this version prices (audio, images, searches …)."""
        return len(obj.price_units())

    @admin.display(description="Every price unit (USD per unit)")
    def units_table(self, obj: models.ModelPrice):
        """Every unit this version prices, as genai-prices names them, tiers included."""
        rows = []
        for key, value in sorted(obj.price_units().items()):
            if isinstance(value, dict):
                tiers = ", ".join(f"above {tier['start']:,}: {tier['price']}" for tier in value["tiers"])
                rows.append(format_html("<tr><td>{}</td><td>{} ({})</td></tr>", key, value["base"], tiers))
            else:
                rows.append(format_html("<tr><td>{}</td><td>{}</td></tr>", key, value))
        return format_html("<table>{}</table>", format_html_join("", "{}", ((row,) for row in rows)))


class ProviderCredentialForm(forms.ModelForm):
    """``new_api_key`` is required on add and optional on change (blank keeps the key)."""

    new_api_key = secret_input("New API key")

    class Meta:
        model = models.ProviderCredential
        fields = ["organization", "provider", "name", "status", "expires_at"]

    def clean_new_api_key(self):
        value = self.cleaned_data.get("new_api_key") or ""
        if not value and self.instance.pk is None:
            raise ValidationError("A new credential needs its API key.")
        if value:
            try:
                value = services.api_key_clean(value)
            except DomainError as exc:
                raise ValidationError(exc.detail) from None
        return value


@admin.register(models.ProviderCredential)
class ProviderCredentialAdmin(InkwellModelAdmin):
    form = ProviderCredentialForm
    list_display = ["name", "organization", "provider", "status", "last4", "short_fingerprint", "expires_at"]
    list_filter = ["provider", "status", "organization"]
    search_fields = ["name", "last4", "fingerprint", "organization__name"]
    list_select_related = ["provider", "organization"]
    readonly_fields = ["fingerprint", "last4", "key_version", "rotated_at", "created_at", "updated_at"]
    actions = ["revoke_selected"]

    def get_fields(self, request, obj=None):
        fields = ["organization", "provider", "name", "new_api_key", "status", "expires_at"]
        return fields if obj is None else [*fields, *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        # The provider is part of what the key is; a credential for another provider is a new one.
        return self.readonly_fields if obj is None else [*self.readonly_fields, "organization", "provider"]

    @admin.display(description="fingerprint")
    def short_fingerprint(self, obj):
        return f"{obj.fingerprint[:12]}…"

    def save_model(self, request, obj, form, change):
        actor = admin_actor(request)
        new_key = form.cleaned_data.get("new_api_key")
        if not change:
            created = services.credential_create(
                organization=obj.organization,
                actor=actor,
                api_key=new_key,
                **field_values(obj, "provider", "name", "expires_at"),
            )
            adopt_created(obj, created)
            return
        stored = models.ProviderCredential.all_objects.get(pk=obj.pk)
        services.credential_update(
            organization=stored.organization,
            actor=actor,
            credential=stored,
            name=obj.name,
            status=obj.status,
            expires_at=obj.expires_at,
        )
        if new_key:
            services.credential_rotate(
                organization=stored.organization, actor=actor, credential=stored, api_key=new_key
            )
            messages.info(request, f"The API key was replaced (now …{stored.last4}).")

    @admin.action(description="Revoke selected credentials")
    def revoke_selected(self, request, queryset):
        self.for_each_row(
            request,
            queryset.exclude(status=CredentialStatus.REVOKED),
            lambda credential, actor: services.credential_revoke(
                organization=credential.organization, actor=actor, credential=credential
            ),
            done="Revoked {count} credential(s).",
        )


@admin.register(models.Budget)
class BudgetAdmin(InkwellModelAdmin):
    list_display = [
        "name",
        "organization",
        "user_ref",
        "credential",
        *models.Budget.LIMIT_FIELDS,
        "is_active",
    ]
    list_filter = ["period", "is_active", "organization"]
    search_fields = ["name", "user_ref", "organization__name"]
    list_select_related = ["organization", "credential"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "credential" and not request.user.is_superuser:
            kwargs["queryset"] = models.ProviderCredential.objects.filter(
                organization__in=self.staff_organizations(request)
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class PreferredModelInline(admin.TabularInline):
    model = models.PreferredModel
    extra = 1
    fields = ["model", "weight", "position"]
    autocomplete_fields = ["model"]


@admin.register(models.AIPreference)
class AIPreferenceAdmin(InkwellModelAdmin):
    list_display = [
        "__str__",
        "organization",
        "user_ref",
        "default_generation_mode",
        "deep_thinking",
        "auto_generate",
    ]
    list_filter = ["default_generation_mode", "deep_thinking", "auto_generate", "organization"]
    search_fields = ["user_ref", "organization__name"]
    list_select_related = ["organization"]
    inlines = [PreferredModelInline]

    def save_formset(self, request, form, formset, change):
        rows = formset.save(commit=False)
        for row in rows:
            row.organization_id = form.instance.organization_id
            row.save()
        for row in formset.deleted_objects:
            row.delete()
        if rows or formset.deleted_objects:
            audit_record(
                organization=form.instance.organization,
                actor=admin_actor(request),
                action=AuditAction.UPDATE,
                instance=form.instance,
                changes={
                    "preferred_models": [
                        None,
                        [
                            f"{row.model}*{row.weight}"
                            for row in form.instance.preferred_models.select_related("model")
                        ],
                    ]
                },
            )
