"""The credential admin in a real browser: the key goes in through a password field and never
comes back; the page shows fingerprint and last four only."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from providers.credentials import credential_secret
from providers.models import ProviderCredential
from tests.browser import admin_login, browser, page, screenshot  # noqa: F401 - fixtures
from tests.factories import OrganizationFactory
from tests.providers.factories import ProviderFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SECRET = "sk-browser-Qm9Zx1Vb7Nc3Lk5Jh8Gf2Ds4Aa0P"


def test_credential_added_in_admin_is_masked_everywhere(page, live_server):  # noqa: F811 - fixture
    get_user_model().objects.create_superuser("root", "root@example.com", "browser-pw")
    organization = OrganizationFactory(name="Acme Hotels", slug="acme")
    provider = ProviderFactory(slug="openai", name="OpenAI")
    admin_login(page, live_server, "root", "browser-pw")

    page.goto(f"{live_server.url}/admin/providers/providercredential/add/")
    assert page.get_attribute("#id_new_api_key", "type") == "password"
    page.select_option("#id_organization", str(organization.pk))
    page.select_option("#id_provider", str(provider.pk))
    page.fill("#id_name", "production")
    page.fill("#id_new_api_key", SECRET)
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist")

    credential = ProviderCredential.objects.get(name="production")
    assert credential_secret(credential=credential) == SECRET
    html = page.content()
    assert SECRET not in html
    assert credential.fingerprint in html
    assert f"…{SECRET[-4:]}" in html
    assert page.input_value("#id_new_api_key") == ""  # the field never renders a value
    screenshot(page, "providers-credential-change")

    page.goto(f"{live_server.url}/admin/providers/providercredential/")
    assert SECRET not in page.content()
    assert "production" in page.content()
