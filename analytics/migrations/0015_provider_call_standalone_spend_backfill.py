"""Fills what ``0014`` added, without holding a lock on a whole table: the provider calls in
ranges of ``BATCH`` ids, each range in a transaction of its own that commits before the next
(a non-atomic migration), so ingestion never waits for more than one range's row locks and a
10M-row table is not one transaction of minutes.

Per range: the flag is set from the link (calls already unlinked cannot be told apart any
more), then the rollups get the range's calls recorded without a generation, as one delta row
per group and table with the other measures zero (the rollups are append-only sums, so the
groups' other figures do not move; a later ``fold_rollups`` compacts them; calls retention
already archived stay uncounted, as they were). The last id is read again after every range,
so calls the previous release writes meanwhile are covered too; run it before the new code
serves (the usual ``migrate``, then deploy), as the new code counts its own calls at ingest.
Calls the previous release writes after the last range, until the deploy ends, keep false and
add no standalone spend; after a long deploy, set the flag of those with a generation and run
``manage.py rollup --from … --to …`` over the deploy's days (a rebuild from the raw calls).

Each range also moves a marker (a table of this migration's own, dropped at the end) in the
same transaction, so an interrupted run resumes at the first range not committed instead of
counting committed ranges twice. Reverse is the same walk with the deltas negated (before the
flags go back to false), leaving the rollups' sums as ``0014`` left them."""

from django.db import migrations, transaction

# Ids per transaction: a range's UPDATE and its two GROUP BY inserts take well under a second.
BATCH = 50_000
CALLS = "analytics_providercall"
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
TABLES = (
    ("analytics_providercalldailyrollup", PER_USER),
    ("analytics_providercallmodeldailyrollup", PER_MODEL),
)


def fill(table: str, keys: str, sign: int) -> str:
    """One delta row per group of ``table`` with the standalone calls' count and cost (negated
    when ``sign`` is -1) among the calls whose id is in [%s, %s)."""
    positions = ", ".join(str(n + 1) for n in range(len(keys.split(","))))
    return (
        f"INSERT INTO {table} ({keys}, {MEASURES}, standalone_requests, standalone_cost_usd, updated_at) "  # noqa: S608
        f"SELECT {GROUP[keys]}, {ZEROS}, {sign} * count(*), {sign} * COALESCE(sum(c.cost_usd), 0), now() "
        f"FROM {CALLS} c "
        "LEFT JOIN providers_aimodel m ON m.id = c.model_id "
        "LEFT JOIN providers_provider p ON p.id = c.provider_id "
        f"WHERE c.id >= %s AND c.id < %s AND NOT c.recorded_with_generation GROUP BY {positions}"
    )


def walk(schema_editor, marker: str, statements: list[str]) -> None:
    """Run ``statements`` (each taking a range's first id and the id after its last) over every
    range of calls, one committed transaction per range, resuming after the last range
    ``marker`` recorded."""
    alias = schema_editor.connection.alias
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {marker} (next_id bigint NOT NULL)")
        cursor.execute(f"SELECT next_id FROM {marker}")  # noqa: S608
        row = cursor.fetchone()
        if row is None:
            cursor.execute(f"SELECT COALESCE(min(id), 0) FROM {CALLS}")  # noqa: S608
            start = cursor.fetchone()[0]
            cursor.execute(f"INSERT INTO {marker} (next_id) VALUES (%s)", [start])  # noqa: S608
        else:
            start = row[0]
        while True:
            cursor.execute(f"SELECT max(id) FROM {CALLS}")  # noqa: S608
            last = cursor.fetchone()[0]
            if last is None or start > last:
                break
            end = start + BATCH
            with transaction.atomic(using=alias):
                for statement in statements:
                    cursor.execute(statement, [start, end])
                cursor.execute(f"UPDATE {marker} SET next_id = %s", [end])  # noqa: S608
            start = end
        cursor.execute(f"DROP TABLE {marker}")


def backfill(apps, schema_editor):
    """The flags from the links, then the standalone calls into the rollups, range by range."""
    flag = (
        f"UPDATE {CALLS} SET recorded_with_generation = true "  # noqa: S608
        "WHERE id >= %s AND id < %s AND generation_id IS NOT NULL AND NOT recorded_with_generation"
    )
    walk(schema_editor, "analytics_0015_backfill", [flag, *(fill(table, keys, 1) for table, keys in TABLES)])


def unfill(apps, schema_editor):
    """What :func:`backfill` added to the rollups taken away, then the flags back to false."""
    flag = f"UPDATE {CALLS} SET recorded_with_generation = false WHERE id >= %s AND id < %s AND recorded_with_generation"  # noqa: S608
    walk(schema_editor, "analytics_0015_unfill", [*(fill(table, keys, -1) for table, keys in TABLES), flag])


class Migration(migrations.Migration):
    atomic = False  # one transaction per range (see the module docstring)

    dependencies = [
        ("analytics", "0014_provider_call_rollups_standalone_spend"),
    ]

    operations = [
        migrations.RunPython(backfill, unfill),
    ]
