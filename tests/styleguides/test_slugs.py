"""A slug left out is derived from the name, unique among the organization's live rows."""

import pytest
from django.core.management import call_command

from styleguides.models import ContentPillar, ContextSnippet, PromptTemplate, StyleGuide
from tests.styleguides.factories import StyleGuideFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("url", "payload", "model"),
    [
        ("/api/v1/style-guides/", {"name": "Café Voice", "kind": "brand"}, StyleGuide),
        ("/api/v1/templates/", {"name": "Café Voice", "user_template": "Hi"}, PromptTemplate),
        ("/api/v1/snippets/", {"name": "Café Voice", "body": "About us."}, ContextSnippet),
        ("/api/v1/content-pillars/", {"name": "Café Voice"}, ContentPillar),
    ],
)
def test_slug_is_derived_from_the_name_and_kept_unique(
    api_client, organization, other_organization, url, payload, model
):
    first = api_client.post(url, payload, format="json")
    second = api_client.post(url, payload, format="json")
    assert (first.status_code, second.status_code) == (201, 201), (first.content, second.content)
    assert [first.json()["slug"], second.json()["slug"]] == ["cafe-voice", "cafe-voice-2"]
    assert model.objects.filter(organization=organization, slug__startswith="cafe-voice").count() == 2


def test_another_organizations_slug_does_not_count(api_client, other_organization):
    StyleGuideFactory(organization=other_organization, slug="acme-voice")
    response = api_client.post(
        "/api/v1/style-guides/", {"name": "Acme voice", "kind": "brand"}, format="json"
    )
    assert response.json()["slug"] == "acme-voice"


def test_bootstrap_demo_prints_the_port_it_was_given(db, capsys):
    call_command("bootstrap_demo", base_url="http://127.0.0.1:8222")
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8222/api/v1/models/" in out
    assert ":8000" not in out
