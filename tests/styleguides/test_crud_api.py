"""The shared CRUD API checks (list, get, create, update, delete, cross-tenant, viewer keys,
query counts) for every styleguides endpoint, plus the verticals endpoint."""

import pytest

from styleguides import selectors
from styleguides.models import (
    BrandRule,
    ContentPillar,
    ContentSeries,
    ContextSnippet,
    PromptTemplate,
    StyleGuide,
)
from tests.api_cases import TenantCRUDAPITests
from tests.styleguides.factories import (
    BrandRuleFactory,
    ContentPillarFactory,
    ContentSeriesFactory,
    StyleGuideFactory,
    make_snippet,
    make_template,
)

pytestmark = pytest.mark.django_db


class TestStyleGuideAPI(TenantCRUDAPITests):
    model = StyleGuide
    url = "/api/v1/style-guides/"
    create_data = {"name": "Acme voice", "slug": "acme-voice", "kind": "brand", "banned_terms": ["synergy"]}
    update_data = {"body": "# Voice\nWarm and precise."}
    related_factories = {"parent": lambda organization: StyleGuideFactory(organization=organization)}

    @pytest.fixture
    def make_object(self):
        def make(organization, **fields):
            guide = StyleGuideFactory(organization=organization, **fields)
            BrandRuleFactory(guide=guide)
            return guide

        return make


class TestBrandRuleAPI(TenantCRUDAPITests):
    model = BrandRule
    url = "/api/v1/brand-rules/"
    soft_delete = False
    update_data = {"severity": "warning"}
    related_factories = {"guide": lambda organization: StyleGuideFactory(organization=organization)}

    @pytest.fixture(autouse=True)
    def _guide(self, organization):
        guide = StyleGuideFactory(organization=organization)
        self.create_data = {
            "guide": guide.pk,
            "name": "No hype",
            "rule_type": "banned_term",
            "parameters": {"terms": ["revolutionary"]},
        }

    @pytest.fixture
    def make_object(self):
        return lambda organization, **fields: BrandRuleFactory(
            guide=StyleGuideFactory(organization=organization), **fields
        )


class TestPromptTemplateAPI(TenantCRUDAPITests):
    model = PromptTemplate
    url = "/api/v1/templates/"
    create_data = {
        "name": "Blog post",
        "slug": "blog-post",
        "content_type": "blog",
        "user_template": "Write a blog post about {{ topic }}.",
        "variables": [{"name": "topic", "required": True, "description": "What the post is about"}],
    }
    update_data = {"description": "Long-form posts"}

    def stored_write_only(self, row):
        latest = selectors.prompt_template_versions(template=row).first()
        return {name: getattr(latest, name) for name in ("system_template", "user_template", "variables")}

    @pytest.fixture
    def make_object(self):
        return make_template


class TestContextSnippetAPI(TenantCRUDAPITests):
    model = ContextSnippet
    url = "/api/v1/snippets/"
    create_data = {"name": "About us", "slug": "about-us", "body": "A family-run hotel since 1962."}
    update_data = {"body": "A family-run hotel since 1962, by the harbour."}

    @pytest.fixture
    def make_object(self):
        return make_snippet


class TestContentPillarAPI(TenantCRUDAPITests):
    model = ContentPillar
    url = "/api/v1/content-pillars/"
    create_data = {"name": "Local life", "slug": "local-life"}
    update_data = {"description": "Markets, walks and neighbours."}

    @pytest.fixture
    def make_object(self):
        return lambda organization, **fields: ContentPillarFactory(organization=organization, **fields)


class TestContentSeriesAPI(TenantCRUDAPITests):
    model = ContentSeries
    url = "/api/v1/content-series/"
    create_data = {"name": "Chef's table", "slug": "chefs-table"}
    update_data = {"description": "Every Friday."}
    related_factories = {"pillar": lambda organization: ContentPillarFactory(organization=organization)}

    @pytest.fixture
    def make_object(self):
        return lambda organization, **fields: ContentSeriesFactory(
            organization=organization, pillar=ContentPillarFactory(organization=organization), **fields
        )


def test_series_cannot_point_at_another_tenants_pillar(api_client, other_organization):
    theirs = ContentPillarFactory(organization=other_organization)
    response = api_client.post(
        "/api/v1/content-series/", {"name": "X", "slug": "x", "pillar": theirs.pk}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "code": "does_not_exist",
        "detail": response.json()["errors"][0]["detail"],
        "attr": "pillar",
    }
    assert not ContentSeries.objects.filter(slug="x").exists()


def test_series_cannot_be_moved_to_another_tenants_pillar(api_client, organization, other_organization):
    mine = ContentSeriesFactory(
        organization=organization, pillar=ContentPillarFactory(organization=organization)
    )
    theirs = ContentPillarFactory(organization=other_organization)
    response = api_client.patch(f"/api/v1/content-series/{mine.pk}/", {"pillar": theirs.pk}, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["errors"][0]
    assert (error["code"], error["attr"]) == ("does_not_exist", "pillar")
    mine.refresh_from_db()
    assert mine.pillar.organization_id == organization.pk


def test_verticals_are_listed_and_looked_up_by_slug(api_client, seeded, django_assert_max_num_queries):
    api_client.get("/api/v1/verticals/")
    with django_assert_max_num_queries(6):
        response = api_client.get("/api/v1/verticals/")
    assert response.status_code == 200
    assert sorted(row["slug"] for row in response.json()["results"]) == [
        "athletics",
        "healthcare",
        "hospitality",
        "tech",
    ]
    detail = api_client.get("/api/v1/verticals/healthcare/")
    assert detail.status_code == 200
    assert detail.json()["default_tone"] == "Calm, kind, plain and precise"
    assert api_client.get("/api/v1/verticals/nope/").status_code == 404


def test_verticals_are_read_only(api_client, seeded):
    response = api_client.post("/api/v1/verticals/", {"slug": "x", "name": "X"}, format="json")
    assert response.status_code == 405
    assert api_client.delete("/api/v1/verticals/tech/").status_code == 405


def test_verticals_need_an_api_key(client, seeded):
    assert client.get("/api/v1/verticals/").status_code == 401
