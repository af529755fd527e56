"""The archive's foreign keys (batch, organization) lose their single-column index: each cost
every archived row an index entry, and no query reads by them (the unique constraint and the
organization's archive index lead with the organization). The database constraints stay.
Reversible."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0014_provider_call_rollups_standalone_spend"),
        ("tenancy", "0003_row_level_security"),
    ]

    operations = [
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
    ]
