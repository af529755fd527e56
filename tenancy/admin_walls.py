"""The admin's tenant walls, in one place every ModelAdmin and inline inherits.

:class:`InkwellAdminSite` (``admin.site``; see ``tenancy.apps.InkwellAdminConfig``) mixes
:class:`TenantWallsMixin` into every admin class registered with it, Django's and libraries'
included, and the mixin does the same for each admin's inlines. A staff user who is not a
superuser therefore sees and changes, on every page, list filter, search, action,
autocomplete and form choice, only:

- the organizations he is a member of (their existence and activity are the superusers');
- their rows, by his role there (:data:`MODEL_ROLES`: memberships, API keys and the audit log
  need admin or owner; other rows need viewer to see and editor to change);
- global rows (``organization`` null, or models with no organization: providers, verticals),
  read-only; the users who share an organization with him, read-only.

Another organization's object id in a URL is a 404. Superusers see everything. The database
admits the same organizations underneath (``tenancy.rls``), so a query these walls miss still
cannot reach another tenant.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.filters import RelatedFieldListFilter, RelatedOnlyFieldListFilter
from django.contrib.admin.utils import NotRelationField, get_fields_from_path
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Q
from django.http import Http404
from django.urls import NoReverseMatch, reverse

from tenancy import rls
from tenancy.admin_input import AdminInputGuardsMixin
from tenancy.choices import Role
from tenancy.models import Membership, Organization

# (role to see rows, role to change them) by model label; everything else: viewer, editor.
MODEL_ROLES: dict[str, tuple[str, str]] = {
    "tenancy.organization": (Role.VIEWER, Role.OWNER),
    "tenancy.membership": (Role.ADMIN, Role.ADMIN),
    "tenancy.organizationapikey": (Role.ADMIN, Role.ADMIN),
    "tenancy.auditevent": (Role.ADMIN, Role.ADMIN),
}
DEFAULT_ROLES = (Role.VIEWER, Role.EDITOR)
# Rows with no organization that are not shared catalogue but platform records.
PRIVATE_GLOBAL_ROWS = {"tenancy.auditevent"}


def is_admin_request(request) -> bool:
    """Whether ``request`` is for the admin site."""
    try:
        return request.path.startswith(reverse("admin:index"))
    except NoReverseMatch:
        return False


def staff_roles(request) -> dict[int, str]:
    """``{organization id: role}`` of the request's user in active organizations (cached)."""
    cached = getattr(request, "_inkwell_staff_roles", None)
    if cached is None:
        user = request.user
        cached = {}
        if user.is_authenticated and user.is_active:
            with rls.rls_bypass(reason="staff membership look-up"):
                cached = dict(
                    Membership.objects.filter(user=user, organization__is_active=True).values_list(
                        "organization_id", "role"
                    )
                )
        request._inkwell_staff_roles = cached
    return cached


def organizations_with_role(request, minimum: str) -> list[int]:
    """Ids of the organizations where the user's role is ``minimum`` or stronger."""
    return [pk for pk, role in staff_roles(request).items() if Role.rank(role) >= Role.rank(minimum)]


def model_roles(model) -> tuple[str, str]:
    return MODEL_ROLES.get(model._meta.label_lower, DEFAULT_ROLES)


def sees_everything(user) -> bool:
    """Whether the walls stand aside for ``user``: an active superuser."""
    return user.is_active and user.is_superuser


def staff_organization_ids(request, model, *, write: bool = False) -> list[int] | None:
    """Ids of the organizations whose ``model`` rows the request's user may see (``write``:
    change), by his role in each: the one answer the walls, search and organization choices use.

    ``None`` for an active superuser (every organization, inactive ones too); for other staff,
    only active organizations (:func:`staff_roles`); nothing for a user who is not active staff.
    """
    user = request.user
    if sees_everything(user):
        return None
    if not (user.is_active and user.is_staff):
        return []
    view_role, write_role = model_roles(model)
    return organizations_with_role(request, write_role if write else view_role)


def organization_field(model):
    """The model's ``organization`` foreign key to :class:`Organization`, or None."""
    try:
        field = model._meta.get_field("organization")
    except FieldDoesNotExist:
        return None
    if field.is_relation and field.many_to_one and field.related_model is Organization:
        return field
    return None


def _is_user_model(model) -> bool:
    return issubclass(model, get_user_model())


def is_global_model(model) -> bool:
    """Rows that belong to no organization: shared catalogue, groups (read-only to staff)."""
    return model is not Organization and not _is_user_model(model) and organization_field(model) is None


def organization_id_of(obj) -> int | None:
    """The organization an object belongs to (itself for an organization); None for global."""
    if isinstance(obj, Organization):
        return obj.pk
    return getattr(obj, "organization_id", None)


def wall_queryset(queryset, request, *, write: bool = False, organizations=None):
    """``queryset`` cut to what the request's staff user may see (or, ``write``, change).

    ``organizations`` overrides which organization ids count (for organization choices that
    depend on the model being edited)."""
    user = request.user
    if sees_everything(user):
        return queryset
    if not (user.is_active and user.is_staff):
        return queryset.none()
    model = queryset.model
    if organizations is None:
        organizations = staff_organization_ids(request, model, write=write)
    if model is Organization:
        return queryset.filter(pk__in=organizations)
    if _is_user_model(model):
        if write:
            return queryset.none()
        members = Membership.objects.filter(organization_id__in=organizations).values("user_id")
        return queryset.filter(pk__in=members)
    field = organization_field(model)
    if field is None:
        return queryset.none() if write else queryset
    scope = Q(organization_id__in=organizations)
    if field.null and not write and model._meta.label_lower not in PRIVATE_GLOBAL_ROWS:
        scope |= Q(organization__isnull=True)
    return queryset.filter(scope)


