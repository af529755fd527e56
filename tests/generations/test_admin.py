"""Admin of generations: read-only except status and soft delete, filters, the tree, the cost."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from generations import services
from generations.models import Generation
from tenancy.models import AuditEvent
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from tests.generations.factories import (
    CacheEntryFactory,
    CampaignFactory,
    GenerationFactory,
    GenerationRunFactory,
)

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/generations/generation/"


@pytest.fixture
def superuser_client(client):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def change_url(generation) -> str:
    return f"{CHANGELIST}{generation.pk}/change/"


def small_tree(organization):
    root = GenerationFactory(organization=organization, request_id="root")
    child = services.generation_branch(
        organization=organization,
        parent=root,
        values={"request_id": "child", "branch_name": "punchier"},
        fingerprint="c",
    ).instance
    grandchild = services.generation_branch(
        organization=organization, parent=child, values={"request_id": "grandchild"}, fingerprint="g"
    ).instance
    return root, child, grandchild


def test_changelist_filters_and_searches(superuser_client, organization):
    GenerationFactory(organization=organization, request_id="wanted", status="failed")
    GenerationFactory(organization=organization, request_id="other")
    for query in [
        "",
        "?status__exact=failed",
        "?q=wanted",
        "?cost_status__exact=unpriced",
        "?kind__exact=original",
    ]:
        response = superuser_client.get(CHANGELIST + query)
        assert response.status_code == 200, query
    html = superuser_client.get(CHANGELIST + "?status__exact=failed").content.decode()
    assert "wanted" in html
    assert ">other<" not in html


def test_change_page_shows_tree_cost_and_usage_and_only_status_is_editable(superuser_client, organization):
    root, child, grandchild = small_tree(organization)

    html = superuser_client.get(change_url(child)).content.decode()

    assert 'name="status"' in html
    for read_only in ("content", "request_id", "model_name", "input_tokens", "prompt"):
        assert f'name="{read_only}"' not in html
    assert "v2 · revision" in html and "(this one)" in html
    assert "punchier" in html
    assert change_url(root) in html and change_url(grandchild) in html
    assert "unpriced (model or price unknown)" in html
    assert "cache read" in html


def test_no_one_adds_generations_in_the_admin(superuser_client):
    assert superuser_client.get(f"{CHANGELIST}add/").status_code == 403


def test_status_change_moves_forward_and_is_audited(superuser_client, organization):
    generation = GenerationFactory(organization=organization, status="pending", content="keep me")

    response = superuser_client.post(change_url(generation), {"status": "processing", "content": "hacked"})

    assert response.status_code == 302, response.content.decode()[:2000]
    generation.refresh_from_db()
    assert generation.status == "processing"
    assert generation.content == "keep me"
    assert AuditEvent.objects.for_object(generation).filter(action="update").exists()


def test_backwards_status_change_is_refused_in_the_form(superuser_client, organization):
    generation = GenerationFactory(organization=organization, status="success")
    response = superuser_client.post(change_url(generation), {"status": "pending"})
    assert response.status_code == 200
    assert "moves forward only" in response.content.decode()
    generation.refresh_from_db()
    assert generation.status == "success"


def test_delete_is_soft_and_restore_brings_back(superuser_client, organization):
    generation = GenerationFactory(organization=organization)
    assert superuser_client.post(f"{CHANGELIST}{generation.pk}/delete/", {"post": "yes"}).status_code == 302
    generation.refresh_from_db()
    assert generation.is_deleted
    response = superuser_client.post(
        CHANGELIST + "?deleted=yes", {"action": "restore_selected", "_selected_action": [generation.pk]}
    )
    assert response.status_code == 302
    generation.refresh_from_db()
    assert not generation.is_deleted


def test_staff_see_only_their_organizations_generations(client, organization):
    other = OrganizationFactory(slug="elsewhere")
    mine = GenerationFactory(organization=organization, request_id="mine-1")
    theirs = GenerationFactory(organization=other, request_id="theirs-1")
    user = UserFactory(is_superuser=False)
    MembershipFactory(user=user, organization=organization)
    from django.contrib.auth.models import Permission

    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="generations"))
    client.force_login(user)

    html = client.get(CHANGELIST).content.decode()

    assert "mine-1" in html and "theirs-1" not in html
    assert client.get(change_url(theirs)).status_code == 404
    assert client.get(change_url(mine)).status_code == 200


@pytest.mark.parametrize("model", ["campaign", "generationrun", "cacheentry"])
def test_other_admin_pages_list_their_rows(superuser_client, organization, model):
    made = {
        "campaign": CampaignFactory(organization=organization),
        "generationrun": GenerationRunFactory(organization=organization),
        "cacheentry": CacheEntryFactory(organization=organization),
    }
    response = superuser_client.get(f"/admin/generations/{model}/")
    assert response.status_code == 200
    assert [row.pk for row in response.context["cl"].result_list] == [made[model].pk]


def test_cache_daily_stats_page_lists_a_days_stats(superuser_client, organization):
    CacheEntryFactory(organization=organization)
    response = superuser_client.get("/admin/generations/cachedailystats/")
    assert response.status_code == 200
    assert "cl" in response.context and response.context["cl"].opts.model_name == "cachedailystats"


def test_variants_tree_in_admin_counts_queries(superuser_client, organization, django_assert_max_num_queries):
    root, *_ = small_tree(organization)
    superuser_client.get(change_url(root))
    with django_assert_max_num_queries(25):
        assert superuser_client.get(change_url(root)).status_code == 200
    assert Generation.objects.count() == 3


def _run_form(run, models_requested: str) -> dict:
    """The admin change form of ``run`` as it stands, with ``models_requested`` as typed."""
    return {
        "organization": run.organization_id,
        "prompt": run.prompt,
        "content_type": run.content_type,
        "mode": run.mode,
        "models_requested": models_requested,
        "user_ref": "",
        "error_details": "{}",
    }


@pytest.mark.parametrize(
    "models_requested",
    ['[{"name": "gpt-4o"}]', '"gpt-4o"', '["gpt-4o", ["nested"]]', '[""]', '["   "]', f'["{"m" * 201}"]'],
    ids=["objects", "text", "nested list", "empty name", "spaces", "name too long"],
)
def test_a_runs_requested_models_must_be_a_list_of_names_in_the_admin(
    superuser_client, organization, models_requested
):
    run = GenerationRunFactory(organization=organization, models_requested=["gpt-4o"])
    url = f"/admin/generations/generationrun/{run.pk}/change/"
    response = superuser_client.post(url, _run_form(run, models_requested))
    assert response.status_code == 200  # the form again, with its error
    assert "A list of at most 50 model names" in response.content.decode()
    run.refresh_from_db()
    assert run.models_requested == ["gpt-4o"]
    # The run still reads (its status compares these names as a set).
    assert superuser_client.get(url).status_code == 200


def test_a_runs_requested_models_saved_in_the_admin_as_a_list_of_names(superuser_client, organization):
    run = GenerationRunFactory(organization=organization, models_requested=["gpt-4o"])
    response = superuser_client.post(
        f"/admin/generations/generationrun/{run.pk}/change/",
        _run_form(run, '["gpt-4o", "claude-sonnet-4-5"]'),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    run.refresh_from_db()
    assert run.models_requested == ["gpt-4o", "claude-sonnet-4-5"]
