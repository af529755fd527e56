"""Admin: the cost dashboard for staff (figures from the rollups, scoped to their
organizations), read-only logs, and cleanup preferences that may only shorten retention."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from analytics.models import (
    ArchivedRecord,
    CleanupPreferences,
    GenerationDailyRollup,
    ModelPerformance,
    PerformanceMetric,
    ProviderCall,
    ProviderCallDailyRollup,
    RetentionBatch,
    UserDailyRollup,
    UserHourlyRollup,
    WeeklySummary,
)
from tenancy.models import AuditEvent
from tests.analytics.dashboard_data import USERS, month_of_generations
from tests.analytics.factories import ProviderCallFactory
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db
DASHBOARD = "/admin/analytics/generationdailyrollup/dashboard/"


@pytest.fixture
def superuser_client(client):
    client.force_login(UserFactory(username="root", is_superuser=True))
    return client


@pytest.fixture
def staff_client(client, organization):
    """A staff member of ``organization`` only, allowed to view rollups and provider calls."""
    user = UserFactory(username="editor")
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_generationdailyrollup", "view_providercall"])
    )
    MembershipFactory(user=user, organization=organization)
    client.force_login(user)
    return client


def test_the_dashboard_shows_the_rollups_figures(superuser_client, organization):
    generations = month_of_generations(organization)
    today = timezone.now().date()

    response = superuser_client.get(
        DASHBOARD,
        {"organization": organization.pk, "date_from": today - datetime.timedelta(days=29), "date_to": today},
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert len(re.findall(r'<rect class="bar"', html)) >= 30 * 3
    total = sum(g.cost_usd for g in generations)
    assert f"${total:.2f}" in html
    failures = sum(g.status == "failed" for g in generations)
    assert f"{round(100 * failures / len(generations))}%" in html  # failure rate
    assert f"{round(100 * 0.25)}%" in html  # one generation in four was a cache hit
    spent = {user: sum(g.cost_usd for g in generations if g.user_ref == user) for user in USERS}
    top = response.context["figures"]["top_users"]
    assert [(row["user_ref"], Decimal(row["cost_usd"])) for row in top] == sorted(
        spent.items(), key=lambda item: -item[1]
    )


def test_staff_see_only_their_organizations(staff_client, organization, other_organization):
    month_of_generations(other_organization, seed=9)

    default = staff_client.get(DASHBOARD)
    theirs = staff_client.get(
        DASHBOARD, {"organization": other_organization.pk, "date_from": "2026-01-01", "date_to": "2026-01-31"}
    )

    assert default.status_code == 200
    assert list(default.context["form"].fields["organization"].queryset) == [organization]
    assert default.context["organization"] == organization
    assert theirs.status_code == 200
    assert "figures" not in theirs.context
    assert "Select a valid choice" in theirs.content.decode()


def test_a_backwards_period_is_refused_with_a_message(superuser_client, organization):
    response = superuser_client.get(
        DASHBOARD, {"organization": organization.pk, "date_from": "2026-03-01", "date_to": "2026-02-01"}
    )

    assert response.status_code == 200
    assert "figures" not in response.context
    assert "`to` is before `from`." in response.content.decode()


def test_staff_without_view_permission_get_no_dashboard(client, organization):
    user = UserFactory(username="nobody")
    MembershipFactory(user=user, organization=organization)
    client.force_login(user)

    assert client.get(DASHBOARD).status_code == 403


def test_the_rollup_list_links_to_the_dashboard(superuser_client):
    response = superuser_client.get(reverse("admin:analytics_generationdailyrollup_changelist"))

    assert DASHBOARD in response.content.decode()


@pytest.mark.parametrize(
    "model",
    [
        ProviderCall,
        PerformanceMetric,
        ModelPerformance,
        GenerationDailyRollup,
        ProviderCallDailyRollup,
        UserHourlyRollup,
        UserDailyRollup,
        WeeklySummary,
        RetentionBatch,
        ArchivedRecord,
    ],
)
def test_logs_and_rollups_are_read_only_in_admin(superuser_client, model):
    opts = model._meta
    response = superuser_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert response.status_code == 200
    assert response.context["cl"].model is model
    assert response.context["has_add_permission"] is False  # no "Add" button
    assert superuser_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add")).status_code == 403


def test_staff_list_only_their_organizations_calls(staff_client, organization, other_organization):
    mine = ProviderCallFactory(organization=organization, request_id="mine")
    ProviderCallFactory(organization=other_organization, request_id="theirs")

    response = staff_client.get(reverse("admin:analytics_providercall_changelist"))

    assert list(response.context["cl"].result_list) == [mine]


def test_cleanup_preferences_may_only_shorten_and_are_audited(superuser_client, organization):
    url = reverse("admin:analytics_cleanuppreferences_add")

    too_long = superuser_client.post(url, {"organization": organization.pk, "generations_days": 9999})
    assert too_long.status_code == 200
    assert "at most 730 days" in too_long.content.decode()
    assert not CleanupPreferences.objects.exists()

    saved = superuser_client.post(url, {"organization": organization.pk, "failed_generations_days": 7})
    assert saved.status_code == 302
    preferences = CleanupPreferences.objects.get()
    assert preferences.days("failed_generations") == 7
    assert preferences.days("generations") == 730
    assert AuditEvent.objects.for_object(preferences).filter(action="create").exists()


def test_the_admin_index_links_to_the_dashboard_for_staff_who_may_see_it(
    superuser_client, client, organization
):
    assert DASHBOARD in superuser_client.get("/admin/").content.decode()
    user = UserFactory(username="plain-staff", is_staff=True)
    MembershipFactory(user=user, organization=organization)
    client.force_login(user)
    assert DASHBOARD not in client.get("/admin/").content.decode()


def test_the_dashboard_opened_with_only_an_organization_uses_the_default_period(
    superuser_client, organization
):
    response = superuser_client.get(DASHBOARD, {"organization": organization.pk})

    html = response.content.decode()
    assert response.status_code == 200
    assert "This field is required" not in html
    today = timezone.now().date()
    assert response.context["date_to"] == today
    assert response.context["date_from"] == today - datetime.timedelta(days=29)
    assert response.context["organization"] == organization


@pytest.mark.parametrize(
    ("date_from", "date_to"), [("0001-01-01", "0001-01-31"), ("9999-12-01", "9999-12-31")]
)
def test_the_dashboard_refuses_dates_outside_the_apis_window(
    superuser_client, organization, date_from, date_to
):
    response = superuser_client.get(
        DASHBOARD, {"organization": organization.pk, "date_from": date_from, "date_to": date_to}
    )

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "1970-01-01" in errors["date_from"][0] and "1970-01-01" in errors["date_to"][0]


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        ("0", "$0.00"),
        ("0.0012345678", "$0.001235"),
        ("0.5000000000", "$0.50"),
        ("1234.5", "$1,234.50"),
        ("-2.125", "-$2.13"),
    ],
)
def test_usd_amounts_have_a_sensible_precision(amount, shown):
    from tenancy.admin_money import format_usd

    assert format_usd(Decimal(amount)) == shown


def test_cost_columns_show_a_sensible_precision_and_the_exact_amount_as_tooltip(
    superuser_client, organization
):
    from tests.generations.factories import GenerationRunFactory

    run = GenerationRunFactory(organization=organization)
    ModelPerformance.objects.create(
        organization=organization, run=run, model_name="gpt-4o", requests=1, cost_usd=Decimal("0.0012345678")
    )
    html = superuser_client.get(reverse("admin:analytics_modelperformance_changelist")).content.decode()
    assert '<span title="0.0012345678">$0.001235</span>' in html
