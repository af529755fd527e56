"""Lists served in their cursor order: ``runs/`` and ``cache/`` page newest first by
``(created_at, id)`` under the tenant, so their indexes carry ``id`` too (the page is the index's
first rows, no sort of the tenant's rows), and ``runs/?user_ref=`` has its own (a rare user's
runs without reading every run of the tenant); ``cache/stats/`` counts live and expired entries from
``(organization, expires_at)`` alone."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("generations", "0012_cache_stats_append_only"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="generationrun",
            index=models.Index(fields=["organization", "-created_at", "-id"], name="run_org_created_id_idx"),
        ),
        migrations.RemoveIndex(model_name="generationrun", name="run_org_created_idx"),
        migrations.AddIndex(
            model_name="generationrun",
            index=models.Index(
                condition=models.Q(user_ref__isnull=False),
                fields=["organization", "user_ref", "-created_at", "-id"],
                name="run_org_user_created_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="cacheentry",
            index=models.Index(
                fields=["organization", "-created_at", "-id"], name="cache_entry_org_created_id_idx"
            ),
        ),
        migrations.RemoveIndex(model_name="cacheentry", name="cache_entry_org_created_idx"),
        migrations.AddIndex(
            model_name="cacheentry",
            index=models.Index(fields=["organization", "expires_at"], name="cache_entry_org_expires_idx"),
        ),
    ]
