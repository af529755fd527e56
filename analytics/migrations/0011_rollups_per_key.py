"""Rollup per key: provider calls per organization, UTC day and key fingerprint, with the keys
report's measures only. The keys report read the per-user provider-call rollup (a row per day,
model, content type, user and key: 895,530 rows a year, 2.4 calls a row, for the biggest tenant
of the 10M bench); this holds a row per day and key. Filled from the per-user rollup (exact: the
same figures summed over the other keys); row-level security like every tenant table. Reverse
drops it."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

from tenancy.rls import EnableRowLevelSecurity

MEASURES = (
    "requests, successes, failures, rate_limited, total_tokens, cost_usd, unpriced_requests, "
    "no_usage_requests"
)
SUMS = ", ".join(f"sum({name.strip()})" for name in MEASURES.split(","))
FILL = (
    "INSERT INTO analytics_providercallkeydailyrollup "  # noqa: S608
    f"(organization_id, day, key_fingerprint, {MEASURES}, updated_at) "
    f"SELECT organization_id, day, key_fingerprint, {SUMS}, max(updated_at) "
    "FROM analytics_providercalldailyrollup GROUP BY organization_id, day, key_fingerprint"
)


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0010_performance_metric_recorded_by_key"),
        ("tenancy", "0003_row_level_security"),
    ]

    operations = [
        migrations.CreateModel(
            name="ProviderCallKeyDailyRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                (
                    "key_fingerprint",
                    models.CharField(blank=True, help_text="Empty: no key reported.", max_length=64),
                ),
                ("requests", models.BigIntegerField(default=0)),
                ("successes", models.BigIntegerField(default=0)),
                ("failures", models.BigIntegerField(default=0)),
                ("rate_limited", models.BigIntegerField(default=0)),
                ("total_tokens", models.BigIntegerField(default=0)),
                (
                    "cost_usd",
                    models.DecimalField(
                        decimal_places=10, default=0, help_text="Sum over priced rows.", max_digits=20
                    ),
                ),
                ("unpriced_requests", models.BigIntegerField(default=0)),
                ("no_usage_requests", models.BigIntegerField(default=0)),
                ("updated_at", models.DateTimeField(default=django.utils.timezone.now)),
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
                "ordering": ["-day", "key_fingerprint"],
                "indexes": [
                    models.Index(
                        fields=["organization", "day", "key_fingerprint"], name="provider_call_key_rollup_idx"
                    )
                ],
            },
        ),
        EnableRowLevelSecurity("providercallkeydailyrollup"),
        migrations.RunSQL(FILL, reverse_sql=migrations.RunSQL.noop),
    ]
