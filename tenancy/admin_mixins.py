"""Admin building blocks every app's ModelAdmin uses: audited writes, soft delete, tenant scope."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models
from django.forms.fields import InvalidJSONInput
from django.urls import path
from rest_framework.exceptions import ParseError

from tenancy import services
from tenancy.actors import Actor
from tenancy.admin_money import MoneyColumnsMixin
from tenancy.admin_walls import TenantWallsMixin, wall_queryset
from tenancy.api.parsers import DEFAULT_MAX_DEPTH, unstorable_text
from tenancy.choices import AuditAction
from tenancy.errors import DomainError
from tenancy.models import Organization, SoftDeleteModel


def _organization_of(obj):
    """The organization an audited admin write belongs to (an organization's own is itself)."""
    return obj if isinstance(obj, Organization) else getattr(obj, "organization", None)


def secret_input(label: str) -> forms.CharField:
    """A form field for a new secret (API key, token): write-only, never rendered back, blank
    keeps the stored one. The services encrypt it (``providers.crypto.store_secret``)."""
    return forms.CharField(
        label=label,
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only: encrypted, never shown again. Leave blank to keep the current value.",
    )


class StorableJSONField(forms.JSONField):
    """Django's JSON form field, refusing with a form error (never a 500) what the API's parser
    refuses: nesting past ``API_MAX_JSON_DEPTH`` (Python's decoder raises ``RecursionError`` past
    ~1,000 levels), NaN and Infinity (Python reads them, and ``1e999`` as ``inf``, but jsonb
    cannot store them) and a NUL or lone surrogate in a string. Every admin's JSON field uses it
    (``InkwellModelAdmin.formfield_overrides``), and the forms that declare their own."""

    def to_python(self, value):
        try:
            converted = super().to_python(value)
        except RecursionError:
            raise ValidationError("This JSON nests too deeply.", code="invalid") from None
        refusal = self.refusal(converted)
        if refusal:
            raise ValidationError(refusal, code="invalid")
        return converted

    def bound_data(self, data, initial):
        # A refused value is shown again as the text that was typed (Django's own decode would
        # recurse past the stack again, and re-encoding a deep value may too).
        try:
            value = super().bound_data(data, initial)
        except RecursionError:
            return InvalidJSONInput(data)
        if data is not None and not self.disabled and self.refusal(value):
            return InvalidJSONInput(data)
        return value

    @staticmethod
    def refusal(value) -> str | None:
        """Why ``value`` (decoded JSON) cannot be stored, or None."""
        try:
            found = unstorable_text(
                value,
                max_depth=getattr(settings, "API_MAX_JSON_DEPTH", DEFAULT_MAX_DEPTH),
                finite_numbers=True,
            )
        except ParseError as exc:
            return str(exc.detail)
        if not found:
            return None
        path, kind = found
        where = ".".join(map(str, path)) or "the top level"
        if kind == "number":
            return f"The number at {where} is not finite (NaN, Infinity or too large); JSON cannot hold it."
        return f"A text at {where} holds a NUL character or a lone surrogate, which cannot be stored."


def admin_actor(request) -> Actor:
    return Actor(user=request.user, request_id=getattr(request, "request_id", ""))


def field_values(obj, *names: str) -> dict:
    """The values an admin form put on its unsaved ``obj`` for ``names``: the keyword arguments a
    service takes (the form validated them; the service writes them)."""
    return {name: getattr(obj, name) for name in names}


def adopt_created(obj, created) -> None:
    """Make an add form's unsaved ``obj`` the row a create service wrote (``created``): the admin
    logs, names and redirects to ``obj`` after ``save_model``, so it must be the stored row,
    with the values the service set (key columns, status, timestamps) rather than the form's."""
    for field in created._meta.concrete_fields:
        setattr(obj, field.attname, getattr(created, field.attname))
    obj._state.adding = False


class AdminPagesMixin:
    """A ModelAdmin's own pages beyond Django's (a dashboard, a guide's check page): list them in
    ``admin_pages`` as ``(route, view method name, URL name)``; each is routed before the
    model's URLs, behind the admin's login (``admin_view``). Each view checks its permission."""

    admin_pages: list[tuple[str, str, str]] = []

    def get_urls(self):
        pages = [
            path(route, self.admin_site.admin_view(getattr(self, view)), name=name)
            for route, view, name in self.admin_pages
        ]
        return [*pages, *super().get_urls()]


class SoftDeleteListFilter(admin.SimpleListFilter):
    """Live rows by default; "Deleted" shows the trash, "Everything" both."""

    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("yes", "Deleted"), ("all", "Everything")]

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Live",
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "all":
            return queryset
        return queryset.filter(deleted_at__isnull=True)


