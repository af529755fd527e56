"""``generations.0004_request_id_unique_deleted_included``: duplicates of a request_id left by
the old partial constraint are told apart before the full constraint is added; reversible."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from generations.models import Generation
from tests.generations.factories import GenerationFactory
from tests.migrations_support import migrate

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("generations", "0003_generation_metered_usage_occurred_at")]
AFTER = [("generations", "0004_request_id_unique_deleted_included")]


def set_request_id(pk: int, request_id: str) -> None:
    """Rename a row with SQL: at an old migration state today's model has columns the table lacks."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE generations_generation SET request_id = %s WHERE id = %s", [request_id, pk])


def test_deleted_duplicates_get_a_request_id_of_their_own_and_the_migration_reverses(
    back_to_the_latest_afterwards, organization, other_organization
):
    # Given a request recorded, deleted and recorded again twice (the old constraint allowed it),
    # and a request whose every row was deleted: rows made now, renamed once the schema is back
    # at the partial constraint
    rows = {
        name: GenerationFactory(organization=organization, request_id=name)
        for name in ("first_deleted", "second_deleted", "live", "oldest_gone", "newer_gone", "spare")
    }
    elsewhere = GenerationFactory(organization=other_organization, request_id="dup")
    for name in ("first_deleted", "second_deleted", "oldest_gone", "newer_gone"):
        rows[name].delete()
    migrate(BEFORE)
    for name, request_id in [
        ("first_deleted", "dup"),
        ("second_deleted", "dup"),
        ("live", "dup"),
        ("oldest_gone", "gone"),
        ("newer_gone", "gone"),
    ]:
        set_request_id(rows[name].pk, request_id)

    # When the migration runs
    migrate(AFTER)

    # Then the live row (or the oldest) keeps the request_id, the others say where they came from
    names = dict(Generation.all_objects.values_list("pk", "request_id"))
    first_deleted, second_deleted = rows["first_deleted"], rows["second_deleted"]
    assert names[rows["live"].pk] == "dup" and names[elsewhere.pk] == "dup"
    assert names[first_deleted.pk] == f"dup#deleted-{first_deleted.pk}"
    assert names[second_deleted.pk] == f"dup#deleted-{second_deleted.pk}"
    assert names[rows["oldest_gone"].pk] == "gone"
    assert names[rows["newer_gone"].pk] == f"gone#deleted-{rows['newer_gone'].pk}"
    assert Generation.all_objects.count() == 7  # nothing removed: costs stay counted
    with pytest.raises(IntegrityError), transaction.atomic():
        set_request_id(rows["spare"].pk, "gone")

    # And it reverses to the partial constraint: a live row may share a deleted row's request_id
    migrate(BEFORE)
    set_request_id(rows["spare"].pk, "gone")
    assert Generation.all_objects.filter(request_id="gone").count() == 2


def _unique_constraints_of_generations() -> dict[str, list[str]]:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, "generations_generation")
    return {
        name: info["columns"] for name, info in found.items() if info["unique"] and not info["primary_key"]
    }


def test_the_tree_version_constraint_moves_to_organization_first_and_back(back_to_the_latest_afterwards):
    """``0010_generation_version_unique_per_org_tree``: ``(root, version)`` becomes
    ``(organization, root, version)``, and migrating back restores the old one."""
    latest = _unique_constraints_of_generations()
    assert latest["generation_unique_version_per_org_tree"] == ["organization_id", "root_id", "version"]
    assert "generation_unique_version_per_tree" not in latest

    migrate([("generations", "0009_generation_content_search")])
    before = _unique_constraints_of_generations()
    assert before["generation_unique_version_per_tree"] == ["root_id", "version"]
    assert "generation_unique_version_per_org_tree" not in before

    migrate([("generations", "0010_generation_version_unique_per_org_tree")])
    assert _unique_constraints_of_generations() == latest


def _generation_indexes() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.get_constraints(cursor, "generations_generation"))


def _overlap_is_leakproof() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT proleakproof FROM pg_proc WHERE oid = 'pg_catalog.arrayoverlap'::regproc")
        return cursor.fetchone()[0]


def test_the_search_index_gains_the_organization_and_migrating_back_restores_the_old_one(
    back_to_the_latest_afterwards,
):
    """``0014_org_content_search_index`` replaces the content-only GIN index and marks ``&&``
    LEAKPROOF; back at 0013 the old index and the unmarked function return."""
    migrate([("generations", "0014_org_content_search_index")])  # 0021 replaced it since
    assert "generation_org_search_idx" in _generation_indexes()
    assert "generation_content_search_idx" not in _generation_indexes()
    assert _overlap_is_leakproof()

    migrate([("generations", "0013_list_order_indexes")])
    assert "generation_content_search_idx" in _generation_indexes()
    assert "generation_org_search_idx" not in _generation_indexes()
    assert not _overlap_is_leakproof()


def _search_functions() -> dict[str, bool]:
    """The search functions 0021 defines, with whether each is LEAKPROOF."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT proname, proleakproof FROM pg_proc "
            "WHERE proname IN ('generation_search_vector', 'generation_search_query')"
        )
        return dict(cursor.fetchall())


def test_the_search_index_keyed_by_organization_replaces_the_old_one_and_migrating_back_restores_it(
    back_to_the_latest_afterwards, organization
):
    """``0021_generation_tenant_search_index`` defines the two functions (the vector's LEAKPROOF,
    it reads the row), indexes the vector and drops ``generation_org_search_idx``; back at 0020
    the old index returns and the functions are gone; forward again, a row written meanwhile is
    found through the new index."""
    assert {"generation_tenant_search_idx"} <= _generation_indexes()
    assert "generation_org_search_idx" not in _generation_indexes()
    assert _search_functions() == {"generation_search_vector": True, "generation_search_query": False}

    migrate([("generations", "0020_generation_org_kind_index")])
    assert "generation_org_search_idx" in _generation_indexes()
    assert "generation_tenant_search_idx" not in _generation_indexes()
    assert _search_functions() == {}
    GenerationFactory(organization=organization, content="Sea-view hotels.")  # under the old index

    migrate([("generations", "0021_generation_tenant_search_index")])
    assert Generation.objects.search("hotel", organization_ids=[organization.pk]).count() == 1
