"""The batch table's single-column ``organization_id`` index is dropped: since 0023 the unique
(organization, id) and the (organization, newest_at DESC) index both lead with the column, so
they serve the organization's look-ups and its key's checks, and the third index only cost every
batch row (one per organization per retention batch) one more entry to write.

Only the index goes; the key to the organization stays as it is. ``AlterField`` would have
dropped the key and added it back, reading the whole table under a lock of the organizations.
The index is dropped ``CONCURRENTLY`` (so the migration is not atomic) and reverse builds it
the same way, under the name Django gave it."""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "analytics_retentionbatch_organization_id_17e4b892"


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("analytics", "0023_archive_key_to_batch_of_organization"),
        ("tenancy", "0003_row_level_security"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="retentionbatch",
                    name="organization",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="tenancy.organization",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    sql=f'DROP INDEX CONCURRENTLY IF EXISTS "{INDEX}"',
                    reverse_sql=(
                        f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{INDEX}" '
                        'ON "analytics_retentionbatch" ("organization_id")'
                    ),
                ),
            ],
        ),
    ]
