"""Which organization and role a request acts for.

An API key carries its organization and role. A logged-in staff user acts for the organization
of their membership; with several, the ``X-Organization`` header (a slug) chooses one.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from tenancy import rls
from tenancy.choices import Role
from tenancy.models import Membership, Organization, OrganizationAPIKey

ORGANIZATION_HEADER = "HTTP_X_ORGANIZATION"
_UNRESOLVED = object()


def _resolve(request) -> tuple[Organization | None, str | None]:
    auth = getattr(request, "auth", None)
    if isinstance(auth, OrganizationAPIKey):
        return auth.organization, auth.role
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not hasattr(user, "memberships"):
        return None, None
    memberships = Membership.objects.select_related("organization").filter(
        user=user, organization__is_active=True
    )
    wanted = request.META.get(ORGANIZATION_HEADER)
    if wanted:
        memberships = memberships.filter(organization__slug=wanted)
    # Before the organization is known the tenant wall admits nothing; the query is the user's own.
    with rls.rls_bypass(reason="membership resolution"):
        chosen = list(memberships[:2])
    if len(chosen) != 1:
        return None, None
    return chosen[0].organization, chosen[0].role


def _resolved(request) -> tuple[Organization | None, str | None]:
    cached = getattr(request, "_inkwell_tenant", _UNRESOLVED)
    if cached is _UNRESOLVED:
        cached = _resolve(request)
        request._inkwell_tenant = cached
        # The database wall follows the code wall: from here on the connection admits this
        # organization's rows (and global rows) only; RowLevelSecurityMiddleware restores it.
        organization = cached[0]
        rls.use_scope(rls.RowScope(organization_ids=(organization.pk,) if organization else ()))
    return cached


def request_organization(request) -> Organization | None:
    """The organization this request acts for, or None when it has none (or is ambiguous)."""
    return _resolved(request)[0]


def request_role(request) -> str | None:
    """The caller's role in :func:`request_organization`."""
    return _resolved(request)[1]


def role_at_least(request, minimum: str) -> bool:
    """Whether the caller's role is ``minimum`` or stronger."""
    role = request_role(request)
    return role is not None and Role.rank(role) >= Role.rank(minimum)


def scope_to_organization(
    queryset: QuerySet, organization: Organization | None, *, include_global: bool = False
):
    """Rows of ``queryset`` owned by ``organization`` (and global rows, whose organization is
    null, when ``include_global``). No organization means no rows, never all of them."""
    if organization is None:
        return queryset.none()
    scope = Q(organization=organization)
    if include_global:
        scope |= Q(organization__isnull=True)
    return queryset.filter(scope)
