"""The archive's two keys (to its batch, to its organization) become one, (organization_id,
batch_id) to the batch's (organization_id, id): one check per archived row at commit instead of
two, and a row can no longer be archived in another organization's batch.

Measured inserting 10,000 archive rows in one transaction, commit included (the archive's
columns and indexes, scratch tables on the CI server while a 10M build ran): 68 µs a row with
the two keys, 51 µs with the one, 37 µs with none.

Not atomic, step by step, each its own short transaction, so a big archive is never read under
a lock that stops the service:

1. the batch's unique (organization, id): its index built ``CONCURRENTLY``, then made the
   constraint (a brief lock of the batch table);
2. the new key added ``NOT VALID`` (a brief lock of both tables; rows written from then on are
   checked), then ``VALIDATE CONSTRAINT``: the archive read once, under a lock that lets
   retention's writes in;
3. only then the two old keys dropped (each a brief lock of the table it pointed at, the
   organizations' included: it waits for the transactions reading them).

A step that fails (the validation, on an archive row in another organization's batch) leaves
the steps before it done; each step skips what is already there, so the migration runs again
once the row is mended. Reverse puts the two keys back as Django adds a key (each validated under a lock that blocks
writes to the archive: a rare, deliberate step), then drops the new key and the constraint."""

import django.db.models.deletion
from django.db import migrations, models

import tenancy.foreign_keys

BATCH_TABLE = "analytics_retentionbatch"
UNIQUE = "retention_batch_organization_id"
KEY = tenancy.foreign_keys.CompositeForeignKey(
    fields=("organization", "batch"),
    to="analytics.RetentionBatch",
    to_fields=("organization", "id"),
    name="archived_record_batch_of_organization",
)


def _archive(apps):
    """The archive model as of this migration."""
    return apps.get_model("analytics", "ArchivedRecord")


def _exists(schema_editor, table: str, name: str) -> bool:
    """Whether ``table`` has the constraint ``name``: each step can be run again after one that
    failed (a non-atomic migration keeps the steps before it), for instance once the archive
    rows the validation refused are mended."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_constraint WHERE conrelid = %s::regclass AND conname = %s", [table, name]
        )
        return cursor.fetchone() is not None


def add_unique(apps, schema_editor):
    """Step 1: the batch's unique (organization, id), made from the index built concurrently just
    before (a brief lock of the batch table, no read of it)."""
    if not _exists(schema_editor, BATCH_TABLE, UNIQUE):
        schema_editor.execute(
            f"ALTER TABLE {BATCH_TABLE} ADD CONSTRAINT {UNIQUE} UNIQUE USING INDEX {UNIQUE}"
        )


def drop_unique(apps, schema_editor):
    """Reverse of step 1: the constraint and its index."""
    schema_editor.execute(f"ALTER TABLE {BATCH_TABLE} DROP CONSTRAINT IF EXISTS {UNIQUE}")  # and its index


def add_key_not_valid(apps, schema_editor):
    """Step 2a: the composite key, ``NOT VALID``: rows written from now on are checked, the
    existing ones are not read yet (a brief lock of both tables)."""
    if not _exists(schema_editor, _archive(apps)._meta.db_table, KEY.name):
        schema_editor.execute(KEY.create_sql(_archive(apps), schema_editor, not_valid=True))


def validate_key(apps, schema_editor):
    """Step 2b: the existing archive rows checked, under a lock that lets writes in. A row in
    another organization's batch fails it; the migration runs again once the row is mended."""
    schema_editor.execute(KEY.validate_sql(_archive(apps), schema_editor))


def drop_key(apps, schema_editor):
    """Reverse of step 2: the composite key."""
    schema_editor.execute(KEY.remove_sql(_archive(apps), schema_editor))


class Migration(migrations.Migration):
    atomic = False  # CONCURRENTLY, and a short transaction per step

    dependencies = [
        ("analytics", "0022_restrict_deletes_at_database"),
        ("tenancy", "0003_row_level_security"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddConstraint(
                    model_name="retentionbatch",
                    constraint=models.UniqueConstraint(fields=("organization", "id"), name=UNIQUE),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {UNIQUE} ON {BATCH_TABLE} "
                    "(organization_id, id)",
                    reverse_sql=f"DROP INDEX CONCURRENTLY IF EXISTS {UNIQUE}",
                ),
                # Reverse: dropping the constraint drops its index; the step before finds none.
                migrations.RunPython(add_unique, drop_unique),
            ],
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddConstraint(model_name="archivedrecord", constraint=KEY)],
            database_operations=[
                migrations.RunPython(add_key_not_valid, drop_key),
                migrations.RunPython(validate_key, migrations.RunPython.noop),
            ],
        ),
        migrations.AlterField(
            model_name="archivedrecord",
            name="batch",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="records",
                to="analytics.retentionbatch",
            ),
        ),
        migrations.AlterField(
            model_name="archivedrecord",
            name="organization",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="tenancy.organization",
            ),
        ),
    ]
