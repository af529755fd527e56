"""Budgets count a provider call's own cost only when it was recorded without a generation; that
fact is now kept (``ProviderCall.recorded_with_generation``) instead of read from the link, which
retention and purges null when they delete the generation (the call was then counted twice). And
the provider-call rollups count the calls recorded without a generation (``standalone_requests``,
``standalone_cost_usd``): whole days of an organization's or a user's budget come from the
rollups, as the generations' do, and stay counted after retention archives the raw calls (spent
stays spent).

The flag is filled from the link (calls already unlinked cannot be told apart any more); the
rollups from the raw calls still on record, as one delta row per group and table with the other
measures zero (the rollups are append-only sums, so the groups' other figures do not move; calls
retention already archived stay uncounted, as they were). Reverse drops the columns (the delta
rows left add nothing)."""

from django.db import migrations, models

MEASURES = (
    "requests, successes, failures, timeouts, rate_limited, server_errors, auth_errors, "
    "invalid_requests, other_errors, input_tokens, output_tokens, cache_read_tokens, "
    "cache_write_tokens, total_tokens, cost_usd, unpriced_requests, no_usage_requests, "
    "latency_ms_sum, latency_count, slow_requests"
)
ZEROS = ", ".join("0" for _ in MEASURES.split(","))
PER_USER = "organization_id, day, provider_name, model_name, content_type, user_ref, key_fingerprint"
PER_MODEL = "organization_id, day, provider_name, model_name, content_type"
# The rollups' group of a call, as analytics.rollups groups it (its UTC day, the canonical
# provider and model names when resolved, no user as '').
GROUP = {
    PER_USER: "c.organization_id, (c.occurred_at AT TIME ZONE 'UTC')::date, COALESCE(p.slug, c.provider_name), "
    "COALESCE(m.name, c.model_name), c.content_type, COALESCE(c.user_ref, ''), c.key_fingerprint",
    PER_MODEL: "c.organization_id, (c.occurred_at AT TIME ZONE 'UTC')::date, COALESCE(p.slug, c.provider_name), "
    "COALESCE(m.name, c.model_name), c.content_type",
}


def fill(table: str, keys: str) -> str:
    """One delta row per group of ``table`` with the standalone calls' count and cost."""
    positions = ", ".join(str(n + 1) for n in range(len(keys.split(","))))
    return (
        f"INSERT INTO {table} ({keys}, {MEASURES}, standalone_requests, standalone_cost_usd, updated_at) "  # noqa: S608
        f"SELECT {GROUP[keys]}, {ZEROS}, count(*), COALESCE(sum(c.cost_usd), 0), now() "
        "FROM analytics_providercall c "
        "LEFT JOIN providers_aimodel m ON m.id = c.model_id "
        "LEFT JOIN providers_provider p ON p.id = c.provider_id "
        f"WHERE NOT c.recorded_with_generation GROUP BY {positions}"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0013_provider_call_recorded_by_key_not_editable"),
    ]

    operations = [
        migrations.AddField(
            model_name="providercall",
            name="recorded_with_generation",
            field=models.BooleanField(
                default=False,
                editable=False,
                help_text="Recorded with a generation: its cost is counted there.",
            ),
        ),
        migrations.RunSQL(
            "UPDATE analytics_providercall SET recorded_with_generation = true WHERE generation_id IS NOT NULL",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.AddField(
            model_name="providercalldailyrollup",
            name="standalone_cost_usd",
            field=models.DecimalField(
                decimal_places=10,
                default=0,
                help_text="What the calls recorded without a generation cost.",
                max_digits=20,
            ),
        ),
        migrations.AddField(
            model_name="providercalldailyrollup",
            name="standalone_requests",
            field=models.BigIntegerField(default=0, help_text="Calls recorded without a generation."),
        ),
        migrations.AddField(
            model_name="providercallmodeldailyrollup",
            name="standalone_cost_usd",
            field=models.DecimalField(
                decimal_places=10,
                default=0,
                help_text="What the calls recorded without a generation cost.",
                max_digits=20,
            ),
        ),
        migrations.AddField(
            model_name="providercallmodeldailyrollup",
            name="standalone_requests",
            field=models.BigIntegerField(default=0, help_text="Calls recorded without a generation."),
        ),
        migrations.RunSQL(
            [
                fill("analytics_providercalldailyrollup", PER_USER),
                fill("analytics_providercallmodeldailyrollup", PER_MODEL),
            ],
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
