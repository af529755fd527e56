"""The archive's foreign keys (batch, organization) lose their database constraint and their
single-column index: each cost every archived row an FK check or an index entry, and no query
reads them (issue 12, retention speed; the reasons are beside the fields). Reversible."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0013_provider_call_recorded_by_key_not_editable"),
        ("tenancy", "0003_row_level_security"),
    ]

    operations = [
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