def may_see(request, model, obj) -> bool:
    organizations = staff_organization_ids(request, model)
    if organizations is None:
        return True
    organization_id = organization_id_of(obj)
    if organization_id is None:
        return is_global_model(type(obj)) or (
            organization_field(model) is not None
            and organization_field(model).null
            and model._meta.label_lower not in PRIVATE_GLOBAL_ROWS
        )
    return organization_id in organizations


def may_change(request, model, obj) -> bool:
    """Whether the user may write ``model`` rows of ``obj``'s organization (``obj`` is the row, or
    an inline's parent); global rows and organizations' existence are the superusers'."""
    writable = staff_organization_ids(request, model, write=True)
    if writable is None:
        return True
    if is_global_model(model) or _is_user_model(model):
        return False
    if obj is None:
        return bool(writable)
    return organization_id_of(obj) in writable


class WalledRelatedOnlyFieldListFilter(RelatedOnlyFieldListFilter):
    """A relation's filter offering only the related rows the walled changelist references."""


class TenantWallsMixin(AdminInputGuardsMixin):
    """The walls for a ModelAdmin or an inline; mixed in by :class:`InkwellAdminSite`, with the
    guards against input the database cannot take (``tenancy.admin_input``)."""

    def _walls_apply(self, request) -> bool:
        return not sees_everything(request.user)

    # --- rows ----------------------------------------------------------------------------
    def get_queryset(self, request):
        return wall_queryset(super().get_queryset(request), request)

    def staff_organizations(self, request):
        """Organizations whose rows of this model the user may see (all, for superusers)."""
        organizations = staff_organization_ids(request, self.model)
        if organizations is None:
            return Organization.objects.all()
        return Organization.objects.filter(pk__in=organizations)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None and self._walls_apply(request):
            raise Http404("No such object.")  # the same answer whether it exists elsewhere or not
        return obj

    # --- permissions ---------------------------------------------------------------------
    def has_view_permission(self, request, obj=None):
        if obj is not None and self._walls_apply(request) and not may_see(request, self.model, obj):
            return False
        return super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args):
        obj = args[0] if args else None  # inlines pass their parent
        if self._walls_apply(request) and (
            self.model is Organization or not may_change(request, self.model, obj)
        ):
            return False
        return super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        if self._walls_apply(request) and not may_change(request, self.model, obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if self._walls_apply(request) and (
            self.model is Organization or not may_change(request, self.model, obj)
        ):
            return False
        return super().has_delete_permission(request, obj)

    # --- choices -------------------------------------------------------------------------
    def _walled_choices(self, db_field, request, queryset):
        if queryset is None:
            queryset = db_field.remote_field.model._default_manager.all()
        if db_field.remote_field.model is Organization:
            writable = staff_organization_ids(request, self.model, write=True)
            return wall_queryset(queryset, request, organizations=writable)
        return wall_queryset(queryset, request)

    def _walled_field_kwargs(self, db_field, request, kwargs) -> dict:
        """A relation field's ``kwargs`` with its choices cut to the walls."""
        if self._walls_apply(request):
            queryset = kwargs.get("queryset")
            if queryset is None:
                queryset = self.get_field_queryset(None, db_field, request)
            kwargs["queryset"] = self._walled_choices(db_field, request, queryset)
        return kwargs

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        return super().formfield_for_foreignkey(
            db_field, request, **self._walled_field_kwargs(db_field, request, kwargs)
        )

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        return super().formfield_for_manytomany(
            db_field, request, **self._walled_field_kwargs(db_field, request, kwargs)
        )

    # --- changelist ----------------------------------------------------------------------
    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if not self._walls_apply(request):
            return filters
        return [self._walled_filter(entry) for entry in filters]

    def _walled_filter(self, entry):
        """Relation filters list every related row; offer only those the walled rows use."""
        if isinstance(entry, str):
            path = entry
            try:
                field = get_fields_from_path(self.model, path)[-1]
            except (FieldDoesNotExist, NotRelationField):
                return entry
            return (path, WalledRelatedOnlyFieldListFilter) if field.is_relation else entry
        if isinstance(entry, (tuple, list)) and len(entry) == 2:
            path, filter_class = entry
            if isinstance(filter_class, type) and issubclass(filter_class, RelatedFieldListFilter):
                return (path, WalledRelatedOnlyFieldListFilter)
        return entry

    def response_action(self, request, queryset):
        # Actions change rows: only those the user may change, whatever was ticked.
        if self._walls_apply(request):
            queryset = wall_queryset(queryset, request, write=True)
        return super().response_action(request, queryset)

    # --- inlines -------------------------------------------------------------------------
    def get_inlines(self, request, obj):
        return [walled(inline) for inline in super().get_inlines(request, obj)]


_walled_classes: dict[type, type] = {}


def walled(admin_class: type) -> type:
    """``admin_class`` with :class:`TenantWallsMixin` first in its bases (itself if it has it)."""
    if issubclass(admin_class, TenantWallsMixin):
        return admin_class
    if admin_class not in _walled_classes:
        _walled_classes[admin_class] = type(
            admin_class.__name__,
            (TenantWallsMixin, admin_class),
            {"__module__": admin_class.__module__, "__doc__": admin_class.__doc__},
        )
    return _walled_classes[admin_class]


class InkwellAdminSite(admin.AdminSite):
    """The admin site: every registered admin gets the tenant walls."""

    def register(self, model_or_iterable, admin_class=None, **options):
        return super().register(model_or_iterable, walled(admin_class or admin.ModelAdmin), **options)
