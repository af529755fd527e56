"""The cost dashboard in a real browser (Debian's Chromium): the chart is drawn, visible and
readable, and a screenshot is kept under tests/artifacts/."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.analytics.dashboard_data import MODELS, month_of_generations
from tests.browser import admin_login, browser, page, screenshot  # noqa: F401 - fixtures
from tests.factories import OrganizationFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_dashboard_draws_cost_per_day_per_model(page, live_server):  # noqa: F811 - fixture
    get_user_model().objects.create_superuser("root", "root@example.com", "browser-pw")
    organization = OrganizationFactory(name="Acme Hotels", slug="acme")
    OrganizationFactory(name="Globex Health", slug="globex")
    month_of_generations(organization)
    admin_login(page, live_server, "root", "browser-pw")

    page.goto(f"{live_server.url}/admin/analytics/generationdailyrollup/")
    page.click("text=Cost dashboard")
    page.select_option("#id_organization", str(organization.pk))
    page.click("input[type=submit][value=Show]")
    chart = page.locator("#cost-chart")
    chart.wait_for(state="visible")

    box = chart.bounding_box()
    assert box["width"] > 600 and box["height"] > 200
    bars = page.locator("#cost-chart rect.bar")
    assert bars.count() >= 30 * 3
    assert bars.first.is_visible()
    legend = page.locator(".legend li").all_inner_texts()
    assert {item.split("(")[0].strip() for item in legend} == set(MODELS)
    assert page.locator("#top-users tbody tr").count() == 4
    assert page.inner_text("#kpi-failure-rate").endswith("%")
    assert page.inner_text("#kpi-cache-hit-rate") == "25%"
    assert "Acme Hotels" in page.inner_text("#content-main h2")
    path = screenshot(page, "analytics-dashboard")
    assert path.stat().st_size > 10_000
