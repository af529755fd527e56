"""``model-performance/`` pages newest first by ``(created_at, id)`` under the tenant: an index in
that order serves the page from its first rows instead of sorting every row of the tenant."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0011_rollups_per_key"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="modelperformance",
            index=models.Index(
                fields=["organization", "-created_at", "-id"], name="model_perf_org_created_idx"
            ),
        ),
    ]
