"""The admin's tenant walls: a staff user of one organization reaches nothing of another's.

Given two organizations with a row of every tenant model each, and a staff user (not a
superuser) who owns the first and holds every model permission, when he walks every registered
admin (lists, filters, search, autocomplete, forms, B's URLs, actions, custom views, posts
pointing his rows at B's), then nothing of B shows and nothing of B changes; with the database
wall (row-level security) switched off, the code walls alone still hold; and an admin
registered on a site without the walls is caught by the same walk.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.urls import include, path

from tenancy.choices import Role
from tenancy.models import Membership, Organization
from tests.tenancy.admin_walker import (
    build_tenant_rows,
    other_rows,
    snapshot,
    staff_member,
    tenant_models,
    walk_admin,
)
from tests.testapp.models import Widget

pytestmark = pytest.mark.django_db

WITHOUT_RLS_MIDDLEWARE = [
    name
    for name in __import__("django.conf").conf.settings.MIDDLEWARE
    if name != "tenancy.middleware.RowLevelSecurityMiddleware"
]


@pytest.fixture
def two_tenants(organization, other_organization):
    """Acme (A) and Globex (B), each with a row of every tenant model."""
    build_tenant_rows(organization, "acme")
    build_tenant_rows(other_organization, "globex")
    missing = [m._meta.label for m in tenant_models() if not other_rows(m, other_organization)]
    assert not missing, f"give the walker a row of {missing} for B"
    return organization, other_organization


@pytest.fixture
def staff_client(client, two_tenants):
    mine, _ = two_tenants
    client.force_login(staff_member(mine, Role.OWNER))
    return client


def test_a_staff_owner_reaches_nothing_of_another_organization(staff_client, two_tenants):
    mine, theirs = two_tenants
    before = snapshot(theirs)

    walk = walk_admin(staff_client, admin.site, "/admin/", mine, theirs)

    assert walk.pages > 500, "the walk covered every admin"
    assert walk.leaks == [], "\n".join(walk.leaks)
    assert snapshot(theirs) == before


@override_settings(MIDDLEWARE=WITHOUT_RLS_MIDDLEWARE)
def test_the_code_walls_hold_without_the_database_wall(staff_client, two_tenants):
    mine, theirs = two_tenants
    before = snapshot(theirs)

    walk = walk_admin(staff_client, admin.site, "/admin/", mine, theirs)

    assert walk.leaks == [], "\n".join(walk.leaks)
    assert snapshot(theirs) == before


# An admin site without the walls, as a new admin would be if it escaped them.
unwalled_site = admin.AdminSite(name="unwalled")
unwalled_site.register(Widget)
unwalled_site.register(Organization)
unwalled_site.register(Membership, admin.ModelAdmin)
urlpatterns = [path("unwalled/", unwalled_site.urls), path("", include("tests.testapp.api"))]


@pytest.mark.urls("tests.tenancy.test_admin_walls")
@override_settings(MIDDLEWARE=WITHOUT_RLS_MIDDLEWARE)
def test_the_walk_catches_an_admin_registered_without_the_walls(staff_client, two_tenants):
    mine, theirs = two_tenants

    walk = walk_admin(staff_client, unwalled_site, "/unwalled/", mine, theirs)

    assert any("/unwalled/testapp/widget/ list: shows" in leak for leak in walk.leaks), walk.leaks
    assert any("/unwalled/tenancy/organization/" in leak for leak in walk.leaks), walk.leaks


@pytest.mark.urls("tests.tenancy.test_admin_walls")
def test_the_database_wall_holds_under_an_unwalled_admin(staff_client, two_tenants):
    """Outside the admin's URL space the request admits no tenant row at all; users belong to no
    organization and have no row-level security, so only the code wall hides them."""
    mine, theirs = two_tenants

    walk = walk_admin(staff_client, unwalled_site, "/unwalled/", mine, theirs)

    tenant_leaks = [leak for leak in walk.leaks if "globex-member</option>" not in leak]
    assert tenant_leaks == []


def test_a_superuser_walk_sees_both_organizations(client, two_tenants):
    """The walk can see: for a superuser it finds B everywhere."""
    mine, theirs = two_tenants
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))

    walk = walk_admin(client, admin.site, "/admin/", mine, theirs, posts=False)

    assert len(walk.leaks) > 50


def test_every_registered_admin_has_the_walls():
    from tenancy.admin_walls import TenantWallsMixin

    unwalled = [m._meta.label for m, a in admin.site._registry.items() if not isinstance(a, TenantWallsMixin)]
    assert unwalled == []


@pytest.mark.parametrize("role", [Role.EDITOR, Role.VIEWER])
def test_members_below_admin_see_no_memberships_keys_or_audit(client, two_tenants, role):
    mine, _ = two_tenants
    user = staff_member(mine, role)
    client.force_login(user)
    own = Membership.objects.get(user=user)
    for model in ("membership", "organizationapikey", "auditevent"):
        page = client.get(f"/admin/tenancy/{model}/").content.decode()
        assert "acme" not in page.lower().split('id="changelist"')[-1], model
    assert client.get(f"/admin/tenancy/membership/{own.pk}/change/").status_code == 404
    # His organization he may see, not change.
    page = client.get(f"/admin/tenancy/organization/{mine.pk}/change/").content.decode()
    assert 'name="_save"' not in page


def test_an_owner_cannot_deactivate_create_or_delete_organizations(client, organization):
    client.force_login(staff_member(organization, Role.OWNER))

    page = client.get(f"/admin/tenancy/organization/{organization.pk}/change/")
    assert page.status_code == 200
    assert 'name="is_active"' not in page.content.decode()
    response = client.post(
        f"/admin/tenancy/organization/{organization.pk}/change/",
        {"name": "Acme Renamed", "slug": "hijack", "is_active": "", **_empty_inline("memberships")},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    organization.refresh_from_db()
    assert (organization.name, organization.slug, organization.is_active) == ("Acme Renamed", "acme", True)
    assert client.get("/admin/tenancy/organization/add/").status_code == 403
    assert (
        client.post(f"/admin/tenancy/organization/{organization.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert Organization.objects.filter(pk=organization.pk).exists()


def test_a_campaign_cannot_point_at_another_organizations_pillar(staff_client, two_tenants):
    from generations.models import Campaign
    from styleguides.models import ContentPillar

    mine, theirs = two_tenants
    fields = {f.name for f in Campaign._meta.get_fields()}
    if "pillar" not in fields:
        pytest.skip("campaigns have no pillar in this version")
    campaign = Campaign.objects.get(organization=mine)
    theirs_pillar = ContentPillar.objects.get(organization=theirs)

    page = staff_client.get(f"/admin/generations/campaign/{campaign.pk}/change/").content.decode()
    assert "globex pillar" not in page
    response = staff_client.post(
        f"/admin/generations/campaign/{campaign.pk}/change/",
        {"organization": mine.pk, "name": campaign.name, "pillar": theirs_pillar.pk},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.pillar_id != theirs_pillar.pk


def _empty_inline(prefix: str) -> dict:
    return {
        f"{prefix}-TOTAL_FORMS": "1",
        f"{prefix}-INITIAL_FORMS": "1",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
        f"{prefix}-0-id": str(Membership.objects.get().pk),
        f"{prefix}-0-organization": str(Organization.objects.get().pk),
        f"{prefix}-0-user": str(Membership.objects.get().user_id),
        f"{prefix}-0-role": "owner",
    }


@pytest.mark.parametrize(("role", "allowed"), [(Role.ADMIN, False), (Role.OWNER, True)])
def test_only_owners_make_owners(client, organization, role, allowed):
    from tests.factories import UserFactory

    client.force_login(staff_member(organization, role))
    newcomer = UserFactory(username="newcomer")
    Membership.objects.create(user=newcomer, organization=organization, role=Role.VIEWER)
    membership = Membership.objects.get(user=newcomer)

    response = client.post(
        f"/admin/tenancy/membership/{membership.pk}/change/",
        {"user": newcomer.pk, "organization": organization.pk, "role": Role.OWNER},
    )

    membership.refresh_from_db()
    assert (membership.role == Role.OWNER) is allowed
    if not allowed:
        assert "Only the organization&#x27;s owners" in response.content.decode()
