"""Generation trees: branch, lineage, tree, variants; versions, depth, cycles and tenancy."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from generations import services
from generations.models import Generation
from providers.price_sync import price_sync, snapshot_catalogue
from tests.generations.factories import GenerationFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/generations/"


def branch(api_client, node_id, **data):
    response = api_client.post(f"{URL}{node_id}/branch/", data)
    assert response.status_code == 201, response.content
    return response.json()


def test_a_branch_is_a_revision_that_inherits_from_its_parent(api_client, organization):
    root = GenerationFactory(
        organization=organization,
        model_name="claude-sonnet-4-0",
        agent_name="blog-writer",
        target_channel="blog",
    )

    child = branch(api_client, root.pk, content="Shorter intro", branch_name="short-intro")

    assert child["parent"] == root.pk
    assert child["root"] == root.pk
    assert (child["depth"], child["version"], child["kind"]) == (1, 2, "revision")
    assert child["branch_name"] == "short-intro"
    assert child["model"] == "claude-sonnet-4-0"
    assert child["content_type"] == root.content_type
    assert child["target_channel"] == "blog"
    assert child["request_id"]  # made up when the client sends none


def test_versions_count_up_across_the_whole_tree(api_client, organization):
    root = GenerationFactory(organization=organization)
    a = branch(api_client, root.pk)
    b = branch(api_client, a["id"])
    c = branch(api_client, root.pk)
    assert [a["version"], b["version"], c["version"]] == [2, 3, 4]
    assert [a["depth"], b["depth"], c["depth"]] == [1, 2, 1]
    assert b["root"] == root.pk


def test_a_branch_is_idempotent_by_request_id(api_client, organization):
    root = GenerationFactory(organization=organization)
    first = branch(api_client, root.pk, request_id="br-1", content="x")
    again = api_client.post(f"{URL}{root.pk}/branch/", {"request_id": "br-1", "content": "x"})
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    clash = api_client.post(f"{URL}{root.pk}/branch/", {"request_id": "br-1", "content": "y"})
    assert clash.status_code == 409
    assert Generation.objects.filter(parent=root).count() == 1


def test_branching_another_organizations_node_is_404(api_client, other_organization):
    theirs = GenerationFactory(organization=other_organization)
    response = api_client.post(f"{URL}{theirs.pk}/branch/", {"content": "mine now"})
    assert response.status_code == 404
    assert Generation.objects.count() == 1


@pytest.mark.parametrize("view", ["lineage", "tree", "variants"])
def test_tree_views_of_another_organizations_node_are_404(api_client, other_organization, view):
    theirs = GenerationFactory(organization=other_organization)
    assert api_client.get(f"{URL}{theirs.pk}/{view}/").status_code == 404


def test_a_node_cannot_be_moved_so_no_cycle_can_be_made(api_client, organization):
    root = GenerationFactory(organization=organization)
    child = branch(api_client, root.pk)
    response = api_client.patch(f"{URL}{root.pk}/", {"parent": child["id"]})
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "parent"
    root.refresh_from_db()
    assert root.parent_id is None


def test_the_database_refuses_a_duplicate_version_and_a_self_parent(organization):
    root = GenerationFactory(organization=organization)
    child = services.generation_branch(
        organization=organization, parent=root, values={"request_id": "c1"}, fingerprint="f"
    ).instance
    duplicate = GenerationFactory.build(
        organization=organization, parent=root, root=root, depth=1, version=child.version, kind="revision"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()
    with pytest.raises(IntegrityError), transaction.atomic():
        Generation.objects.filter(pk=root.pk).update(
            parent=root.pk, root=root.pk, depth=1, version=9, kind="revision"
        )


def big_tree(organization, size=200):
    """A 200-node tree built through the bulk service: node n's parent is node (n - 1) // 3."""
    items = [{"request_id": "n0000"}] + [
        {"request_id": f"n{n:04d}", "parent_request_id": f"n{(n - 1) // 3:04d}"} for n in range(1, size)
    ]
    results = services.generation_bulk_record(
        organization=organization, items=items, fingerprints=[str(n) for n in range(size)]
    )
    return [result.instance for result in results]


