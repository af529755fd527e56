"""Rollups per model: the generations' and provider calls' daily rollups without user (and
key), what every report not grouped by user or key reads. The per-user rollup kept a group per
user a day, so it barely compressed (2 generations a row in the 1M bench); these hold at most
models by content types groups a day. Filled from the per-user rollups (exact: the same figures,
summed over users); row-level security like every tenant table. Reverse drops them."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

from tenancy.rls import EnableRowLevelSecurity

COMMON = (
    "requests, successes, failures, input_tokens, output_tokens, cache_read_tokens, "
    "cache_write_tokens, total_tokens, cost_usd, unpriced_requests, no_usage_requests, "
    "latency_ms_sum, latency_count"
)
KEYS = "organization_id, day, provider_name, model_name, content_type"


def _fill(table: str, source: str, extra: str) -> str:
    sums = ", ".join(f"sum({name.strip()})" for name in f"{COMMON}, {extra}".split(","))
    return (
        f"INSERT INTO {table} ({KEYS}, {COMMON}, {extra}, latency_ms_max, updated_at) "  # noqa: S608
        f"SELECT {KEYS}, {sums}, max(latency_ms_max), max(updated_at) FROM {source} GROUP BY {KEYS}"
    )


FILL = [
    _fill(
        "analytics_generationmodeldailyrollup",
        "analytics_generationdailyrollup",
        "partials, cancelled, cache_hits, retries, retried_requests",
    ),
    _fill(
        "analytics_providercallmodeldailyrollup",
        "analytics_providercalldailyrollup",
        "timeouts, rate_limited, server_errors, auth_errors, invalid_requests, other_errors, slow_requests",
    ),
]


def _measure_fields():
    """The id and the measures both rollups share (``analytics.models.rollups``), as fresh
    field instances for each ``CreateModel`` (a field belongs to one model)."""
    return [
        (
            "id",
            models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"),
        ),
        ("requests", models.BigIntegerField(default=0)),
        ("successes", models.BigIntegerField(default=0)),
        ("failures", models.BigIntegerField(default=0)),
        ("input_tokens", models.BigIntegerField(default=0)),
        ("output_tokens", models.BigIntegerField(default=0)),
        ("cache_read_tokens", models.BigIntegerField(default=0)),
        ("cache_write_tokens", models.BigIntegerField(default=0)),
        ("total_tokens", models.BigIntegerField(default=0)),
        (
            "cost_usd",
            models.DecimalField(
                decimal_places=10, default=0, help_text="Sum over priced rows.", max_digits=20
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
        ("latency_ms_max", models.IntegerField(blank=True, null=True)),
        ("updated_at", models.DateTimeField(default=django.utils.timezone.now)),
    ]


def _key_fields():
    """The grouping columns both rollups share (after their own measures)."""
    return [
        ("day", models.DateField()),
        ("provider_name", models.CharField(blank=True, max_length=50)),
        ("model_name", models.CharField(blank=True, max_length=200)),
        ("content_type", models.CharField(blank=True, max_length=20)),
        (
            "organization",
            models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="tenancy.organization",
            ),
        ),
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0008_rollups_append_only"),
        ("tenancy", "0003_row_level_security"),
    ]

    operations = [
        migrations.CreateModel(
            name="GenerationModelDailyRollup",
            fields=[
                *_measure_fields(),
                ("partials", models.BigIntegerField(default=0)),
                ("cancelled", models.BigIntegerField(default=0)),
                ("cache_hits", models.BigIntegerField(default=0)),
                ("retries", models.BigIntegerField(default=0)),
                ("retried_requests", models.BigIntegerField(default=0)),
                *_key_fields(),
            ],
            options={
                "ordering": ["-day", "model_name"],
                "indexes": [
                    models.Index(
                        fields=["organization", "day", "provider_name", "model_name", "content_type"],
                        name="generation_model_rollup_idx",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="ProviderCallModelDailyRollup",
            fields=[
                *_measure_fields(),
                ("timeouts", models.BigIntegerField(default=0)),
                ("rate_limited", models.BigIntegerField(default=0)),
                ("server_errors", models.BigIntegerField(default=0)),
                ("auth_errors", models.BigIntegerField(default=0)),
                ("invalid_requests", models.BigIntegerField(default=0)),
                ("other_errors", models.BigIntegerField(default=0)),
                ("slow_requests", models.BigIntegerField(default=0)),
                *_key_fields(),
            ],
            options={
                "ordering": ["-day", "model_name"],
                "indexes": [
                    models.Index(
                        fields=["organization", "day", "provider_name", "model_name", "content_type"],
                        name="provider_call_model_rollup_idx",
                    )
                ],
            },
        ),
        EnableRowLevelSecurity("generationmodeldailyrollup"),
        EnableRowLevelSecurity("providercallmodeldailyrollup"),
        migrations.RunSQL(FILL, reverse_sql=migrations.RunSQL.noop),
    ]
