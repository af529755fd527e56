"""The providers API through the real client and real API keys: catalogue (read-only),
credentials, budgets, AI preferences, budget checks, and every bad input the issue names."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from providers.models import AIModel, AIPreference, Budget, ModelPrice, PreferredModel, ProviderCredential
from tenancy.choices import APIKeyRole
from tenancy.models import AuditEvent
from tests.api_cases import TenantCRUDAPITests
from tests.providers.factories import (
    AIModelFactory,
    AIPreferenceFactory,
    BudgetFactory,
    ModelPriceFactory,
    ProviderFactory,
    make_credential,
)

pytestmark = pytest.mark.django_db

API_KEY = "sk-proj-Zq8Xw2Lk9Vb4Nm7Rt1Yu6Io3Pa5Sd0Fg"


@pytest.fixture
def catalogue_rows(db):
    """Two providers and a few models, one with a price (enough for the API tests)."""
    openai = ProviderFactory(slug="openai", name="OpenAI")
    anthropic = ProviderFactory(slug="anthropic", name="Anthropic")
    gpt = AIModelFactory(provider=openai, name="gpt-4o", aliases=["gpt-4o-2024-08-06"])
    ModelPriceFactory(model=gpt)
    AIModelFactory(provider=anthropic, name="claude-sonnet-4-5", aliases=["claude-sonnet-4-5-20250929"])
    AIModelFactory(provider=openai, name="gpt-retired", is_active=False)
    return gpt


# --- Catalogue: read-only to tenants ------------------------------------------------------------


def test_providers_are_listed_and_fetched_by_slug(viewer_api_client, catalogue_rows):
    listed = viewer_api_client.get("/api/v1/providers/")
    assert listed.status_code == 200
    assert {row["slug"] for row in listed.json()["results"]} == {"openai", "anthropic"}
    fetched = viewer_api_client.get("/api/v1/providers/openai/")
    assert fetched.json()["name"] == "OpenAI"
    assert viewer_api_client.get("/api/v1/providers/nope/").status_code == 404


def test_a_model_shows_its_current_price(api_client, catalogue_rows):
    gpt = catalogue_rows
    next_month = timezone.now() + datetime.timedelta(days=30)
    ModelPrice.objects.filter(model=gpt).update(valid_to=next_month)
    ModelPriceFactory(model=gpt, valid_from=next_month, input_usd_per_mtok=Decimal("99"))
    body = api_client.get(f"/api/v1/models/{gpt.pk}/").json()
    assert body["provider"] == "openai"
    assert body["aliases"] == ["gpt-4o-2024-08-06"]
    assert Decimal(body["current_price"]["input_usd_per_mtok"]) == Decimal("2.5")
    assert body["current_price"]["currency"] == "USD"
    unpriced = AIModel.objects.get(name="claude-sonnet-4-5")
    assert api_client.get(f"/api/v1/models/{unpriced.pk}/").json()["current_price"] is None


def test_models_filter_by_provider_and_search(api_client, catalogue_rows):
    names = {row["name"] for row in api_client.get("/api/v1/models/?provider=openai").json()["results"]}
    assert names == {"gpt-4o", "gpt-retired"}
    active = api_client.get("/api/v1/models/?provider=openai&is_active=true").json()["results"]
    assert [row["name"] for row in active] == ["gpt-4o"]
    found = api_client.get("/api/v1/models/?search=sonnet").json()["results"]
    assert [row["name"] for row in found] == ["claude-sonnet-4-5"]


def test_model_list_query_count_does_not_grow(api_client, catalogue_rows, django_assert_max_num_queries):
    api_client.get("/api/v1/models/")
    with django_assert_max_num_queries(6):
        assert api_client.get("/api/v1/models/").status_code == 200
    for n in range(15):
        ModelPriceFactory(model=AIModelFactory(name=f"extra-{n}"))
    with django_assert_max_num_queries(6):
        assert len(api_client.get("/api/v1/models/").json()["results"]) == 18


@pytest.mark.parametrize("url", ["/api/v1/providers/", "/api/v1/models/"])
def test_catalogue_is_read_only_to_tenants(admin_api_client, catalogue_rows, url):
    before = (AIModel.objects.count(), ModelPrice.objects.count())
    response = admin_api_client.post(url, {"slug": "mistral", "name": "Mistral"}, format="json")
    assert response.status_code == 405
    assert response.json()["errors"][0]["code"] == "method_not_allowed"
    detail = f"{url}openai/" if "providers" in url else f"{url}{catalogue_rows.pk}/"
    assert admin_api_client.patch(detail, {"name": "x"}, format="json").status_code == 405
    assert admin_api_client.delete(detail).status_code == 405
    assert (AIModel.objects.count(), ModelPrice.objects.count()) == before


def test_catalogue_needs_an_api_key(client, catalogue_rows):
    assert client.get("/api/v1/models/").status_code == 401


# --- Credentials -------------------------------------------------------------------------------


class TestCredentialAPI(TenantCRUDAPITests):
    model = ProviderCredential
    url = "/api/v1/credentials/"
    create_data = {"provider": "openai", "name": "main", "api_key": API_KEY}
    update_data = {"name": "renamed"}

    @pytest.fixture(autouse=True)
    def provider(self, db):
        return ProviderFactory(slug="openai")

    @pytest.fixture
    def api_client(self, admin_api_client):
        """Credentials are written by admin keys (see test_editor_key_cannot_write_credentials)."""
        return admin_api_client

    @pytest.fixture
    def make_object(self):
        return lambda organization, **fields: make_credential(organization, **fields)


def test_create_answers_fingerprint_and_last4_never_the_key(admin_api_client, organization):
    ProviderFactory(slug="openai")
    response = admin_api_client.post(
        "/api/v1/credentials/",
        {"provider": "openai", "name": "main", "api_key": f"  {API_KEY}\n"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert "api_key" not in body
    assert body["last4"] == API_KEY[-4:]
    assert body["status"] == "active"
    credential = ProviderCredential.objects.get(pk=body["id"])
    assert body["fingerprint"] == credential.fingerprint
    event = AuditEvent.objects.for_object(credential).get(action="create")
    assert event.changes["api_key_encrypted"] == [None, "[secret changed]"]


def test_rotate_replaces_the_key_and_audits_without_values(admin_api_client, organization):
    credential = make_credential(organization, api_key="sk-old-key-0000000000000001")
    new_key = "sk-new-key-0000000000000002"

    response = admin_api_client.post(f"/api/v1/credentials/{credential.pk}/rotate/", {"api_key": new_key})

    assert response.status_code == 200, response.content
    assert response.json()["last4"] == "0002"
    assert response.json()["rotated_at"]
    credential.refresh_from_db()
    from providers.credentials import credential_secret, fingerprint_of

    assert credential_secret(credential=credential) == new_key
    assert credential.fingerprint == fingerprint_of(new_key)
    event = AuditEvent.objects.for_object(credential).get(action="rotate")
    assert event.changes["api_key_encrypted"] == ["[secret]", "[secret changed]"]
    assert new_key not in str(event.changes)


def test_rotate_is_scoped_and_role_checked(
    admin_api_client, viewer_api_client, make_api_client, other_organization, organization
):
    theirs = make_credential(other_organization)
    mine = make_credential(organization)
    fingerprints = dict(ProviderCredential.objects.values_list("pk", "fingerprint"))
    editor = make_api_client(organization, APIKeyRole.EDITOR)

    assert (
        admin_api_client.post(f"/api/v1/credentials/{theirs.pk}/rotate/", {"api_key": API_KEY}).status_code
        == 404
    )
    assert (
        viewer_api_client.post(f"/api/v1/credentials/{mine.pk}/rotate/", {"api_key": API_KEY}).status_code
        == 403
    )
    assert editor.post(f"/api/v1/credentials/{mine.pk}/rotate/", {"api_key": API_KEY}).status_code == 403
    assert dict(ProviderCredential.objects.values_list("pk", "fingerprint")) == fingerprints


def test_editor_key_cannot_write_credentials(make_api_client, organization):
    ProviderFactory(slug="openai")
    editor = make_api_client(organization, APIKeyRole.EDITOR)
    response = editor.post("/api/v1/credentials/", {"provider": "openai", "name": "x", "api_key": API_KEY})
    assert response.status_code == 403
    assert not ProviderCredential.all_objects.exists()
    assert editor.get("/api/v1/credentials/").status_code == 200


def test_revoking_is_audited_and_final(admin_api_client, organization):
    credential = make_credential(organization)
    assert (
        admin_api_client.patch(f"/api/v1/credentials/{credential.pk}/", {"status": "revoked"}).status_code
        == 200
    )
    assert AuditEvent.objects.for_object(credential).filter(action="revoke").exists()
    response = admin_api_client.patch(f"/api/v1/credentials/{credential.pk}/", {"status": "active"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "status"


def rows_and_audit(model) -> tuple[int, int]:
    return model.all_objects.count(), AuditEvent.objects.count()


@pytest.mark.parametrize(
    ("payload", "attr"),
    [
        ({"provider": "mistral", "name": "x", "api_key": API_KEY}, "provider"),
        ({"provider": "", "name": "x", "api_key": API_KEY}, "provider"),
        ({"provider": "openai", "name": "x", "api_key": ""}, "api_key"),
        ({"provider": "openai", "name": "x", "api_key": "   "}, "api_key"),
        ({"provider": "openai", "name": "x"}, "api_key"),
        ({"provider": "openai", "name": "x", "api_key": "sk-with space-inside"}, "api_key"),
        ({"provider": "openai", "name": "x", "api_key": "k" * 5000}, "api_key"),
        ({"provider": "openai", "name": "x", "api_key": API_KEY, "status": "revoked"}, "status"),
        ({"provider": "openai", "name": "", "api_key": API_KEY}, "name"),
        ({"provider": "openai", "name": "x", "api_key": "sk-4char"}, "api_key"),
        ({"provider": "openai", "name": "x", "api_key": "k" * 15}, "api_key"),
    ],
    ids=[
        "unknown provider",
        "blank provider",
        "empty key",
        "whitespace key",
        "missing key",
        "key with space",
        "absurdly long key",
        "created revoked",
        "blank name",
        "4-character key (last4 would be all of it)",
        "15-character key",
    ],
)
def test_bad_credential_input_is_a_clear_400_and_writes_nothing(
    admin_api_client, organization, payload, attr
):
    ProviderFactory(slug="openai")
    before = rows_and_audit(ProviderCredential)
    response = admin_api_client.post("/api/v1/credentials/", payload, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["type"] == "validation_error"
    assert body["errors"][0]["attr"] == attr
    assert body["errors"][0]["detail"]
    assert rows_and_audit(ProviderCredential) == before


@pytest.mark.parametrize("api_key", ["", "  ", None])
def test_rotate_with_an_empty_key_is_400_and_keeps_the_key(admin_api_client, organization, api_key):
    credential = make_credential(organization)
    response = admin_api_client.post(
        f"/api/v1/credentials/{credential.pk}/rotate/", {"api_key": api_key}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "api_key"
    stored = ProviderCredential.objects.get(pk=credential.pk)
    assert bytes(stored.api_key_encrypted) == bytes(credential.api_key_encrypted)


def test_patching_api_key_is_refused_pointing_at_rotate(admin_api_client, organization):
    credential = make_credential(organization)
    response = admin_api_client.patch(f"/api/v1/credentials/{credential.pk}/", {"api_key": API_KEY})
    assert response.status_code == 400
    assert "rotate" in response.json()["errors"][0]["detail"]


# --- Budgets -----------------------------------------------------------------------------------


class TestBudgetAPI(TenantCRUDAPITests):
    model = Budget
    url = "/api/v1/budgets/"
    create_data = {
        "name": "Monthly cap",
        "period": "month",
        "limit_usd": "250.50",
        "max_requests_per_minute": 60,
    }
    update_data = {"limit_usd": "300"}
    related_factories = {"credential": lambda organization: make_credential(organization)}

    @pytest.fixture
    def api_client(self, admin_api_client):
        return admin_api_client

    @pytest.fixture
    def make_object(self):
        return lambda organization, **fields: BudgetFactory(organization=organization, **fields)


def test_budget_narrowed_to_own_credential_and_user(admin_api_client, organization):
    credential = make_credential(organization)
    response = admin_api_client.post(
        "/api/v1/budgets/",
        {
            "name": "alice on main",
            "user_ref": "alice",
            "credential": credential.pk,
            "limit_usd": "5",
            "period": "day",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    budget = Budget.objects.get(pk=response.json()["id"])
    assert (budget.user_ref, budget.credential, budget.period) == ("alice", credential, "day")


@pytest.mark.parametrize("url", ["/api/v1/budgets/", "/api/v1/ai-preferences/"])
def test_an_empty_user_ref_means_every_user_stored_as_null(admin_api_client, organization, url):
    """A client clearing the field sends "": the organization-wide row, not a 400."""
    body = {"name": "cap", "period": "month", "limit_usd": "10"} if "budgets" in url else {}
    response = admin_api_client.post(url, {**body, "user_ref": ""}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["user_ref"] is None


@pytest.mark.parametrize(
    ("payload", "attr"),
    [
        ({"limit_usd": "-1"}, "limit_usd"),
        ({"limit_usd": "0"}, "limit_usd"),
        ({"limit_usd": "1000000000000"}, "limit_usd"),
        ({"limit_usd": "abc"}, "limit_usd"),
        ({"limit_usd": None, "max_requests_per_minute": 0}, "max_requests_per_minute"),
        ({"limit_usd": None, "max_requests_per_hour": -5}, "max_requests_per_hour"),
        ({"limit_usd": None, "max_requests_per_hour": 10**9}, "max_requests_per_hour"),
        ({"limit_usd": None}, "non_field_errors"),
        ({"period": "year"}, "period"),
        ({"credential": 999_999}, "credential"),
    ],
    ids=[
        "negative limit",
        "zero limit",
        "absurd limit",
        "not a number",
        "zero per minute",
        "negative per hour",
        "absurd per hour",
        "no limit at all",
        "unknown period",
        "unknown credential",
    ],
)
def test_bad_budget_input_is_a_clear_400_and_writes_nothing(admin_api_client, organization, payload, attr):
    before = rows_and_audit(Budget)
    response = admin_api_client.post(
        "/api/v1/budgets/", {"name": "cap", "period": "month", "limit_usd": "10", **payload}, format="json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["attr"] == attr
    assert response.json()["errors"][0]["detail"]
    assert rows_and_audit(Budget) == before


def test_budget_naming_another_tenants_credential_is_refused(
    admin_api_client, organization, other_organization
):
    theirs = make_credential(other_organization)
    before = rows_and_audit(Budget)
    response = admin_api_client.post(
        "/api/v1/budgets/", {"name": "x", "limit_usd": "1", "credential": theirs.pk}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "code": "does_not_exist",
        "detail": response.json()["errors"][0]["detail"],
        "attr": "credential",
    }
    assert rows_and_audit(Budget) == before


def test_budget_check_endpoint(viewer_api_client, organization, other_organization, recorded_spend):
    credential = make_credential(organization)
    budget = BudgetFactory(
        organization=organization, period="day", limit_usd=Decimal("10"), credential=credential
    )
    now = timezone.now() - datetime.timedelta(seconds=5)
    recorded_spend(organization, Decimal("4"), now, user_ref="alice", fingerprint=credential.fingerprint)
    recorded_spend(
        other_organization, Decimal("500"), now, user_ref="alice", fingerprint=credential.fingerprint
    )

    body = viewer_api_client.get(f"/api/v1/budgets/check/?user_ref=alice&credential={credential.pk}").json()

    assert body["allowed"] is True
    assert body["reason"] == "within_budget"
    assert body["budget"] == budget.pk
    assert Decimal(body["spent_usd"]) == Decimal("4")
    assert Decimal(body["remaining_usd"]) == Decimal("6")
    assert Decimal(body["limit_usd"]) == Decimal("10")
    assert body["budgets"][0]["period"] == "day"

    recorded_spend(organization, Decimal("6"), now, user_ref="alice", fingerprint=credential.fingerprint)
    body = viewer_api_client.get(f"/api/v1/budgets/check/?user_ref=alice&credential={credential.pk}").json()
    assert (body["allowed"], body["reason"], Decimal(body["remaining_usd"])) == (False, "budget_exhausted", 0)

    no_budget = viewer_api_client.get("/api/v1/budgets/check/?user_ref=bob").json()
    assert (no_budget["allowed"], no_budget["reason"], no_budget["spent_usd"]) == (True, "no_budget", None)


@pytest.mark.parametrize("query", ["credential={theirs}", "credential=999999", "credential=abc"])
def test_budget_check_with_a_foreign_or_unknown_credential_is_400(
    viewer_api_client, organization, other_organization, query
):
    theirs = make_credential(other_organization)
    response = viewer_api_client.get(f"/api/v1/budgets/check/?{query.format(theirs=theirs.pk)}")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "credential"


# --- AI preferences ----------------------------------------------------------------------------


class TestAIPreferenceAPI(TenantCRUDAPITests):
    model = AIPreference
    url = "/api/v1/ai-preferences/"
    create_data = {
        "user_ref": "alice",
        "default_generation_mode": "tech-focused",
        "deep_thinking": True,
        # Canonical names round-trip; an alias is answered by its canonical name (tested below).
        "preferred_models": [{"model": "gpt-4o", "weight": "2"}, {"model": "claude-sonnet-4-5"}],
    }
    update_data = {"auto_generate": True}

    @pytest.fixture(autouse=True)
    def models(self, catalogue_rows):
        return catalogue_rows

    @pytest.fixture
    def make_object(self, catalogue_rows):
        def make(organization, **fields):
            preference = AIPreferenceFactory(organization=organization, **fields)
            PreferredModel.objects.create(
                organization=organization, preference=preference, model=catalogue_rows, weight=Decimal("3")
            )
            return preference

        return make


def test_preferred_model_given_by_alias_is_answered_by_its_canonical_name(api_client, catalogue_rows):
    response = api_client.post(
        "/api/v1/ai-preferences/",
        {"user_ref": "bob", "preferred_models": [{"model": "claude-sonnet-4-5-20250929"}]},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert [row["model"] for row in response.json()["preferred_models"]] == ["claude-sonnet-4-5"]
    assert AIPreference.objects.get(user_ref="bob").preferred_models.get().model.name == "claude-sonnet-4-5"


def test_preferences_resolve_aliases_and_keep_order_and_weights(api_client, organization, catalogue_rows):
    response = api_client.post("/api/v1/ai-preferences/", TestAIPreferenceAPI.create_data, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["preferred_models"] == [
        {"model": "gpt-4o", "provider": "openai", "weight": "2.000"},
        {"model": "claude-sonnet-4-5", "provider": "anthropic", "weight": "1.000"},
    ]
    preference = AIPreference.objects.get(pk=response.json()["id"])
    event = AuditEvent.objects.for_object(preference).get(action="create")
    assert event.changes["preferred_models"][1] == ["openai/gpt-4o*2", "anthropic/claude-sonnet-4-5*1"]

    replaced = api_client.patch(
        f"/api/v1/ai-preferences/{preference.pk}/", {"preferred_models": [{"model": "GPT-4o"}]}, format="json"
    )
    assert replaced.status_code == 200
    assert [row["model"] for row in replaced.json()["preferred_models"]] == ["gpt-4o"]


def test_effective_preference_falls_back_to_the_organizations(api_client, organization, catalogue_rows):
    assert api_client.get("/api/v1/ai-preferences/effective/?user_ref=alice").status_code == 404
    AIPreferenceFactory(organization=organization, user_ref=None, default_generation_mode="brandable")
    AIPreferenceFactory(organization=organization, user_ref="alice", default_generation_mode="creative")
    alice = api_client.get("/api/v1/ai-preferences/effective/?user_ref=alice").json()
    bob = api_client.get("/api/v1/ai-preferences/effective/?user_ref=bob").json()
    assert (alice["default_generation_mode"], bob["default_generation_mode"]) == ("creative", "brandable")


def test_one_preference_per_user_and_one_for_the_organization(api_client, organization, catalogue_rows):
    assert api_client.post("/api/v1/ai-preferences/", {"user_ref": None}, format="json").status_code == 201
    again = api_client.post("/api/v1/ai-preferences/", {}, format="json")
    assert again.status_code == 400
    assert AIPreference.objects.filter(organization=organization).count() == 1


@pytest.mark.parametrize(
    ("payload", "attr"),
    [
        ({"preferred_models": [{"model": "gpt-7-imaginary"}]}, "preferred_models"),
        ({"preferred_models": [{"model": "gpt-4o", "provider": "anthropic"}]}, "preferred_models"),
        ({"preferred_models": [{"model": "gpt-retired"}]}, "preferred_models"),
        ({"preferred_models": [{"model": "gpt-4o"}, {"model": "gpt-4o-2024-08-06"}]}, "preferred_models"),
        ({"preferred_models": [{"model": "gpt-4o", "weight": "0"}]}, "preferred_models"),
        ({"preferred_models": [{"model": "gpt-4o", "weight": "-1"}]}, "preferred_models"),
        ({"preferred_models": [{"model": "gpt-4o", "weight": "1000000"}]}, "preferred_models"),
        ({"preferred_models": "gpt-4o"}, "preferred_models"),
        ({"default_generation_mode": "poetic"}, "default_generation_mode"),
    ],
    ids=[
        "unknown model",
        "model of another provider",
        "inactive model",
        "same model twice",
        "zero weight",
        "negative weight",
        "absurd weight",
        "not a list",
        "unknown mode",
    ],
)
def test_bad_preference_input_is_a_clear_400_and_writes_nothing(
    api_client, organization, catalogue_rows, payload, attr
):
    before = (*rows_and_audit(AIPreference), PreferredModel.objects.count())
    response = api_client.post("/api/v1/ai-preferences/", {"user_ref": "alice", **payload}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["attr"].startswith(attr)
    assert response.json()["errors"][0]["detail"]
    assert (*rows_and_audit(AIPreference), PreferredModel.objects.count()) == before


def test_unknown_model_in_an_update_changes_nothing(api_client, organization, catalogue_rows):
    preference = AIPreferenceFactory(organization=organization, user_ref="alice")
    PreferredModel.objects.create(organization=organization, preference=preference, model=catalogue_rows)
    response = api_client.patch(
        f"/api/v1/ai-preferences/{preference.pk}/",
        {"deep_thinking": True, "preferred_models": [{"model": "nope"}]},
        format="json",
    )
    assert response.status_code == 400
    preference.refresh_from_db()
    assert preference.deep_thinking is False
    assert list(preference.preferred_models.values_list("model__name", flat=True)) == ["gpt-4o"]


# --- A viewer key writes nothing anywhere ------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "payload", "model"),
    [
        ("/api/v1/credentials/", {"provider": "openai", "name": "x", "api_key": API_KEY}, ProviderCredential),
        ("/api/v1/budgets/", {"name": "x", "limit_usd": "1"}, Budget),
        ("/api/v1/ai-preferences/", {"user_ref": "x"}, AIPreference),
    ],
)
def test_viewer_key_writes_are_403_and_write_nothing(
    viewer_api_client, organization, catalogue_rows, url, payload, model
):
    before = rows_and_audit(model)
    response = viewer_api_client.post(url, payload, format="json")
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "permission_denied"
    assert rows_and_audit(model) == before


def test_a_revoked_credential_cannot_be_rotated(admin_api_client, organization):
    """Revoking is final: a rotation would store a new key on a credential nothing may use."""
    credential = make_credential(organization)
    revoked = admin_api_client.patch(f"/api/v1/credentials/{credential.pk}/", {"status": "revoked"})
    assert revoked.status_code == 200, revoked.content
    before = ProviderCredential.objects.filter(pk=credential.pk).values().get()

    response = admin_api_client.post(f"/api/v1/credentials/{credential.pk}/rotate/", {"api_key": API_KEY})

    assert response.status_code == 409, response.content
    assert ProviderCredential.objects.filter(pk=credential.pk).values().get() == before


@pytest.mark.parametrize(
    ("url", "payload"),
    [
        ("/api/v1/budgets/", {"name": "spaces", "user_ref": "   ", "limit_usd": "10"}),
        ("/api/v1/ai-preferences/", {"user_ref": " \t "}),
    ],
)
def test_a_user_ref_of_only_spaces_is_refused_not_read_as_everyone(
    admin_api_client, organization, url, payload
):
    response = admin_api_client.post(url, payload, format="json")
    assert response.status_code == 400, response.content
    assert [(error["attr"], error["code"]) for error in response.json()["errors"]] == [("user_ref", "blank")]
    assert not Budget.all_objects.filter(organization=organization).exists()
    assert not AIPreference.all_objects.filter(organization=organization).exists()


def test_effective_preference_refuses_a_user_ref_longer_than_any_stored(api_client, organization):
    AIPreferenceFactory(organization=organization, user_ref=None)
    response = api_client.get("/api/v1/ai-preferences/effective/", {"user_ref": "u" * 201})
    assert response.status_code == 400
    assert [(error["attr"], error["code"]) for error in response.json()["errors"]] == [
        ("user_ref", "max_length")
    ]
    assert api_client.get("/api/v1/ai-preferences/effective/", {"user_ref": "u" * 200}).status_code == 200
