"""The archive's key to its batch is one database key over (organization, batch), to the
batch's (organization, id) (``analytics`` 0023, ``tenancy.foreign_keys.CompositeForeignKey``):
a row archived in another organization's batch, or in a batch or organization that does not
exist, is refused at the commit and nothing is written; a batch with archived rows cannot be
deleted; ``full_clean`` and the system checks say what the database would; the migration
reverses to the two single-column keys."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from analytics.models import ArchivedRecord, RetentionBatch
from tenancy import rls
from tenancy.foreign_keys import CompositeForeignKey
from tests.migrations_support import migrate

TABLE = ArchivedRecord._meta.db_table
ONE_KEY = {
    "archived_record_batch_of_organization": (
        "FOREIGN KEY (organization_id, batch_id) REFERENCES analytics_retentionbatch(organization_id, id) "
        "DEFERRABLE INITIALLY DEFERRED"
    )
}


TWO_KEYS = {
    "FOREIGN KEY (batch_id) REFERENCES analytics_retentionbatch(id) DEFERRABLE INITIALLY DEFERRED",
    "FOREIGN KEY (organization_id) REFERENCES tenancy_organization(id) DEFERRABLE INITIALLY DEFERRED",
}


def batch_unique_constraints() -> set[str]:
    """The batch table's unique constraints' definitions (its primary key aside)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'u' AND conrelid = 'analytics_retentionbatch'::regclass"
        )
        return {f"{name}: {definition}" for name, definition in cursor.fetchall()}


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
    """A committed-looking batch of ``organization`` to archive rows in."""
    return RetentionBatch.objects.create(
        organization=organization,
        target="generations",
        cutoff=timezone.now(),
        primary_rows=1,
        archived_rows=1,
    )


def insert_archived(organization_id: int, batch_id: int, *, check_now: bool = True) -> None:
    """One archive row written as retention writes them (SQL); ``check_now``: its key checked at
    once, as the commit would (inside a test's transaction, which never commits)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (batch_id, organization_id, model_label, object_id, data, archived_at) "
            "VALUES (%s, %s, 'generations.generation', '1', '{}', now())",
            [batch_id, organization_id],
        )
        if check_now:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


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


@pytest.mark.django_db(transaction=True)
def test_the_statement_passes_and_the_commit_refuses_another_organizations_batch(
    organization, other_organization
):
    theirs = batch_of(other_organization)
    reached_the_commit = False

    with pytest.raises(IntegrityError, match="archived_record_batch_of_organization"), transaction.atomic():
        insert_archived(organization.pk, theirs.pk, check_now=False)
        reached_the_commit = True  # the INSERT itself was accepted: the key is deferred

    assert reached_the_commit
    assert not ArchivedRecord.objects.exists()


@pytest.mark.django_db
def test_a_batch_with_archived_rows_cannot_be_deleted(organization):
    batch = batch_of(organization)
    with transaction.atomic():
        insert_archived(organization.pk, batch.pk)

    with (
        pytest.raises(IntegrityError, match="archived_record_batch_of_organization"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM analytics_retentionbatch WHERE id = %s", [batch.pk])
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    assert RetentionBatch.objects.filter(pk=batch.pk).exists()
    assert ArchivedRecord.objects.get().batch_id == batch.pk


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

    record.full_clean(exclude=["batch"])  # a field of the key excluded: not checked

    record.batch = batch_of(organization)
    record.full_clean()  # its own organization's batch passes


def test_the_system_check_asks_for_a_unique_constraint_over_the_referenced_fields():
    class ArchiveKeyProbe(models.Model):  # noqa: DJ008
        organization = models.ForeignKey(
            "tenancy.Organization", on_delete=models.CASCADE, db_constraint=False
        )
        batch = models.ForeignKey(RetentionBatch, on_delete=models.CASCADE, db_constraint=False)

        class Meta:
            app_label = "tests_conventions"
            db_table = "archive_key_probe"
            constraints = [
                CompositeForeignKey(
                    fields=["organization", "batch"],
                    to="analytics.RetentionBatch",
                    to_fields=["organization", "cutoff"],
                    name="probe_unchecked",
                ),
                CompositeForeignKey(
                    fields=["organization", "missing"],
                    to="analytics.RetentionBatch",
                    to_fields=["organization", "id"],
                    name="probe_misspelt",
                ),
            ]

    assert sorted(error.id for error in ArchiveKeyProbe.check(databases=["default"])) == [
        "tenancy.E010",
        "tenancy.E011",
    ]
    assert ArchivedRecord.check(databases=["default"]) == []


@pytest.mark.django_db(transaction=True)
def test_the_migration_reverses_to_the_two_keys(back_to_the_latest_afterwards):
    migrate([("analytics", "0022_restrict_deletes_at_database")])
    assert set(archive_keys().values()) == TWO_KEYS
    assert batch_unique_constraints() == set()

    migrate([("analytics", "0023_archive_key_to_batch_of_organization")])
    assert archive_keys() == ONE_KEY
    assert batch_unique_constraints() == {"retention_batch_organization_id: UNIQUE (organization_id, id)"}


@pytest.mark.django_db(transaction=True)
def test_the_migration_refuses_an_archive_row_in_another_organizations_batch(
    back_to_the_latest_afterwards, organization, other_organization
):
    migrate([("analytics", "0022_restrict_deletes_at_database")])
    with transaction.atomic():  # the two old keys both pass: the batch and the organization exist
        insert_archived(organization.pk, batch_of(other_organization).pk, check_now=False)

    with pytest.raises(IntegrityError, match="archived_record_batch_of_organization"):
        migrate([("analytics", "0023_archive_key_to_batch_of_organization")])

    # Stopped at the validation: the old keys are still there beside the new one, which checks
    # every row written from now on.
    assert set(archive_keys().values()) >= TWO_KEYS

    with rls.database_owner():  # the row mended (here: removed), the migration runs again
        ArchivedRecord.objects.all().delete()
    migrate([("analytics", "0023_archive_key_to_batch_of_organization")])
    assert archive_keys() == ONE_KEY


def batch_indexes() -> dict[str, str]:
    """The batch table's indexes in the database: name -> definition."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'analytics_retentionbatch'"
        )
        return dict(cursor.fetchall())


