"""Admin of providers: every page loads with its filters and search; credentials are added and
rotated through a write-only field; staff see only their organizations' rows."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from providers.credentials import credential_secret
from providers.models import AIPreference, Budget, PreferredModel, ProviderCredential
from providers.price_sync import price_sync
from tenancy.models import AuditEvent
from tests.factories import MembershipFactory
from tests.providers.factories import AIPreferenceFactory, BudgetFactory, ProviderFactory, make_credential

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    return client


def rows(response) -> list:
    return list(response.context["cl"].result_list)


@pytest.mark.parametrize(
    ("url", "check"),
    [
        ("/admin/providers/provider/", lambda r: {"openai", "anthropic"} <= {p.slug for p in rows(r)}),
        (
            "/admin/providers/provider/?is_active__exact=1&q=open",
            lambda r: (
                "openai" in {p.slug for p in rows(r)}
                and all("open" in f"{p.slug} {p.name}".lower() and p.is_active for p in rows(r))
            ),
        ),
        ("/admin/providers/aimodel/?q=o3", lambda r: "o3" in {m.name for m in rows(r)}),
        (
            "/admin/providers/aimodel/?is_deprecated__exact=0&q=gpt",
            lambda r: rows(r) and all("gpt" in m.name.lower() and not m.is_deprecated for m in rows(r)),
        ),
        ("/admin/providers/modelprice/", lambda r: len(rows(r)) > 0),
        (
            "/admin/providers/modelprice/?valid_to__isempty=1&q=claude",
            lambda r: rows(r) and all("claude" in p.model.name and p.valid_to is None for p in rows(r)),
        ),
        (
            "/admin/providers/providercredential/?status__exact=active&q=main",
            lambda r: [c.name for c in rows(r)] == ["main"],
        ),
        (
            "/admin/providers/budget/?period__exact=month&q=cap",
            lambda r: [b.name for b in rows(r)] == ["cap"],
        ),
        (
            "/admin/providers/aipreference/?default_generation_mode__exact=creative&q=alice",
            lambda r: [p.user_ref for p in rows(r)] == ["alice"],
        ),
        (
            "/admin/providers/aipreference/add/",
            lambda r: "default_generation_mode" in r.context["adminform"].form.fields,
        ),
        (
            "/admin/providers/providercredential/add/",
            lambda r: r.context["adminform"].form.fields["new_api_key"].widget.input_type == "password",
        ),
        (
            "/admin/providers/aimodel/add/",
            lambda r: "input_usd_per_mtok" in r.context["adminform"].form.fields,
        ),
    ],
)
def test_admin_pages_show_what_their_filters_and_search_ask_for(superuser_client, organization, url, check):
    price_sync()
    make_credential(organization, name="main")
    make_credential(organization, name="spare")
    BudgetFactory(organization=organization, name="cap")
    AIPreferenceFactory(organization=organization, user_ref="alice", default_generation_mode="creative")
    response = superuser_client.get(url)
    assert response.status_code == 200, url
    assert check(response), url


def test_a_model_page_shows_its_price_versions(superuser_client):
    price_sync()
    from providers.models import AIModel

    o3 = AIModel.objects.get(provider__slug="openai", name="o3")
    html = superuser_client.get(f"/admin/providers/aimodel/{o3.pk}/change/").content.decode()
    assert "2025-06-10" in html  # the second version's start


def test_adding_a_credential_in_admin_encrypts_and_audits_it(superuser_client, organization):
    provider = ProviderFactory(slug="anthropic")
    response = superuser_client.post(
        "/admin/providers/providercredential/add/",
        {
            "organization": organization.pk,
            "provider": provider.pk,
            "name": "claude prod",
            "new_api_key": "sk-ant-api03-abcdefghijklmnop-WXYZ",
            "status": "active",
            "expires_at_0": "",
            "expires_at_1": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    credential = ProviderCredential.objects.get(name="claude prod")
    assert credential_secret(credential=credential) == "sk-ant-api03-abcdefghijklmnop-WXYZ"
    assert credential.last4 == "WXYZ"
    assert AuditEvent.objects.for_object(credential).filter(action="create").exists()


def test_a_credential_needs_its_key_on_add_and_keeps_it_when_left_blank(superuser_client, organization):
    provider = ProviderFactory(slug="openai")
    form = {
        "organization": organization.pk,
        "provider": provider.pk,
        "name": "no key",
        "new_api_key": "",
        "status": "active",
        "expires_at_0": "",
        "expires_at_1": "",
    }
    response = superuser_client.post("/admin/providers/providercredential/add/", form)
    assert response.status_code == 200
    assert "A new credential needs its API key." in response.content.decode()
    assert not ProviderCredential.all_objects.exists()

    credential = make_credential(organization, api_key="sk-keep-this-one-1234")
    response = superuser_client.post(
        f"/admin/providers/providercredential/{credential.pk}/change/",
        {"name": "renamed", "status": "revoked", "new_api_key": "", "expires_at_0": "", "expires_at_1": ""},
    )
    assert response.status_code == 302
    credential.refresh_from_db()
    assert (credential.name, credential.status, credential.rotated_at) == ("renamed", "revoked", None)
    assert AuditEvent.objects.for_object(credential).filter(action="revoke").exists()


def test_revoke_action(superuser_client, organization):
    credentials = [make_credential(organization) for _ in range(3)]
    response = superuser_client.post(
        "/admin/providers/providercredential/",
        {"action": "revoke_selected", "_selected_action": [c.pk for c in credentials[:2]]},
        follow=True,
    )
    assert "Revoked 2 credential(s)." in response.content.decode()
    assert list(ProviderCredential.objects.order_by("pk").values_list("status", flat=True)) == [
        "revoked",
        "revoked",
        "active",
    ]


def test_preference_inline_sets_the_organization_and_is_audited(superuser_client, organization):
    price_sync()
    from providers.models import AIModel

    gpt = AIModel.objects.get(provider__slug="openai", name="gpt-4o")
    response = superuser_client.post(
        "/admin/providers/aipreference/add/",
        {
            "organization": organization.pk,
            "user_ref": "alice",
            "default_generation_mode": "creative",
            "preferred_models-TOTAL_FORMS": "1",
            "preferred_models-INITIAL_FORMS": "0",
            "preferred_models-MIN_NUM_FORMS": "0",
            "preferred_models-MAX_NUM_FORMS": "1000",
            "preferred_models-0-model": gpt.pk,
            "preferred_models-0-weight": "2.5",
            "preferred_models-0-position": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    preference = AIPreference.objects.get(user_ref="alice")
    row = PreferredModel.objects.get(preference=preference)
    assert (row.organization_id, row.model, row.weight) == (organization.pk, gpt, Decimal("2.5"))
    assert AuditEvent.objects.for_object(preference).filter(action="update").exists()


def test_staff_see_only_their_organizations_credentials_and_budgets(client, organization, other_organization):
    staff = get_user_model().objects.create_user("staff", "staff@example.com", "pw", is_staff=True)
    staff.user_permissions.set(
        Permission.objects.filter(codename__in=["view_providercredential", "view_budget", "change_budget"])
    )
    MembershipFactory(user=staff, organization=organization)
    mine = make_credential(organization, name="ours")
    make_credential(other_organization, name="theirs")
    BudgetFactory(organization=other_organization, name="their budget")
    client.force_login(staff)

    html = client.get("/admin/providers/providercredential/").content.decode()
    assert "ours" in html
    assert "theirs" not in html
    assert "their budget" not in client.get("/admin/providers/budget/").content.decode()
    assert client.get(f"/admin/providers/providercredential/{mine.pk}/change/").status_code == 200
    assert Budget.objects.count() == 1


def model_change_form_data(client, url: str) -> dict:
    """What the change page would post back unchanged: its form's values and the inline's
    management form."""
    response = client.get(url)
    form = response.context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data = {name: ("" if value is None else value) for name, value in data.items()}
    for formset in response.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        data.update({management.add_prefix(name): management[name].value() for name in management.fields})
        for inline_form in formset.formset.forms:
            values = {inline_form.add_prefix(name): inline_form[name].value() for name in inline_form.fields}
            data.update({name: ("" if value is None else value) for name, value in values.items()})
    return data


def test_a_models_current_price_is_edited_on_its_page_as_a_new_version_the_metering_core_prices(
    superuser_client, api_client
):
    # Given o3 and its synced price versions
    price_sync()
    from providers.models import AIModel, ModelPrice

    o3 = AIModel.objects.get(provider__slug="openai", name="o3")
    synced = ModelPrice.objects.get(model=o3, valid_to__isnull=True)
    url = f"/admin/providers/aimodel/{o3.pk}/change/"
    html = superuser_client.get(url).content.decode()
    assert "Current price" in html and 'name="input_usd_per_mtok"' in html
    assert f'value="{synced.input_usd_per_mtok:.10f}"' in html  # shows the price in force

    # When staff type a new input and output price and save
    data = model_change_form_data(superuser_client, url)
    data.update(input_usd_per_mtok="1.5", output_usd_per_mtok="6")
    response = superuser_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors

    # Then the version in force is closed now and a new one opens with the typed prices,
    # keeping the units not typed (cache reads) as genai-prices units
    synced.refresh_from_db()
    assert synced.valid_to is not None
    current = ModelPrice.objects.get(model=o3, valid_to__isnull=True)
    assert current.valid_from == synced.valid_to and current.source == "admin"
    assert (current.input_usd_per_mtok, current.output_usd_per_mtok) == (Decimal("1.5"), Decimal("6"))
    assert current.units["input_mtok"] == "1.5" and current.units["output_mtok"] == "6"
    assert current.units["cache_read_mtok"] == synced.price_units()["cache_read_mtok"]
    event = AuditEvent.objects.get(object_type="providers.modelprice", object_id=str(current.pk))
    assert event.changes["input_usd_per_mtok"][1] == "1.5" and event.actor_label == "user:root"

    # And a generation recorded now is priced by the metering core at the typed price
    generation = api_client.post(
        "/api/v1/generations/",
        {
            "request_id": "after-edit",
            "content_type": "blog",
            "provider": "openai",
            "model": "o3",
            "input_tokens": 1_000_000,
            "output_tokens": 1_000_000,
            "status": "success",
        },
        format="json",
    ).json()
    assert Decimal(generation["cost_usd"]) == Decimal("7.5")


def test_saving_a_model_without_touching_its_price_writes_no_price_version(superuser_client):
    price_sync()
    from providers.models import AIModel, ModelPrice

    o3 = AIModel.objects.get(provider__slug="openai", name="o3")
    versions = ModelPrice.objects.filter(model=o3).count()
    url = f"/admin/providers/aimodel/{o3.pk}/change/"
    data = model_change_form_data(superuser_client, url)
    data["display_name"] = "OpenAI o3"
    assert superuser_client.post(url, data).status_code == 302
    assert ModelPrice.objects.filter(model=o3).count() == versions


def test_a_negative_price_is_refused_and_nothing_is_written(superuser_client):
    price_sync()
    from providers.models import AIModel, ModelPrice

    o3 = AIModel.objects.get(provider__slug="openai", name="o3")
    versions = list(ModelPrice.objects.filter(model=o3).values_list("pk", "valid_to"))
    url = f"/admin/providers/aimodel/{o3.pk}/change/"
    data = model_change_form_data(superuser_client, url)
    data["input_usd_per_mtok"] = "-1"
    response = superuser_client.post(url, data)
    assert response.status_code == 200
    assert "input_usd_per_mtok" in response.context["adminform"].form.errors
    assert list(ModelPrice.objects.filter(model=o3).values_list("pk", "valid_to")) == versions
