"""The daily and hourly rollups become append-only delta tables (``analytics.rollups``): no
unique group, no per-row CHECK of the measures (an edit's delta row is negative), no index on the
organization FK alone (the planner preferred it to the group index and filtered the days); an
index leading with (organization, day) serves every report and fold. Existing rows are already
one per group: nothing to move. Reverse folds every table back to one row per group first.
"""

import django.db.models.deletion
from django.db import migrations, models

TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "total_tokens")
COMMON = (
    "requests",
    "successes",
    "failures",
    *TOKENS,
    "cost_usd",
    "unpriced_requests",
    "no_usage_requests",
    "latency_ms_sum",
    "latency_count",
)


def _fold_all(table, keys, sums, maxes, stamps):
    """SQL that folds every row of ``table`` into one per group (what the unique key needs back)."""
    key_list = ", ".join(keys)
    aggregates = ", ".join([f"sum({n})" for n in sums] + [f"max({n})" for n in (*maxes, *stamps)])
    columns = ", ".join((*keys, *sums, *maxes, *stamps))
    # Only groups with more than one row: the others keep their rows (and ids) as they are.
    return (
        f"WITH d AS (DELETE FROM {table} WHERE ({key_list}) IN "  # noqa: S608 - constant names
        f"(SELECT {key_list} FROM {table} GROUP BY {key_list} HAVING count(*) > 1) RETURNING *) "
        f"INSERT INTO {table} ({columns}) SELECT {key_list}, {aggregates} FROM d GROUP BY {key_list}"
    )


FOLD_BACK = ";\n".join(
    [
        _fold_all(
            "analytics_generationdailyrollup",
            ("organization_id", "day", "provider_name", "model_name", "content_type", "user_ref"),
            (*COMMON, "partials", "cancelled", "cache_hits", "retries", "retried_requests"),
            ("latency_ms_max",),
            ("updated_at",),
        ),
        _fold_all(
            "analytics_providercalldailyrollup",
            (
                "organization_id",
                "day",
                "provider_name",
                "model_name",
                "content_type",
                "user_ref",
                "key_fingerprint",
            ),
            (
                *COMMON,
                "timeouts",
                "rate_limited",
                "server_errors",
                "auth_errors",
                "invalid_requests",
                "other_errors",
                "slow_requests",
            ),
            ("latency_ms_max",),
            ("updated_at",),
        ),
        _fold_all(
            "analytics_userhourlyrollup",
            ("organization_id", "hour", "user_ref"),
            ("requests", "rate_limited"),
            (),
            ("updated_at",),
        ),
    ]
)


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0007_provider_call_index_diet"),
        ("tenancy", "0003_row_level_security"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="generationdailyrollup",
            name="generation_rollup_unique_group",
        ),
        migrations.RemoveConstraint(
            model_name="generationdailyrollup",
            name="generation_rollup_measures_consistent",
        ),
        migrations.RemoveConstraint(
            model_name="providercalldailyrollup",
            name="provider_call_daily_rollup_unique_group",
        ),
        migrations.RemoveConstraint(
            model_name="providercalldailyrollup",
            name="provider_call_daily_rollup_measures_consistent",
        ),
        migrations.RemoveConstraint(
            model_name="userhourlyrollup",
            name="user_hourly_rollup_unique",
        ),
        migrations.AlterField(
            model_name="generationdailyrollup",
            name="organization",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="tenancy.organization",
            ),
        ),
        migrations.AlterField(
            model_name="providercalldailyrollup",
            name="organization",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="tenancy.organization",
            ),
        ),
        migrations.AlterField(
            model_name="userhourlyrollup",
            name="organization",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="tenancy.organization",
            ),
        ),
        migrations.AddIndex(
            model_name="generationdailyrollup",
            index=models.Index(
                fields=["organization", "day", "provider_name", "model_name", "content_type", "user_ref"],
                name="generation_rollup_group_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="providercalldailyrollup",
            index=models.Index(
                fields=[
                    "organization",
                    "day",
                    "provider_name",
                    "model_name",
                    "content_type",
                    "user_ref",
                    "key_fingerprint",
                ],
                name="provider_call_rollup_group_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="userhourlyrollup",
            index=models.Index(fields=["organization", "hour", "user_ref"], name="user_hourly_rollup_idx"),
        ),
        # Last: reversed, it runs first, folding to one row per group before the unique keys return.
        migrations.RunSQL(migrations.RunSQL.noop, reverse_sql=FOLD_BACK),
    ]
