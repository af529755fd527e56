"""The archive's key to its batch is one database key over (organization, batch), to the
batch's (organization, id) (``analytics`` 0023, ``tenancy.foreign_keys.CompositeForeignKey``):
a row archived in another organization's batch, or in a batch or organization that does not
exist, is refused at the commit and nothing is written; ``full_clean`` says the same before the
database does; the migration reverses to the two single-column keys."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from analytics.models import ArchivedRecord, RetentionBatch
from tests.migrations_support import migrate

TABLE = ArchivedRecord._meta.db_table
ONE_KEY = {
    "archived_record_batch_of_organization": (
        "FOREIGN KEY (organization_id, batch_id) REFERENCES analytics_retentionbatch(organization_id, id) "
        "DEFERRABLE INITIALLY DEFERRED"
    )
}


def archive_keys() -> dict[str, str]:
    """The archive table's foreign keys in the database: name -> definition."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid = %s::regclass",
            [TABLE],
        )
        return dict(cursor.fetchall())


def batch_of(organization) -> RetentionBatch:
    return RetentionBatch.objects.create(
        organization=organization,
        target="generations",
        cutoff=timezone.now(),
        primary_rows=1,
        archived_rows=1,
    )


def insert_archived(organization_id: int, batch_id: int) -> None:
    """One archive row written as retention writes them (SQL), its key checked at once."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (batch_id, organization_id, model_label, object_id, data, archived_at) "
            "VALUES (%s, %s, 'generations.generation', '1', '{}', now())",
            [batch_id, organization_id],
        )
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the commit's check, inside the test's transaction


@pytest.mark.django_db
def test_the_archive_has_one_key_over_organization_and_batch():
    assert archive_keys() == ONE_KEY


@pytest.mark.django_db
def test_a_row_in_its_own_organizations_batch_is_accepted(organization):
    batch = batch_of(organization)
    with transaction.atomic():
        insert_archived(organization.pk, batch.pk)
    assert ArchivedRecord.objects.get().batch == batch


@pytest.mark.django_db
@pytest.mark.parametrize(
    "case", ["another organization's batch", "a missing batch", "a missing organization"]
)
def test_a_row_pointing_elsewhere_is_refused_and_nothing_is_written(case, organization, other_organization):
    theirs = batch_of(other_organization)
    organization_id, batch_id = {
        "another organization's batch": (organization.pk, theirs.pk),
        "a missing batch": (organization.pk, theirs.pk + 1_000),
        "a missing organization": (other_organization.pk + 1_000, theirs.pk),
    }[case]

    with pytest.raises(IntegrityError, match="archived_record_batch_of_organization"), transaction.atomic():
        insert_archived(organization_id, batch_id)

    assert not ArchivedRecord.objects.exists()


@pytest.mark.django_db
def test_full_clean_refuses_a_batch_of_another_organization(organization, other_organization):
    record = ArchivedRecord(
        batch=batch_of(other_organization),
        organization=organization,
        model_label="generations.generation",
        object_id="1",
        data={"model": "generations.generation", "pk": 1, "fields": {}},
    )
    with pytest.raises(ValidationError, match="archived_record_batch_of_organization"):
        record.full_clean()

    record.batch = batch_of(organization)
    record.full_clean()  # its own organization's batch passes


@pytest.mark.django_db(transaction=True)
def test_the_migration_reverses_to_the_two_keys(back_to_the_latest_afterwards):
    migrate([("analytics", "0022_restrict_deletes_at_database")])
    keys = archive_keys()
    assert "archived_record_batch_of_organization" not in keys
    assert sorted(definition.split(" REFERENCES ")[0] for definition in keys.values()) == [
        "FOREIGN KEY (batch_id)",
        "FOREIGN KEY (organization_id)",
    ]

    migrate([("analytics", "0023_archive_key_to_batch_of_organization")])
    assert archive_keys() == ONE_KEY
