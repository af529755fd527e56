"""Full-text search of generation content: a GIN index on ``to_tsvector('english', content)``.

Why an expression index and not a stored generated ``SearchVector`` column, at ten million rows:

- the query speed is the same for the searches we run: a GIN index of tsvectors answers plain
  word queries (``&``, ``|``, ``!``) without rechecking rows, so the vector is not recomputed
  per match; only phrase queries recheck, and only the candidate rows;
- a stored column doubles the content on disk (heap and TOAST, read by every list and report
  scan), and adding it rewrites the whole table under an exclusive lock; this index is built
  ``CONCURRENTLY``, with ingestion running;
- the ingest COPY writer (``generations.services._copy_into_table``) copies every concrete
  column, which a generated column would break.
The cost: a query must repeat the indexed expression exactly, so ``GenerationQuerySet.search``
(``generations.models.content_matches``) is the only way the code searches content.

Row-level security (``tenancy.rls``) lets the planner use a condition as an index condition only
if its function is ``LEAKPROOF`` (otherwise it must run after the tenant policy, row by row), and
PostgreSQL ships ``to_tsvector(regconfig, text)`` and ``ts_match_vq`` (the ``tsvector @@
tsquery`` operator) without the mark: the app role would read every row of the organization and
compute its vector. Neither reveals a row through an error (``ts_match_vq`` returns a boolean;
``to_tsvector`` only fails on a vector over 1 MB, beyond what the 1 MiB content cap yields), so
both are marked LEAKPROOF here. That needs a superuser; a migration run by a mere owner skips it with a warning (search
then works, scanning the organization's rows: ask a superuser to run the statement).
"""

import logging

import django.contrib.postgres.indexes
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations

import generations.models

logger = logging.getLogger(__name__)
# The indexed expression's function and the match operator's.
FUNCTIONS = ("pg_catalog.to_tsvector(regconfig, text)", "pg_catalog.ts_match_vq(tsvector, tsquery)")


def _mark_match_function(schema_editor, mark: str) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if not cursor.fetchone()[0]:
            logger.warning(
                "Not a superuser: run `ALTER FUNCTION … %s` on %s as one, or content search under "
                "row-level security cannot use generation_content_search_idx.",
                mark,
                " and ".join(FUNCTIONS),
            )
            return
        for function in FUNCTIONS:
            cursor.execute(f"ALTER FUNCTION {function} {mark}")


def mark_leakproof(apps, schema_editor):
    _mark_match_function(schema_editor, "LEAKPROOF")


def unmark_leakproof(apps, schema_editor):
    _mark_match_function(schema_editor, "NOT LEAKPROOF")


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("generations", "0008_generation_recorded_by_key"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="generation",
            index=django.contrib.postgres.indexes.GinIndex(
                generations.models.ContentSearchVector(),
                name="generation_content_search_idx",
            ),
        ),
        migrations.RunPython(mark_leakproof, unmark_leakproof, elidable=False),
    ]
