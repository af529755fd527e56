"""The index diet of the scale plan (docs/scale-plan.md §6): indexes no bench request used are
gone from the two large tables, and the ones the reads need are still there."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def _indexes(table: str) -> dict[str, list[str]]:
    """Index name → its key columns (expressions as NULL-named entries are left out)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.relname, array_agg(a.attname ORDER BY k.ordinality) "
            "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ordinality) "
            "LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum "
            "WHERE x.indrelid = %s::regclass GROUP BY i.relname",
            [table],
        )
        return dict(cursor.fetchall())


@pytest.mark.parametrize(
    ("table", "dropped_columns", "dropped_names", "kept_names"),
    [
        (
            "generations_generation",
            [["organization_id"], ["style_guide_version_id"], ["template_version_id"], ["price_id"]],
            ["generation_org_model_name_idx", "generation_org_provider_idx"],
            ["generation_org_created_idx", "generation_org_model_idx", "generation_failed_idx"],
        ),
        (
            "analytics_providercall",
            [["organization_id"]],
            ["provider_call_key_idx"],
            ["provider_call_org_called_idx", "provider_call_slow_idx", "provider_call_errors_idx"],
        ),
    ],
)
def test_unused_indexes_are_dropped_and_used_ones_kept(table, dropped_columns, dropped_names, kept_names):
    indexes = _indexes(table)
    assert not [name for name, columns in indexes.items() if columns in dropped_columns]
    assert not set(dropped_names) & set(indexes)
    assert set(kept_names) <= set(indexes)
