"""The archive's foreign keys (batch, organization) lose their single-column index: each cost
every archived row an index entry, and no query reads by them (the unique constraint and the
organization's archive index lead with the organization). The database constraints stay.

Not as the ``AlterField(db_index=False)`` Django would run: for a foreign key that drops the
constraint and adds it back, validating the whole archive under an ACCESS EXCLUSIVE lock. The
state takes the ``AlterField``s (so ``makemigrations`` stays clean); the database only drops
the two indexes, ``CONCURRENTLY`` (a non-atomic migration: no lock that blocks writers, nothing
revalidated). Their names are read from the catalog (whatever created them). Reverse creates
them again ``CONCURRENTLY``, named as Django names a foreign key's index."""

import django.db.models.deletion
from django.db import migrations, models

TABLE = "analytics_archivedrecord"
FIELDS = ("batch", "organization")
# The table's plain (non-unique, non-partial, no expression) indexes on exactly one column.
SINGLE_COLUMN_INDEXES = """
SELECT i.relname
  FROM pg_index x
  JOIN pg_class i ON i.oid = x.indexrelid
  JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]
 WHERE x.indrelid = %s::regclass AND x.indnatts = 1 AND NOT x.indisunique
   AND x.indpred IS NULL AND x.indexprs IS NULL AND a.attname = %s
"""


def _indexes(schema_editor, column: str) -> list[str]:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(SINGLE_COLUMN_INDEXES, [TABLE, column])
        return [name for (name,) in cursor.fetchall()]


def drop_indexes(apps, schema_editor):
    """``DROP INDEX CONCURRENTLY`` of each key's single-column index."""
    model = apps.get_model("analytics", "ArchivedRecord")
    for name in FIELDS:
        for index in _indexes(schema_editor, model._meta.get_field(name).column):
            schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {schema_editor.quote_name(index)}")


def create_indexes(apps, schema_editor):
    """``CREATE INDEX CONCURRENTLY`` of each key's index, unless one is there."""
    model = apps.get_model("analytics", "ArchivedRecord")
    for name in FIELDS:
        field = model._meta.get_field(name)
        if not _indexes(schema_editor, field.column):
            schema_editor.execute(schema_editor._create_index_sql(model, fields=[field], concurrently=True))


class Migration(migrations.Migration):
    atomic = False  # CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("analytics", "0015_provider_call_standalone_spend_backfill"),
        ("tenancy", "0003_row_level_security"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="archivedrecord",
                    name="batch",
                    field=models.ForeignKey(
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
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="tenancy.organization",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
        ),
    ]