def test_tree_of_200_nodes_is_one_nested_answer_in_bounded_queries(
    api_client, organization, django_assert_max_num_queries
):
    nodes = big_tree(organization)
    deepest = nodes[-1]
    api_client.get(f"{URL}{deepest.pk}/")  # the key's first use records last_used_at

    with django_assert_max_num_queries(5):
        response = api_client.get(f"{URL}{deepest.pk}/tree/")

    assert response.status_code == 200
    tree = response.json()
    assert tree["id"] == nodes[0].pk
    assert tree["version"] == 1

    def walk(node):
        yield node
        for child in node["children"]:
            assert child["parent"] == node["id"]
            assert child["depth"] == node["depth"] + 1
            yield from walk(child)

    seen = list(walk(tree))
    assert len(seen) == 200
    assert sorted(node["version"] for node in seen) == list(range(1, 201))
    assert [child["request_id"] for child in tree["children"]] == ["n0001", "n0002", "n0003"]


def test_lineage_of_a_deep_node_is_root_first_in_bounded_queries(
    api_client, organization, django_assert_max_num_queries
):
    nodes = big_tree(organization)
    deepest = nodes[-1]  # n0199 → n0066 → n0021 → n0006 → n0001 → n0000
    api_client.get(f"{URL}{deepest.pk}/")

    with django_assert_max_num_queries(5):
        response = api_client.get(f"{URL}{deepest.pk}/lineage/")

    assert response.status_code == 200
    path = [node["request_id"] for node in response.json()]
    assert path == ["n0000", "n0001", "n0006", "n0021", "n0066", "n0199"]
    assert [node["depth"] for node in response.json()] == [0, 1, 2, 3, 4, 5]


def test_lineage_of_a_chain_200_deep(organization, django_assert_max_num_queries):
    items = [{"request_id": "c0"}] + [
        {"request_id": f"c{n}", "parent_request_id": f"c{n - 1}"} for n in range(1, 200)
    ]
    results = services.generation_bulk_record(
        organization=organization, items=items, fingerprints=[str(n) for n in range(200)]
    )
    from generations.selectors import generation_lineage

    with django_assert_max_num_queries(1):
        path = generation_lineage(organization=organization, generation=results[-1].instance)
    assert [node.request_id for node in path] == [f"c{n}" for n in range(200)]


def test_a_soft_deleted_node_keeps_its_place_in_the_tree(api_client, organization):
    root = GenerationFactory(organization=organization)
    middle = branch(api_client, root.pk)
    leaf = branch(api_client, middle["id"])
    api_client.delete(f"{URL}{middle['id']}/")

    tree = api_client.get(f"{URL}{leaf['id']}/tree/").json()

    [kept] = tree["children"]
    assert kept["is_deleted"] is True
    assert kept["children"][0]["id"] == leaf["id"]


def test_a_soft_deleted_ancestor_keeps_its_place_in_the_lineage_without_its_content(api_client, organization):
    root = GenerationFactory(organization=organization, content="The root's words.")
    middle = branch(api_client, root.pk)
    leaf = branch(api_client, middle["id"])
    Generation.objects.filter(pk=middle["id"]).update(content="Words the client deleted.")
    assert api_client.delete(f"{URL}{middle['id']}/").status_code == 204

    response = api_client.get(f"{URL}{leaf['id']}/lineage/")

    assert response.status_code == 200
    first, kept, last = response.json()
    assert (first["id"], first["is_deleted"], first["content"]) == (root.pk, False, "The root's words.")
    assert (kept["id"], kept["is_deleted"], kept["depth"], kept["parent"]) == (middle["id"], True, 1, root.pk)
    assert kept["content"] is None and kept["metadata"] is None and kept["cost_usd"] is None
    assert "Words the client deleted." not in response.content.decode()
    assert (last["id"], last["is_deleted"]) == (leaf["id"], False)


def test_lineage_of_priced_nodes_loads_their_model_and_provider_in_the_same_query(
    api_client, organization, django_assert_max_num_queries
):
    price_sync(catalogue=[entry for entry in snapshot_catalogue(["openai"]) if entry.name == "gpt-4o"])
    items = [{"request_id": "p0", "provider_name": "openai", "model_name": "gpt-4o"}] + [
        {
            "request_id": f"p{n}",
            "parent_request_id": f"p{n - 1}",
            "provider_name": "openai",
            "model_name": "gpt-4o",
        }
        for n in range(1, 60)
    ]
    results = services.generation_bulk_record(
        organization=organization, items=items, fingerprints=[str(n) for n in range(60)]
    )
    deepest = results[-1].instance
    api_client.get(f"{URL}{deepest.pk}/")

    # key, scoped detail look-up, the lineage CTE (63 queries when each node loaded its own)
    with django_assert_max_num_queries(4):
        response = api_client.get(f"{URL}{deepest.pk}/lineage/")

    assert response.status_code == 200
    assert [node["request_id"] for node in response.json()] == [f"p{n}" for n in range(60)]
