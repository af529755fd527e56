"""Rollups per day and user: generations, and provider calls, per organization, UTC day and user
reference, every provider, model, content type (and key) together, with the summed measures of
their full rollups (no latency maximum). Reports grouped by user, alone or with the day or month,
read them: on the 10M bench's biggest tenant a year was ~595,000 rows of the generations' per-user
rollup (~896,000 of the calls') and a report by user took 0.6-1.3 s; these hold ~62,000.

Filled from the full per-user rollups (exact: the same figures summed over providers, models,
content types and keys); row-level security like every tenant table, in the form that reads the
row scope once per statement, as the other report rollups (0026). Reverse drops them.

The previous release, still serving while this runs and until the deploy ends, does not write
them: run ``manage.py rollup --from … --to …`` over the deploy's days afterwards (a rebuild from
the raw rows, which fills these from the full rollups it has just rebuilt).
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

from tenancy.rls import EnableRowLevelSecurity, ReadRowScopeOnce

GENERATION_MEASURES = (
    "requests, successes, partials, failures, cancelled, input_tokens, output_tokens, cache_read_tokens, "
    "cache_write_tokens, total_tokens, cost_usd, unpriced_requests, no_usage_requests, cache_hits, retries, "
    "retried_requests, latency_ms_sum, latency_count"
)
CALL_MEASURES = (
    "requests, successes, failures, timeouts, rate_limited, server_errors, auth_errors, invalid_requests, "
    "other_errors, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, total_tokens, cost_usd, "
    "unpriced_requests, no_usage_requests, latency_ms_sum, latency_count, slow_requests, standalone_requests, "
    "standalone_cost_usd"
)


def fill(table: str, source: str, measures: str) -> str:
    """Fill ``table`` from ``source``: one row per organization, day and user."""
    sums = ", ".join(f"sum({name.strip()})" for name in measures.split(","))
    return (
        f"INSERT INTO {table} (organization_id, day, user_ref, {measures}, updated_at) "  # noqa: S608
        f"SELECT organization_id, day, user_ref, {sums}, max(updated_at) "
        f"FROM {source} GROUP BY organization_id, day, user_ref"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0026_report_rollups_read_row_scope_once"),
        ("tenancy", "0003_row_level_security"),
    ]

    operations = [
        migrations.CreateModel(
            name="GenerationUserDailyRollup",
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
                    "user_ref",
                    models.CharField(blank=True, help_text="Empty: no user (or purged).", max_length=200),
                ),
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
                "ordering": ["-day", "user_ref"],
                "indexes": [
                    models.Index(
                        fields=["organization", "day", "user_ref"], name="generation_user_rollup_idx"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="ProviderCallUserDailyRollup",
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
                ("slow_requests", models.BigIntegerField(default=0)),
                (
                    "standalone_requests",
                    models.BigIntegerField(
                        db_default=0, default=0, help_text="Calls recorded without a generation."
                    ),
                ),
                (
                    "standalone_cost_usd",
                    models.DecimalField(
                        db_default=0,
                        decimal_places=10,
                        default=0,
                        help_text="What the calls recorded without a generation cost.",
                        max_digits=30,
                    ),
                ),
                ("timeouts", models.BigIntegerField(default=0)),
                ("rate_limited", models.BigIntegerField(default=0)),
                ("server_errors", models.BigIntegerField(default=0)),
                ("auth_errors", models.BigIntegerField(default=0)),
                ("invalid_requests", models.BigIntegerField(default=0)),
                ("other_errors", models.BigIntegerField(default=0)),
                ("day", models.DateField()),
                (
                    "user_ref",
                    models.CharField(blank=True, help_text="Empty: no user (or purged).", max_length=200),
                ),
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
                "ordering": ["-day", "user_ref"],
                "indexes": [
                    models.Index(
                        fields=["organization", "day", "user_ref"], name="provider_call_user_rollup_idx"
                    )
                ],
            },
        ),
        EnableRowLevelSecurity("generationuserdailyrollup"),
        ReadRowScopeOnce("generationuserdailyrollup"),
        EnableRowLevelSecurity("providercalluserdailyrollup"),
        ReadRowScopeOnce("providercalluserdailyrollup"),
        migrations.RunSQL(
            fill(
                "analytics_generationuserdailyrollup", "analytics_generationdailyrollup", GENERATION_MEASURES
            ),
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.RunSQL(
            fill("analytics_providercalluserdailyrollup", "analytics_providercalldailyrollup", CALL_MEASURES),
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