class InkwellModelAdmin(TenantWallsMixin, MoneyColumnsMixin, admin.ModelAdmin):
    """ModelAdmin whose every save, delete and restore is audited.

    - Soft-deletable models: delete hides the row, the "deleted" filter shows the trash and the
      "Restore" action brings rows back.
    - Tenant walls (``tenancy.admin_walls``): staff who are not superusers see and change only
      their organizations' rows, by role, and global rows read-only.
    - USD columns show a sensible precision (``tenancy.admin_money``); the API stays exact.
    - JSON fields refuse what jsonb cannot store with a form error (:class:`StorableJSONField`).
    """

    formfield_overrides = {models.JSONField: {"form_class": StorableJSONField}}

    def _is_soft(self) -> bool:
        return issubclass(self.model, SoftDeleteModel)

    # --- scope ---------------------------------------------------------------------------
    def get_queryset(self, request):
        queryset = self.model.all_objects.all() if self._is_soft() else self.model._default_manager.all()
        ordering = self.get_ordering(request)
        if ordering:
            queryset = queryset.order_by(*ordering)
        return wall_queryset(queryset, request)

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if self._is_soft():
            filters.append(SoftDeleteListFilter)
        return filters

    def get_actions(self, request):
        actions = super().get_actions(request)
        if self._is_soft():
            actions["restore_selected"] = (
                type(self).restore_selected,
                "restore_selected",
                "Restore selected %(verbose_name_plural)s",
            )
        return actions

    # --- writes --------------------------------------------------------------------------
    def save_model(self, request, obj, form, change):
        before = None
        if change:
            manager = self.model.all_objects if self._is_soft() else self.model._base_manager
            before = services.audit_snapshot(manager.get(pk=obj.pk))
        services.audited_save(
            organization=_organization_of(obj),
            actor=admin_actor(request),
            instance=obj,
            before=before,
        )

    def delete_model(self, request, obj):
        organization = _organization_of(obj)
        if self._is_soft():
            services.soft_delete(organization=organization, actor=admin_actor(request), instance=obj)
            return
        services.audit_record(
            organization=organization,
            actor=admin_actor(request),
            action=AuditAction.HARD_DELETE,
            instance=obj,
        )
        obj.delete()

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)

    def for_each_row(self, request, rows, act, *, done: str) -> None:
        """An admin action's body: ``act(obj, actor)`` on each of ``rows`` (each a service call,
        so each is audited), then ``done`` (formatted with ``count``) shown to the user."""
        actor = admin_actor(request)
        count = 0
        for obj in rows:
            try:
                act(obj, actor)
            except DomainError as exc:  # a rule refused this row (a restore whose slug is taken)
                self.message_user(request, f"“{obj}”: {exc.detail}", messages.ERROR)
                continue
            count += 1
        self.message_user(request, done.format(count=count), messages.SUCCESS)

    def restore_one(self, obj, actor: Actor) -> None:
        """Bring one soft-deleted row back; an app whose restore does more overrides this."""
        services.restore(organization=_organization_of(obj), actor=actor, instance=obj)

    @admin.action(description="Restore selected rows")
    def restore_selected(self, request, queryset):
        self.for_each_row(
            request,
            queryset.filter(deleted_at__isnull=False),
            self.restore_one,
            done="Restored {count} row(s).",
        )


class ReadOnlyModelAdmin(InkwellModelAdmin):
    """A record nobody adds, edits or deletes in the admin, superusers included: rows arrive
    through the API or the services and leave through retention (raw analytics, rollups, the
    audit log). Staff who are not superusers see only their organizations' rows."""

    list_select_related = ["organization"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
