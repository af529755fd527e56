"""A staff editor, in a real Chromium: creates a brand guide with a banned term, publishes it,
checks a text and sees the violation highlighted."""

import pytest

from styleguides.models import BrandRule, StyleGuide, StyleGuideVersion
from tests.browser import admin_login, browser, page, screenshot  # noqa: F401 - fixtures
from tests.factories import MembershipFactory, UserFactory
from tests.styleguides.test_admin import editor_permissions

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


@pytest.fixture
def staff_editor(organization):
    user = UserFactory(username="maria", is_staff=True, password=PASSWORD)
    user.user_permissions.set(editor_permissions())
    MembershipFactory(user=user, organization=organization)
    return user


def test_editor_creates_publishes_and_checks_a_brand_guide(page, live_server, organization, staff_editor):  # noqa: F811
    admin_login(page, live_server, "maria", PASSWORD)

    page.goto(f"{live_server.url}/admin/styleguides/styleguide/add/")
    page.select_option("#id_organization", label="Acme Hotels")
    page.locator("#id_name").press_sequentially("Acme Hotels voice")
    assert page.input_value("#id_slug") == "acme-hotels-voice"  # filled in from the name
    page.fill("#id_tone", "Warm and specific")
    page.fill("#id_body", "# Voice\nWrite like a host who is glad you came.")

    page.get_by_text("Add another Brand rule").click()
    page.fill("#id_rules-0-name", "No corporate speak")
    page.select_option("#id_rules-0-rule_type", "banned_term")
    assert page.is_visible("#id_rules-0-terms")
    assert not page.is_visible("#id_rules-0-pattern")  # only the settings this rule type uses
    page.fill("#id_rules-0-terms", "synergy, leverage")
    page.fill("#id_rules-0-message", "Say what you mean instead.")

    page.click("input[name=_publish]")
    page.wait_for_selector("text=Publish version 1")
    page.click("input[name=publish]")
    page.wait_for_selector("text=as version 1")
    assert "Version 1 is live" in page.text_content("body")
    screenshot(page, "styleguides-guide-page")

    guide = StyleGuide.objects.get(slug="acme-hotels-voice")
    assert guide.organization == organization
    assert BrandRule.objects.get(guide=guide).parameters["terms"] == ["synergy", "leverage"]
    assert StyleGuideVersion.objects.get(guide=guide).published_by == staff_editor

    page.click("text=Check a text")
    page.fill("#id_text", "Our team will leverage local synergy to make your stay perfect.")
    page.click("input[name=check]")
    verdict = page.text_content("#sg-verdict")
    assert "Does not pass" in verdict and "2 errors" in verdict
    marks = page.locator("#sg-highlighted mark.sg-error").all_text_contents()
    assert marks == ["leverage", "synergy"]
    assert "Say what you mean instead." in page.text_content("#sg-violations")
    path = screenshot(page, "styleguides-check-text")
    assert path.stat().st_size > 10_000
