"""Publishing: numbered immutable versions, drafts edited afterwards, inheritance, the API."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from styleguides import selectors, services
from styleguides.models import MAX_INHERITANCE_DEPTH, ImmutableRowError, StyleGuide, StyleGuideVersion
from tenancy.actors import Actor
from tenancy.models import AuditEvent
from tests.factories import UserFactory
from tests.styleguides.factories import BrandRuleFactory, StyleGuideFactory

pytestmark = pytest.mark.django_db


def test_publish_twice_gives_versions_1_and_2_with_their_own_content(organization):
    guide = StyleGuideFactory(organization=organization, body="First wording", tone="Warm")
    BrandRuleFactory(guide=guide, name="No hype", parameters={"terms": ["synergy"]})
    author = UserFactory()
    v1 = services.style_guide_publish(
        organization=organization, actor=Actor(user=author), guide=guide, notes="Launch"
    )
    v1_values = StyleGuideVersion.objects.filter(pk=v1.pk).values().get()

    services.owned_row_update(organization=organization, instance=guide, body="Second wording", tone="Bright")
    services.brand_rule_update(
        organization=organization, instance=guide.rules.get(), parameters={"terms": ["disrupt"]}
    )
    v2 = services.style_guide_publish(organization=organization, guide=guide)

    assert (v1.version, v2.version) == (1, 2)
    assert (v1.body, v1.tone, v1.rules[0]["parameters"]["terms"]) == ("First wording", "Warm", ["synergy"])
    assert (v2.body, v2.tone, v2.rules[0]["parameters"]["terms"]) == ("Second wording", "Bright", ["disrupt"])
    assert v1.published_by == author and v1.published_by_label == f"user:{author.username}"
    # v1 never changes afterwards.
    assert StyleGuideVersion.objects.filter(pk=v1.pk).values().get() == v1_values
    guide.refresh_from_db()
    assert guide.status == "published"
    assert AuditEvent.objects.for_object(guide).filter(action="publish").count() == 2


def test_editing_a_published_guide_edits_the_draft_not_the_version(organization):
    guide = StyleGuideFactory(organization=organization, body="Live text")
    version = services.style_guide_publish(organization=organization, guide=guide)
    services.owned_row_update(organization=organization, instance=guide, body="Draft text")
    version.refresh_from_db()
    assert version.body == "Live text"
    listed = selectors.style_guides_for(organization=organization).get(pk=guide.pk)
    from styleguides.versioning import guide_has_unpublished_changes

    assert guide_has_unpublished_changes(listed, latest_hash=listed.latest_version_hash)


def test_a_version_refuses_to_be_saved_again(organization):
    version = services.style_guide_publish(
        organization=organization, guide=StyleGuideFactory(organization=organization)
    )
    version.body = "Rewritten history"
    with pytest.raises(ImmutableRowError):
        version.save()
    version.refresh_from_db()
    assert version.body != "Rewritten history"


def test_the_database_refuses_to_update_a_version(organization):
    version = services.style_guide_publish(
        organization=organization, guide=StyleGuideFactory(organization=organization)
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        StyleGuideVersion.objects.filter(pk=version.pk).update(body="Rewritten history")
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE styleguides_styleguideversion SET version = 9 WHERE id = %s", [version.pk])
    version.refresh_from_db()
    assert (version.version, version.body) != (9, "Rewritten history")


def test_deleting_the_publisher_keeps_the_version_and_who_it_was(organization):
    author = UserFactory()
    version = services.style_guide_publish(
        organization=organization,
        actor=Actor(user=author),
        guide=StyleGuideFactory(organization=organization),
    )
    author.delete()  # SET_NULL: the one change the immutability trigger allows
    version.refresh_from_db()
    assert version.published_by is None
    assert version.published_by_label == f"user:{author.username}"


def test_publishing_an_unchanged_guide_is_a_conflict(organization):
    guide = StyleGuideFactory(organization=organization)
    services.style_guide_publish(organization=organization, guide=guide)
    with pytest.raises(services.NothingToPublish):
        services.style_guide_publish(organization=organization, guide=guide)
    assert guide.versions.count() == 1


def test_effective_guide_merges_parent_and_child_child_winning(organization, seeded):
    parent = StyleGuide.objects.get(organization=None, slug="healthcare")
    child = StyleGuideFactory(
        organization=organization,
        parent=parent,
        tone="Upbeat",
        audience="",
        body="# Acme Clinic\nSay 'clinic'.",
        banned_terms=["cheap", "Miracle"],
    )
    effective = selectors.effective_style_guide(guide=child, draft=True)
    assert effective.tone == "Upbeat"  # child wins
    assert effective.audience == parent.audience  # inherited where the child is silent
    assert effective.reading_level == 8
    assert effective.body.index("Healthcare style guide") < effective.body.index("Acme Clinic")
    assert effective.banned_terms == ["miracle", "risk-free", "cheap"]  # union, first spelling kept
    rule_names = {rule.name for rule in effective.rules}
    assert {"Medical claims", "Click here"} <= rule_names  # from the parent and the grandparent
    assert [layer.guide_id for layer in effective.layers] == [parent.parent_id, parent.pk, child.pk]


def test_a_guide_cannot_inherit_in_a_circle_or_from_another_tenant(organization, other_organization):
    from django.core.exceptions import ValidationError

    first = StyleGuideFactory(organization=organization)
    second = StyleGuideFactory(organization=organization, parent=first)
    with pytest.raises(ValidationError, match="circle"):
        services.owned_row_update(organization=organization, instance=first, parent=second)
    theirs = StyleGuideFactory(organization=other_organization)
    with pytest.raises(ValidationError, match="own organization"):
        services.owned_row_update(organization=organization, instance=first, parent=theirs)
    first.refresh_from_db()
    assert first.parent_id is None


def test_a_chain_deeper_than_the_merge_reads_is_refused_when_saved(admin_api_client, organization):
    """The effective guide merges at most MAX_INHERITANCE_DEPTH guides: an 11th would be saved
    and then silently left out of every merge."""
    from styleguides.models import MAX_INHERITANCE_DEPTH

    parent = None
    for level in range(MAX_INHERITANCE_DEPTH):
        parent = StyleGuideFactory(organization=organization, parent=parent, name=f"Level {level}")

    response = admin_api_client.post(
        "/api/v1/style-guides/", {"name": "Too deep", "kind": "brand", "parent": parent.pk}, format="json"
    )

    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["attr"] == "parent"
    assert not StyleGuide.objects.filter(name="Too deep").exists()


def _chain(organization, length: int, name: str) -> list[StyleGuide]:
    """``length`` guides, each built on the one before: root first."""
    guides, parent = [], None
    for level in range(length):
        parent = StyleGuideFactory(organization=organization, parent=parent, name=f"{name} {level}")
        guides.append(parent)
    return guides


@pytest.mark.parametrize("soft_deleted_leaf", [False, True], ids=["live", "soft-deleted leaf"])
def test_reparenting_a_guide_whose_descendants_would_pass_the_depth_is_refused(
    api_client, organization, soft_deleted_leaf
):
    """The deepest guide below the one moved counts too: 4 above + the 7 of the moved subtree make
    a chain of 11, which the merge would cut without a word. A soft-deleted guide counts, as a
    restore brings it back without this check."""
    above = _chain(organization, 4, "Above")
    moved, *below = _chain(organization, MAX_INHERITANCE_DEPTH - 4 + 1, "Moved")
    if soft_deleted_leaf:
        StyleGuide.all_objects.filter(pk=below[-1].pk).update(deleted_at=timezone.now())
    before = (list(StyleGuide.all_objects.order_by("pk").values()), AuditEvent.objects.count())

    response = api_client.patch(f"/api/v1/style-guides/{moved.pk}/", {"parent": above[-1].pk}, format="json")

    assert response.status_code == 400, response.content
    error = response.json()["errors"][0]
    assert error["attr"] == "parent"
    assert f"at most {MAX_INHERITANCE_DEPTH}" in error["detail"]
    assert (list(StyleGuide.all_objects.order_by("pk").values()), AuditEvent.objects.count()) == before


def test_reparenting_a_subtree_that_stays_within_the_depth_is_accepted(api_client, organization):
    above = _chain(organization, 4, "Above")
    moved, *below = _chain(organization, MAX_INHERITANCE_DEPTH - 4, "Moved")

    response = api_client.patch(f"/api/v1/style-guides/{moved.pk}/", {"parent": above[-1].pk}, format="json")

    assert response.status_code == 200, response.content
    moved.refresh_from_db()
    assert moved.parent_id == above[-1].pk
    # Editing a guide deep in the chain, its place unchanged, is still fine.
    response = api_client.patch(f"/api/v1/style-guides/{below[-1].pk}/", {"tone": "Dry"}, format="json")
    assert response.status_code == 200, response.content


# --- API ------------------------------------------------------------------------------------


def test_publish_versions_and_version_endpoints(api_client, organization):
    guide = StyleGuideFactory(organization=organization, body="One")
    response = api_client.post(f"/api/v1/style-guides/{guide.pk}/publish/", {"notes": "first"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["version"] == 1
    api_client.patch(f"/api/v1/style-guides/{guide.pk}/", {"body": "Two"}, format="json")
    assert (
        api_client.post(f"/api/v1/style-guides/{guide.pk}/publish/", {}, format="json").json()["version"] == 2
    )

    versions = api_client.get(f"/api/v1/style-guides/{guide.pk}/versions/").json()
    assert [(v["version"], v["body"]) for v in versions] == [(2, "Two"), (1, "One")]
    assert api_client.get(f"/api/v1/style-guides/{guide.pk}/versions/1/").json()["body"] == "One"
    assert api_client.get(f"/api/v1/style-guides/{guide.pk}/versions/7/").status_code == 404

    detail = api_client.get(f"/api/v1/style-guides/{guide.pk}/").json()
    assert (detail["status"], detail["latest_version"], detail["has_unpublished_changes"]) == (
        "published",
        2,
        False,
    )

    again = api_client.post(f"/api/v1/style-guides/{guide.pk}/publish/", {}, format="json")
    assert again.status_code == 409
    assert again.json()["errors"][0]["code"] == "nothing_to_publish"


def test_effective_endpoint_reports_the_merged_guide(api_client, organization, healthcare_guide):
    child = StyleGuideFactory(organization=organization, parent=healthcare_guide, tone="Upbeat")
    services.style_guide_publish(organization=organization, guide=child)
    body = api_client.get(f"/api/v1/style-guides/{child.pk}/effective/").json()
    assert body["tone"] == "Upbeat"
    assert body["version_ids"] == [
        child.versions.get().pk,
        healthcare_guide.versions.get().pk,
        healthcare_guide.parent.versions.get().pk,
    ]
    assert "Medical claims" in {rule["name"] for rule in body["rules"]}


def test_filters_by_kind_vertical_and_status(api_client, organization, seeded):
    StyleGuideFactory(organization=organization, slug="mine")

    def slugs(**params):
        return {row["slug"] for row in api_client.get("/api/v1/style-guides/", params).json()["results"]}

    assert slugs(kind="vertical") == {"hospitality", "healthcare", "tech", "athletics"}
    assert slugs(vertical="tech") == {"tech"}
    assert slugs(status="draft") == {"mine"}
    assert slugs(kind="brand") == {"mine"}
    assert "clear-writing" in slugs(is_global="true")
    assert slugs(is_global="false") == {"mine"}


def test_style_guide_list_query_count_is_flat_with_rules_and_parents(
    api_client, organization, seeded, django_assert_max_num_queries
):
    parent = StyleGuide.objects.get(organization=None, slug="tech")
    for _ in range(10):
        guide = StyleGuideFactory(organization=organization, parent=parent)
        BrandRuleFactory(guide=guide)
        services.style_guide_publish(organization=organization, guide=guide)
    api_client.get("/api/v1/style-guides/")
    with django_assert_max_num_queries(6):
        response = api_client.get("/api/v1/style-guides/?page_size=100")
    assert len(response.json()["results"]) == 15
