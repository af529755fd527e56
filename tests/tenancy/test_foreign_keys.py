"""The keys into generations and runs say ``ON DELETE RESTRICT`` in the database
(``tenancy.foreign_keys``, ``generations`` 0019 and ``analytics`` 0022): the database still
refuses a deletion that would leave a reference dangling, now at the end of the statement; a
tree deleted in one statement (as retention deletes it) passes; the checks of writes of the
referencing rows stay deferred to the commit; and both migrations reverse to Django's ``NO ACTION``."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from generations.models import Generation
from tests.analytics.factories import ProviderCallFactory
from tests.generations.factories import GenerationFactory
from tests.migrations_support import migrate

# (table, column): every key that points at generations_generation or generations_generationrun.
KEYS = {
    ("analytics_modelperformance", "run_id"),
    ("analytics_performancemetric", "generation_id"),
    ("analytics_providercall", "generation_id"),
    ("generations_generation", "parent_id"),
    ("generations_generation", "root_id"),
    ("generations_generation", "run_id"),
    ("generations_scheduledpost", "generation_id"),
}


def keys_into_generations_and_runs() -> dict[tuple[str, str], tuple[str, bool, bool]]:
    """(table, column) -> (ON DELETE action code, deferrable, initially deferred)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.conrelid::regclass::text, a.attname, c.confdeltype, c.condeferrable, c.condeferred "
            "FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
            "WHERE c.contype = 'f' AND c.confrelid::regclass::text IN "
            "('generations_generation', 'generations_generationrun')"
        )
        return {
            (table, column): (action, deferrable, deferred)
            for table, column, action, deferrable, deferred in cursor.fetchall()
        }


def delete_by_sql(*generations: Generation) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM generations_generation WHERE id = ANY(%s)", [[g.pk for g in generations]])


@pytest.mark.django_db
def test_every_key_into_generations_and_runs_restricts_deletes_and_stays_deferrable():
    assert keys_into_generations_and_runs() == dict.fromkeys(KEYS, ("r", True, True))


@pytest.mark.django_db
def test_a_generation_a_call_still_points_at_cannot_be_deleted(organization):
    generation = GenerationFactory(organization=organization)
    ProviderCallFactory(organization=organization, generation=generation)

    # Refused by the deleting statement itself, not at the commit: RESTRICT is never deferred.
    with pytest.raises(IntegrityError, match="analytics_providercall"), transaction.atomic():
        delete_by_sql(generation)

    assert Generation.all_objects.filter(pk=generation.pk).exists()


@pytest.mark.django_db
def test_a_tree_deleted_in_one_statement_passes_and_a_root_alone_is_refused(organization):
    root = GenerationFactory(organization=organization)
    child = GenerationFactory(
        organization=organization, parent=root, root=root, depth=1, version=2, kind="revision"
    )
    grandchild = GenerationFactory(
        organization=organization, parent=child, root=root, depth=2, version=3, kind="revision"
    )

    with pytest.raises(IntegrityError, match="generations_generation"), transaction.atomic():
        delete_by_sql(root)
    delete_by_sql(grandchild, root, child)  # as retention deletes a tree: every node at once

    assert not Generation.all_objects.filter(pk__in=[root.pk, child.pk, grandchild.pk]).exists()


@pytest.mark.django_db
def test_an_orm_delete_of_a_tree_of_more_than_a_hundred_nodes_passes(organization):
    # Django deletes in statements of 100 rows, newest key first: the nodes go before their root.
    root = GenerationFactory(organization=organization, tree_last_version=102)
    for version in range(2, 103):
        GenerationFactory(
            organization=organization, parent=root, root=root, depth=1, version=version, kind="revision"
        )

    Generation.all_objects.filter(pk=root.pk).hard_delete()

    assert not Generation.all_objects.filter(organization=organization).exists()


@pytest.mark.django_db
def test_the_check_of_a_write_still_waits_for_the_commit(organization):
    generation = GenerationFactory(organization=organization)
    call = ProviderCallFactory(organization=organization, generation=generation)
    missing = generation.pk + 1_000_000

    with (
        pytest.raises(IntegrityError, match="analytics_providercall"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        # Accepted by the statement: the key's check of writes is still deferred ...
        cursor.execute(
            "UPDATE analytics_providercall SET generation_id = %s WHERE id = %s", [missing, call.pk]
        )
        # ... until the commit (asked for here, inside the test's transaction).
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    call.refresh_from_db()
    assert call.generation_id == generation.pk


@pytest.mark.django_db(transaction=True)
def test_the_migrations_reverse_to_no_action(back_to_the_latest_afterwards):
    migrate(
        [
            ("generations", "0018_generation_trace_fields_db_default"),
            ("analytics", "0021_providercall_trace_fields"),
        ]
    )
    assert keys_into_generations_and_runs() == dict.fromkeys(KEYS, ("a", True, True))

    migrate(
        [
            ("generations", "0019_restrict_deletes_at_database"),
            ("analytics", "0022_restrict_deletes_at_database"),
        ]
    )
    assert keys_into_generations_and_runs() == dict.fromkeys(KEYS, ("r", True, True))
