"""Admin for organizations, memberships, API keys (shown once) and the read-only audit log."""

from django import forms
from django.contrib import admin, messages
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from tenancy import services
from tenancy.admin_mixins import InkwellModelAdmin, ReadOnlyModelAdmin, admin_actor
from tenancy.admin_walls import organizations_with_role, sees_everything
from tenancy.choices import AuditAction, Role
from tenancy.models import AuditEvent, Membership, Organization, OrganizationAPIKey

admin.site.site_header = "Inkwell"
admin.site.site_title = "Inkwell admin"
admin.site.index_title = "Content generation records, style guides and costs"

# The library's own APIKey model belongs to no organization; ours replaces it.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)


class MembershipAdminForm(forms.ModelForm):
    """Only an organization's owners (and superusers) make or unmake owners there."""

    request = None  # set per request by the admin below

    def clean(self):
        cleaned = super().clean()
        if self.request is None or sees_everything(self.request.user):
            return cleaned
        organization = cleaned.get("organization") or getattr(self.instance, "organization", None)
        touches_owner = cleaned.get("role") == Role.OWNER or (
            self.instance.pk is not None and self.instance.role == Role.OWNER
        )
        # The user's roles as the walls read them: in active organizations only.
        is_owner = organization is not None and organization.pk in organizations_with_role(
            self.request, Role.OWNER
        )
        if touches_owner and not is_owner:
            raise forms.ValidationError("Only the organization's owners can make or change an owner.")
        return cleaned


class _MembershipFormForRequest:
    """Hands the request to :class:`MembershipAdminForm`."""

    form = MembershipAdminForm

    def get_form(self, request, obj=None, **kwargs):
        return type("MembershipForm", (super().get_form(request, obj, **kwargs),), {"request": request})

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = type("MembershipForm", (formset.form,), {"request": request})
        return formset


class MembershipInline(_MembershipFormForRequest, admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(InkwellModelAdmin):
    list_display = ["name", "slug", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]

    # Creating, deleting and (de)activating organizations is the superusers' (the walls refuse
    # add and delete); an owner may rename his and manage its memberships and keys.
    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        return readonly if request.user.is_superuser else (*readonly, "slug", "is_active")

    def get_prepopulated_fields(self, request, obj=None):
        return super().get_prepopulated_fields(request, obj) if request.user.is_superuser else {}


@admin.register(Membership)
class MembershipAdmin(_MembershipFormForRequest, InkwellModelAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role", "organization"]
    search_fields = ["user__username", "user__email", "organization__name"]
    autocomplete_fields = ["user", "organization"]


@admin.register(OrganizationAPIKey)
class OrganizationAPIKeyAdmin(InkwellModelAdmin, APIKeyModelAdmin):
    """The key is shown once, in a message right after creation; afterwards only its prefix.

    The scoped base comes first (walls, money columns); the library's admin still supplies
    the read-only prefix and the revoked-key fields through ``get_readonly_fields``."""

    list_display = [
        "prefix",
        "name",
        "organization",
        "role",
        "created",
        "expiry_date",
        "_has_expired",
        "revoked",
        "last_used_at",
    ]
    list_filter = ["organization", "role", "revoked", "created"]
    search_fields = ["name", "prefix", "organization__name"]
    fields = ["organization", "name", "role", "expiry_date", "revoked", "prefix", "last_used_at"]

    def get_readonly_fields(self, request, obj=None):
        readonly = (*super().get_readonly_fields(request, obj), "last_used_at")
        if obj is not None:
            readonly = (*readonly, "organization")
        return readonly

    def save_model(self, request, obj, form, change):
        actor = admin_actor(request)
        if not change:
            plain_key = OrganizationAPIKey.objects.assign_key(obj)
            services.audited_save(organization=obj.organization, actor=actor, instance=obj)
            messages.warning(
                request,
                f"The API key for {obj.name} is: {plain_key} . Store it somewhere safe now: "
                "it is shown only this once.",
            )
            return
        before = services.audit_snapshot(OrganizationAPIKey.objects.get(pk=obj.pk))
        newly_revoked = obj.revoked and not before["revoked"]
        services.audited_save(
            organization=obj.organization,
            actor=actor,
            instance=obj,
            before=before,
            action=AuditAction.REVOKE if newly_revoked else None,
        )

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead, so audit events keep their actor


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyModelAdmin):
    """Append-only: nobody adds, edits or deletes audit events, superusers included."""

    list_display = [
        "created_at",
        "organization",
        "actor_label",
        "action",
        "object_type",
        "object_id",
        "object_repr",
    ]
    list_filter = ["action", "object_type", "organization"]
    search_fields = ["object_id", "object_repr", "actor_label", "request_id"]
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]
