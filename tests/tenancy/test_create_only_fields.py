"""Fields fixed when a row is created (``Meta.create_only_fields``): an update that sends one is
a 400 naming it and changes nothing, and the published schema's update bodies do not offer it."""

from __future__ import annotations

import pytest

from providers.models import ProviderCredential
from tests.providers.factories import ProviderFactory, make_credential
from tests.styleguides.factories import BrandRuleFactory, StyleGuideFactory

# (list path, create-only fields, a field an update may send)
RESOURCES = [
    ("/api/v1/brand-rules/", {"guide"}, "name"),
    ("/api/v1/credentials/", {"provider", "api_key"}, "name"),
    ("/api/v1/social-accounts/", {"platform"}, "handle"),
]


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker):
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def _body(schema: dict, path: str, method: str) -> set[str]:
    reference = schema["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    component = schema["components"]["schemas"][reference.rsplit("/", 1)[1]]
    return {name for name, field in component["properties"].items() if not field.get("readOnly")}


@pytest.mark.parametrize(("path", "fixed", "editable"), RESOURCES, ids=[path for path, _, _ in RESOURCES])
def test_the_schema_offers_create_only_fields_on_create_only(schema, path, fixed, editable):
    assert fixed <= _body(schema, path, "post")
    for method in ("put", "patch"):
        body = _body(schema, f"{path}{{id}}/", method)
        assert editable in body
        assert not fixed & body, (method, fixed & body)


def test_an_update_naming_a_create_only_field_is_refused_and_changes_nothing(admin_api_client, organization):
    ProviderFactory(slug="anthropic")
    credential = make_credential(organization, name="main")
    response = admin_api_client.patch(
        f"/api/v1/credentials/{credential.pk}/", {"name": "renamed", "provider": "anthropic"}, format="json"
    )
    assert response.status_code == 400
    assert [(error["attr"], error["code"]) for error in response.json()["errors"]] == [
        ("provider", "unknown_field")
    ]
    credential.refresh_from_db()
    assert (credential.name, credential.provider.slug) == ("main", "openai")
    assert ProviderCredential.objects.filter(organization=organization).count() == 1


def test_a_rule_update_without_its_guide_still_saves(api_client, organization):
    rule = BrandRuleFactory(guide=StyleGuideFactory(organization=organization), name="before")
    response = api_client.patch(f"/api/v1/brand-rules/{rule.pk}/", {"name": "after"}, format="json")
    assert response.status_code == 200, response.content
    rule.refresh_from_db()
    assert rule.name == "after"
