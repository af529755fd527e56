"""Rollup per day: generations per organization and UTC day only, every provider, model,
content type and user together, with the generations' rollups' summed measures (no latency
maximum). Reports grouped by day or month alone read it: the failures report's default, a year
per day, read ~45 per-model rows a day (16,436 a year for the biggest tenant of the 1M bench);
this holds one a day once folded. Filled from the per-model rollup (exact: the same figures,
summed over providers, models and content types); row-level security like every tenant table.
Reverse drops it.

The previous release, still serving while this runs and until the deploy ends, writes the
per-user and per-model rollups only: its generations are missing from this one. Run
``manage.py rollup --from … --to …`` over the deploy's days afterwards (a rebuild from the raw
rows, which fills this rollup from the per-model one it has just rebuilt).
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

from tenancy.rls import EnableRowLevelSecurity

MEASURES = (
    "requests, successes, partials, failures, cancelled, input_tokens, output_tokens, "
    "cache_read_tokens, cache_write_tokens, total_tokens, cost_usd, unpriced_requests, "
    "no_usage_requests, cache_hits, retries, retried_requests, latency_ms_sum, latency_count"
)
SUMS = ", ".join(f"sum({name.strip()})" for name in MEASURES.split(","))
FILL = (
    f"INSERT INTO analytics_generationdayrollup (organization_id, day, {MEASURES}, updated_at) "  # noqa: S608
    f"SELECT organization_id, day, {SUMS}, max(updated_at) "
    "FROM analytics_generationmodeldailyrollup GROUP BY organization_id, day"
)


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0018_rollup_cost_sums_wider"),
        ("tenancy", "0003_row_level_security"),
    ]

    operations = [
        migrations.CreateModel(
            name="GenerationDayRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("input_tokens", models.BigIntegerField(default=0)),
                ("output_tokens", models.BigIntegerField(default=0)),
                ("cache_read_tokens", models.BigIntegerField(default=0)),
                ("cache_write_tokens", models.BigIntegerField(default=0)),
                ("total_tokens", models.BigIntegerField(default=0)),
                ("updated_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("requests", models.BigIntegerField(default=0)),
                ("successes", models.BigIntegerField(default=0)),
                ("failures", models.BigIntegerField(default=0)),
                (
                    "cost_usd",
                    models.DecimalField(
                        decimal_places=10, default=0, help_text="Sum over priced rows.", max_digits=30
                    ),
                ),
                (
                    "unpriced_requests",
                    models.BigIntegerField(
                        default=0, help_text="Rows whose model or price is unknown (cost_status unpriced)."
                    ),
                ),
                (
                    "no_usage_requests",
                    models.BigIntegerField(
                        default=0, help_text="Rows that reported no usage (cost_status no_usage)."
                    ),
                ),
                ("latency_ms_sum", models.BigIntegerField(default=0)),
                ("latency_count", models.BigIntegerField(default=0, help_text="Rows with a latency.")),
                ("partials", models.BigIntegerField(default=0)),
                ("cancelled", models.BigIntegerField(default=0)),
                ("cache_hits", models.BigIntegerField(default=0)),
                ("retries", models.BigIntegerField(default=0)),
                ("retried_requests", models.BigIntegerField(default=0)),
                ("day", models.DateField()),
                (
                    "organization",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="tenancy.organization",
                    ),
                ),
            ],
            options={
                "ordering": ["-day"],
                "indexes": [models.Index(fields=["organization", "day"], name="generation_day_rollup_idx")],
            },
        ),
        EnableRowLevelSecurity("generationdayrollup"),
        migrations.RunSQL(FILL, reverse_sql=migrations.RunSQL.noop),
    ]
