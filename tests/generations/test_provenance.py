"""Which style guide and template versions a generation used: scoped in the API, linked in admin."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from generations.models import Generation
from styleguides import services as styleguide_services
from styleguides.models import PromptTemplateVersion
from tests.styleguides.factories import StyleGuideFactory, make_template

pytestmark = pytest.mark.django_db
URL = "/api/v1/generations/"


def published_version(organization):
    guide = StyleGuideFactory(organization=organization)
    return styleguide_services.style_guide_publish(organization=organization, guide=guide)


def template_version(organization):
    template = make_template(organization)
    return PromptTemplateVersion.objects.filter(template=template).get()


def test_a_generation_records_its_own_style_guide_and_template_versions(api_client, organization):
    guide_version, prompt_version = published_version(organization), template_version(organization)

    response = api_client.post(
        URL,
        {
            "request_id": "with-sources",
            "style_guide_version": guide_version.pk,
            "template_version": prompt_version.pk,
        },
    )

    assert response.status_code == 201, response.content
    assert (response.json()["style_guide_version"], response.json()["template_version"]) == (
        guide_version.pk,
        prompt_version.pk,
    )


def test_global_versions_may_be_used(api_client):
    guide_version = published_version(None)
    response = api_client.post(URL, {"request_id": "global", "style_guide_version": guide_version.pk})
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("field", ["style_guide_version", "template_version"])
def test_another_organizations_versions_are_refused(api_client, other_organization, field):
    theirs = (
        published_version(other_organization)
        if field == "style_guide_version"
        else template_version(other_organization)
    )
    response = api_client.post(URL, {"request_id": "theirs", field: theirs.pk})
    assert response.status_code == 400
    assert (response.json()["errors"][0]["attr"], response.json()["errors"][0]["code"]) == (
        field,
        "does_not_exist",
    )
    bulk = api_client.post(f"{URL}bulk/", {"items": [{"request_id": "theirs", field: theirs.pk}]})
    assert bulk.status_code == 400
    assert bulk.json()["errors"][0]["attr"] == f"items.0.{field}"
    assert Generation.all_objects.count() == 0


@pytest.mark.parametrize("field", ["style_guide_version", "template_version"])
def test_a_deleted_guides_or_templates_versions_are_refused_like_a_deleted_campaign(
    api_client, organization, field
):
    """Deleted, the guide or template is hidden from the API (its versions' list is a 404): a
    new generation cannot cite it, one at a time or in bulk. One cited before keeps it."""
    version = (
        published_version(organization) if field == "style_guide_version" else template_version(organization)
    )
    earlier = api_client.post(URL, {"request_id": "before", field: version.pk})
    assert earlier.status_code == 201, earlier.content
    owner = version.guide if field == "style_guide_version" else version.template
    owner.delete()  # soft

    response = api_client.post(URL, {"request_id": "after", field: version.pk})
    bulk = api_client.post(f"{URL}bulk/", {"items": [{"request_id": "after", field: version.pk}]})

    assert response.status_code == 400
    assert (response.json()["errors"][0]["attr"], response.json()["errors"][0]["code"]) == (
        field,
        "does_not_exist",
    )
    assert bulk.status_code == 400
    assert bulk.json()["errors"][0]["attr"] == f"items.0.{field}"
    assert list(Generation.all_objects.values_list("request_id", f"{field}_id")) == [("before", version.pk)]


def test_admin_links_the_versions_a_generation_used(client, api_client, organization):
    guide_version, prompt_version = published_version(organization), template_version(organization)
    generation_id = api_client.post(
        URL,
        {
            "request_id": "linked",
            "style_guide_version": guide_version.pk,
            "template_version": prompt_version.pk,
        },
    ).json()["id"]
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))

    html = client.get(f"/admin/generations/generation/{generation_id}/change/").content.decode()

    assert f"/admin/styleguides/styleguide/{guide_version.guide_id}/change/" in html
    assert f"{guide_version.name} v{guide_version.version}" in html
    assert f"/admin/styleguides/prompttemplate/{prompt_version.template_id}/change/" in html
