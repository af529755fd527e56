"""Admin of publishing: accounts with masked secrets, and the queue of posts by day.

Secrets are typed into password fields that never render a value and are saved through the
services (encrypted, audited without values). Posts are created through the service (so their
job is queued) and then only cancelled or retried, like through the API.
"""

from __future__ import annotations

import copy

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.forms.models import construct_instance

from generations.publishing import services
from generations.publishing.choices import PostStatus
from generations.publishing.models import ScheduledPost, SocialAccount
from tenancy.admin_mixins import InkwellModelAdmin, admin_actor, adopt_created, field_values, secret_input
from tenancy.errors import DomainError

SECRET_INPUTS = {
    "new_access_token": "access_token",
    "new_refresh_token": "refresh_token",
    "new_signing_secret": "signing_secret",
}


class SocialAccountForm(forms.ModelForm):
    new_access_token = secret_input("New OAuth access token")
    new_refresh_token = secret_input("New OAuth refresh token")
    new_signing_secret = secret_input("New webhook signing secret")
    webhook_url = forms.URLField(
        max_length=2000, required=False, assume_scheme="https", help_text="Webhook accounts: where posts go."
    )

    class Meta:
        model = SocialAccount
        fields = [
            "organization",
            "platform",
            "handle",
            "display_name",
            "webhook_url",
            "token_expires_at",
            "is_active",
        ]

    def clean(self):
        cleaned = super().clean()
        for field, name in SECRET_INPUTS.items():
            if cleaned.get(field):
                try:
                    cleaned[field] = services.secret_clean(name, cleaned[field])
                except DomainError as exc:
                    self.add_error(field, exc.detail)
        # The service refuses what its platform's publisher lacks; ask the same rule here, on a copy
        # carrying the typed secrets, so the form says it instead of the save failing.
        candidate = construct_instance(self, copy.copy(self.instance))
        for field, name in SECRET_INPUTS.items():
            if cleaned.get(field):
                services.set_secret(candidate, name, cleaned[field])
        input_for = {name: field for field, name in SECRET_INPUTS.items()}
        for name, message in services.platform_errors(candidate).items():
            field = input_for.get(name, name)
            if field not in self.fields:
                self.add_error(None, message)
            elif field not in self.errors:  # a bad URL is said once, not also "needs its URL"
                self.add_error(field, message)
        return cleaned


@admin.register(SocialAccount)
class SocialAccountAdmin(InkwellModelAdmin):
    form = SocialAccountForm
    list_display = [
        "handle",
        "platform",
        "organization",
        "display_name",
        "is_active",
        "access_token_last4",
        "token_expires_at",
    ]
    list_filter = ["platform", "is_active", "organization"]
    search_fields = ["handle", "display_name", "organization__name"]
    list_select_related = ["organization"]
    readonly_fields = [
        "access_token_last4",
        "access_token_fingerprint",
        "refresh_token_last4",
        "signing_secret_last4",
        "created_at",
        "updated_at",
    ]

    def get_fields(self, request, obj=None):
        fields = [*SocialAccountForm.Meta.fields, *SECRET_INPUTS]
        return fields if obj is None else [*fields, *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is None else [*self.readonly_fields, "organization", "platform"]

    def save_model(self, request, obj, form, change):
        secrets = {
            name: form.cleaned_data[field]
            for field, name in SECRET_INPUTS.items()
            if form.cleaned_data.get(field)
        }
        # The organization is the service's own argument, not one of the fields it sets.
        named = [name for name in SocialAccountForm.Meta.fields if name in form.cleaned_data]
        fields = field_values(obj, *(name for name in named if name != "organization"))
        if not change:
            created = services.social_account_create(
                organization=obj.organization, actor=admin_actor(request), secrets=secrets, **fields
            )
            adopt_created(obj, created)
            return
        stored = SocialAccount.all_objects.get(pk=obj.pk)
        fields.pop("platform", None)
        services.social_account_update(
            organization=stored.organization,
            actor=admin_actor(request),
            account=stored,
            secrets=secrets,
            **fields,
        )


class ScheduledPostAddForm(forms.ModelForm):
    class Meta:
        model = ScheduledPost
        fields = ["organization", "account", "generation", "text", "publish_at", "max_attempts"]

    def clean(self):
        cleaned = super().clean()
        # The service checks the same before writing; here the message lands on the form.
        account, organization = cleaned.get("account"), cleaned.get("organization")
        if account and organization and account.organization_id != organization.pk:
            raise ValidationError({"account": "That account belongs to another organization."})
        return cleaned


@admin.register(ScheduledPost)
class ScheduledPostAdmin(InkwellModelAdmin):
    list_display = [
        "id",
        "publish_at",
        "account",
        "organization",
        "status",
        "attempts",
        "published_at",
        "short_error",
    ]
    list_filter = ["status", "account__platform", "organization"]
    list_select_related = ["account", "organization"]
    search_fields = ["text", "external_id", "idempotency_key", "account__handle"]
    date_hierarchy = "publish_at"
    ordering = ["-publish_at", "-id"]
    actions = ["cancel_selected", "retry_selected"]
    raw_id_fields = ["generation"]
    # A post's page shows all of it read-only (posts are history: the worker and the actions
    # change them): its organization, the post's own fields in model order, its timestamps.
    readonly_fields = [
        "organization",
        *(
            field.name
            for field in ScheduledPost._meta.fields
            if not field.primary_key and field.name not in {"organization", "created_at", "updated_at"}
        ),
        "created_at",
        "updated_at",
    ]

    @admin.display(description="last error")
    def short_error(self, obj):
        return obj.last_error[:80]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ScheduledPostAddForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_fields(self, request, obj=None):
        return ScheduledPostAddForm.Meta.fields if obj is None else self.readonly_fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "account" and not request.user.is_superuser:
            kwargs["queryset"] = SocialAccount.objects.filter(
                organization__in=self.staff_organizations(request)
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_delete_permission(self, request, obj=None):
        return False  # posts are history: cancel them

    def save_model(self, request, obj, form, change):
        if change:  # pragma: no cover - the change form is read-only
            return
        post, _ = services.scheduled_post_create(
            organization=obj.organization,
            actor=admin_actor(request),
            account=obj.account,
            generation=obj.generation,
            text=obj.text,
            publish_at=obj.publish_at,
            max_attempts=obj.max_attempts,
        )
        adopt_created(obj, post)

    def _each(self, request, queryset, service, verb: str) -> None:
        done, refused = 0, []
        for post in queryset.select_related("organization"):
            try:
                service(organization=post.organization, actor=admin_actor(request), post=post)
                done += 1
            except DomainError as exc:
                refused.append(f"#{post.pk}: {exc.detail}")
        self.message_user(request, f"{verb} {done} post(s).", messages.SUCCESS)
        if refused:
            self.message_user(request, "Not changed: " + "; ".join(refused), messages.WARNING)

    @admin.action(description="Cancel selected posts")
    def cancel_selected(self, request, queryset):
        self._each(
            request,
            queryset.filter(status__in=PostStatus.cancellable()),
            services.scheduled_post_cancel,
            "Cancelled",
        )

    @admin.action(description="Retry selected posts")
    def retry_selected(self, request, queryset):
        self._each(request, queryset, services.scheduled_post_retry, "Retried")