def batch_keys() -> set[str]:
    """The batch table's own foreign keys' definitions."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid = 'analytics_retentionbatch'::regclass"
        )
        return {definition for (definition,) in cursor.fetchall()}


BATCH_ORGANIZATION_KEY = {
    "FOREIGN KEY (organization_id) REFERENCES tenancy_organization(id) DEFERRABLE INITIALLY DEFERRED"
}
SINGLE_COLUMN_INDEX = "analytics_retentionbatch_organization_id_17e4b892"


@pytest.mark.django_db(transaction=True)
def test_the_batch_table_has_no_single_column_organization_index(back_to_the_latest_afterwards):
    # The unique (organization, id) and the (organization, newest_at) index lead with the column.
    assert sorted(batch_indexes()) == [
        "analytics_retentionbatch_pkey",
        "retention_batch_org_newest_idx",
        "retention_batch_organization_id",
    ]
    assert batch_keys() == BATCH_ORGANIZATION_KEY

    migrate([("analytics", "0023_archive_key_to_batch_of_organization")])
    assert batch_indexes()[SINGLE_COLUMN_INDEX] == (
        f"CREATE INDEX {SINGLE_COLUMN_INDEX} ON public.analytics_retentionbatch USING btree (organization_id)"
    )
    assert batch_keys() == BATCH_ORGANIZATION_KEY  # the key is never dropped, either way

    migrate([("analytics", "0024_retention_batch_organization_index_dropped")])
    assert SINGLE_COLUMN_INDEX not in batch_indexes()
    assert batch_keys() == BATCH_ORGANIZATION_KEY


@pytest.mark.django_db
def test_an_organization_with_batches_still_cannot_be_deleted(organization):
    batch_of(organization)
    with (
        pytest.raises(IntegrityError, match="analytics_retentionb"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("DELETE FROM tenancy_organization WHERE id = %s", [organization.pk])
    assert RetentionBatch.objects.filter(organization=organization).exists()
