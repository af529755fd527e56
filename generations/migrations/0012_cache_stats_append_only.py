"""Cache daily stats become append-only delta rows (one INSERT per cache GET, no hot row per
organization and day); reverse folds them back to one row per day before the unique key returns."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("generations", "0011_index_diet"),
        ("tenancy", "0003_row_level_security"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="cachedailystats",
            name="cache_stats_unique_day_per_org",
        ),
        migrations.AlterField(
            model_name="cachedailystats",
            name="organization",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="tenancy.organization",
            ),
        ),
        migrations.AddIndex(
            model_name="cachedailystats",
            index=models.Index(fields=["organization", "day"], name="cache_stats_org_day_idx"),
        ),
        migrations.RunSQL(
            migrations.RunSQL.noop,
            reverse_sql=(
                "WITH d AS (DELETE FROM generations_cachedailystats WHERE (organization_id, day) IN "
                "(SELECT organization_id, day FROM generations_cachedailystats GROUP BY 1, 2 "
                "HAVING count(*) > 1) RETURNING *) "
                "INSERT INTO generations_cachedailystats (organization_id, day, hits, misses, cost_saved_usd) "
                "SELECT organization_id, day, sum(hits), sum(misses), sum(cost_saved_usd) FROM d "
                "GROUP BY organization_id, day"
            ),
        ),
    ]
