"""``generations.0004_request_id_unique_deleted_included``: duplicates of a request_id left by
the old partial constraint are told apart before the full constraint is added; reversible."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from generations.models import Generation
from tenancy import rls
from tests.generations.factories import GenerationFactory

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("generations", "0003_generation_metered_usage_occurred_at")]
AFTER = [("generations", "0004_request_id_unique_deleted_included")]


def migrate(targets):
    # As ``manage.py migrate`` does: schema changes are the tables' owner's, not the app role's.
    with rls.database_owner():
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(targets)


@pytest.fixture
def at_the_partial_constraint():
    migrate(BEFORE)
    try:
        yield
    finally:
        migrate([key for key in MigrationExecutor(connection).loader.graph.leaf_nodes()])


def test_deleted_duplicates_get_a_request_id_of_their_own_and_the_migration_reverses(
    at_the_partial_constraint, organization, other_organization
):
    # Given a request recorded, deleted and recorded again twice (the old constraint allowed it),
    # and a request whose every row was deleted
    first_deleted = GenerationFactory(organization=organization, request_id="dup")
    first_deleted.delete()
    second_deleted = GenerationFactory(organization=organization, request_id="dup")
    second_deleted.delete()
    live = GenerationFactory(organization=organization, request_id="dup")
    oldest_gone = GenerationFactory(organization=organization, request_id="gone")
    oldest_gone.delete()
    newer_gone = GenerationFactory(organization=organization, request_id="gone")
    newer_gone.delete()
    elsewhere = GenerationFactory(organization=other_organization, request_id="dup")

    # When the migration runs
    migrate(AFTER)

    # Then the live row (or the oldest) keeps the request_id, the others say where they came from
    names = dict(Generation.all_objects.values_list("pk", "request_id"))
    assert names[live.pk] == "dup" and names[elsewhere.pk] == "dup"
    assert names[first_deleted.pk] == f"dup#deleted-{first_deleted.pk}"
    assert names[second_deleted.pk] == f"dup#deleted-{second_deleted.pk}"
    assert names[oldest_gone.pk] == "gone"
    assert names[newer_gone.pk] == f"gone#deleted-{newer_gone.pk}"
    assert Generation.all_objects.count() == 6  # nothing removed: costs stay counted
    with pytest.raises(IntegrityError), transaction.atomic():
        GenerationFactory(organization=organization, request_id="gone")

    # And it reverses to the partial constraint
    migrate(BEFORE)
    GenerationFactory(organization=organization, request_id="gone")
    assert Generation.all_objects.filter(request_id="gone").count() == 2
