"""Content search keyed by organization: ``generation_tenant_search_idx`` on
``generation_search_vector(organization_id, content)`` replaces ``generation_org_search_idx``.

Why: the old index held ``ARRAY[organization_id]`` and the plain words, and GIN keeps one list of
rows per key. A word every tenant writes ("breakfast") has one list of ten million rows in table
order, so a median tenant's 1,909 rows with it lay on ~1,800 different pages of that list: its
two-word search read ~3,575 index pages (21 ms of 36 ms warm, a 58 ms p95 at ten million rows).
Keyed by organization, each tenant's rows of a word form their own short list: the same search
reads a few pages. Measured on 2 million rows, 1,000 organizations (the bench's content): a
tenant of 848 rows, 0.12 ms in the index instead of 15.4 ms (whole query 0.9 ms instead of
19 ms); a tenant of 25,000 rows, 134 ms instead of 324 ms (both plans then fetch every match).
The cost: the index is ~3× the size (182 MB instead of 59 MB at 2M: row numbers in a tenant's
list are further apart, so compress less) and takes ~40 % longer to build; the function costs
~10 % more than ``to_tsvector`` alone (58 µs instead of 53 µs a row).

The two functions (``IMMUTABLE``: the index and the query's constant folding need it):

- ``generation_search_vector(organization_id, content)``: ``to_tsvector('english', content)``
  with each lexeme as ``'<organization> <lexeme>'`` (positions kept, so phrases still match),
  plus the organization's own key ``'<organization> '``, which every row of it has (a query of
  nothing but ``-word`` then reads that tenant's list, not the whole index). A vector whose
  prefixed lexemes would pass tsvector's limits (1 MB of lexemes, 2,046 bytes a lexeme) keeps
  its plain lexemes and is marked ``'<organization>  '`` (two spaces) instead: no row is
  refused, and the query matches such a row by its plain words.
- ``generation_search_query(organization_ids, query)``: for each organization,
  ``(<query, words prefixed> & !'<org>  ') | ('<org>  ' & <query>)``, the branches OR'ed, and
  ``'<org> ' &`` before it when the query matches content without words (``-word``). The parser never puts whitespace in a lexeme, so no prefixed lexeme is a marker and no
  plain lexeme looks like a prefixed one: a row matches exactly when its content matches the
  query and it belongs to one of the organizations. An empty query (stop words only) stays empty
  (matches nothing), as before.

Content of more than ~120,000 distinct words (well under the 1 Mi-character cap) has more
lexemes than a tsvector holds, and ``to_tsvector`` of it failed: since 0009 such a generation
could not be stored (a 500). ``generation_search_plain_vector`` reads content over 64 kB in parts
and keeps the parts that fit (~1 MB of lexemes): such a row is stored and found by the words of
its first ~120,000 distinct ones; words past them are not indexed (a ``-word`` query may list it).

Row-level security: the vector's function takes the row's columns, so it must be ``LEAKPROOF``
to be an index condition (0009 and 0014 say why); it returns a vector for any text and raises
no error of its own. Marking needs a superuser; a mere owner gets a warning (search then works
without the index under the tenant wall). The query's function reads no column: it needs no mark.

``ANALYZE`` at the end: the planner estimates a search from the statistics ANALYZE gathers on an
index's expression (0014 says what it chose without them).
"""

import logging

import django.contrib.postgres.indexes
from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations

import generations.models

logger = logging.getLogger(__name__)
VECTOR_FUNCTION = "generation_search_vector(bigint, text)"

CREATE_PLAIN_VECTOR_FUNCTION = r"""
CREATE FUNCTION generation_search_plain_vector(content text) RETURNS tsvector
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $function$
-- to_tsvector('english', content) in parts of ~16,384 characters, cut at whitespace (a part with
-- none near its end is cut there), joined while they fit in a tsvector with room to spare:
-- to_tsvector of the whole fails past 1 MB of lexemes and positions (~120,000 distinct words).
-- No exception block: it would be a subtransaction per row, refused in a parallel index build.
DECLARE
    vector tsvector := ''::tsvector;
    part tsvector;
    size bigint := 0;
    part_size bigint;
    start integer := 1;
    stop integer;
BEGIN
    WHILE start <= length(content) LOOP
        stop := regexp_instr(content, '\s', start + 16384);
        IF stop = 0 OR stop > start + 16384 + 256 THEN
            stop := least(start + 16384, length(content) + 1);
        END IF;
        part := to_tsvector('english'::regconfig, substr(content, start, stop - start));
        SELECT coalesce(sum(octet_length(lexeme) + 3 + 2 * cardinality(positions)), 0)
            INTO part_size FROM unnest(part);
        EXIT WHEN size + part_size > 1000000;
        vector := vector || part;
        size := size + part_size;
        start := stop;
    END LOOP;
    RETURN vector;
END
$function$
"""

CREATE_VECTOR_FUNCTION = r"""
CREATE FUNCTION generation_search_vector(organization_id bigint, content text) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $function$
SELECT CASE
    -- Cast only a text that fits: the cast of one that does not fails.
    WHEN lexemes.fit THEN coalesce(lexemes.prefixed::tsvector, ''::tsvector)
        || array_to_tsvector(ARRAY[organization_id || ' '])
    ELSE plain.vector || array_to_tsvector(ARRAY[organization_id || ' ', organization_id || '  '])
END
FROM (
    -- Past 64 kB the whole content's vector may not fit in a tsvector (see the function).
    -- Named with its schema: an index build resolves names with pg_catalog alone.
    SELECT CASE
        WHEN octet_length(content) <= 65536 THEN to_tsvector('english'::regconfig, content)
        ELSE {schema}.generation_search_plain_vector(content)
    END
) AS plain(vector),
LATERAL (
    SELECT
        -- to_tsvector's own measure, a bound of the cast's: each lexeme (aligned to 2 bytes)
        -- with its count of positions and 2 bytes a position, at most 1 MB; the marker besides.
        coalesce(
            sum(octet_length(word.lexeme) + octet_length(organization_id::text) + 4 + 2 * cardinality(word.positions)),
            0
        ) + octet_length(organization_id::text) + 4 <= 1048575
            AND coalesce(max(octet_length(word.lexeme)), 0) + octet_length(organization_id::text) + 1 <= 2046
            AS fit,
        string_agg(
            format(
                '''%s %s'':%s',
                organization_id,
                replace(replace(word.lexeme, '\', '\\'), '''', ''''''),
                array_to_string(word.positions, ',')
            ),
            ' '
        ) AS prefixed
    FROM unnest(plain.vector) AS word
) AS lexemes
$function$
"""

CREATE_QUERY_FUNCTION = r"""
CREATE FUNCTION generation_search_query(organization_ids bigint[], query tsquery) RETURNS tsquery
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $function$
SELECT CASE
    WHEN numnode(query) = 0 THEN query
    ELSE coalesce(
        (
            SELECT string_agg(
                -- The organization's own key only for a query that content with no words at all
                -- matches ("-word", "a or -b"): any other match needs one of the organization's
                -- words already. Each key ANDed in makes the planner expect the tenant's share of
                -- rows once more (it multiplies them as if independent): with it in every query,
                -- the biggest tenant's search was expected to find 5,106 of its 2.2 million rows,
                -- and walked its newest rows in parallel (worker overshoot: 114 ms p95).
                CASE WHEN ''::tsvector @@ query THEN quote_literal(organization_id || ' ') || ' & ' ELSE '' END
                || format(
                    '((%s) & !%L | %L & (%s))',
                    regexp_replace(
                        query::text, '''((?:[^''\\]|''''|\\.)*)''', '''' || organization_id || ' \1''', 'g'
                    ),
                    organization_id || '  ',
                    organization_id || '  ',
                    query::text
                ),
                ' | '
            )::tsquery
            FROM unnest(organization_ids) AS organization_id
        ),
        ''' '''::tsquery  -- no organization: a lexeme no vector holds (and no notice)
    )
END
$function$
"""


def create_functions(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = schema_editor.quote_name(cursor.fetchone()[0])
        for statement in (CREATE_PLAIN_VECTOR_FUNCTION, CREATE_VECTOR_FUNCTION, CREATE_QUERY_FUNCTION):
            cursor.execute(statement.replace("{schema}", schema))


def drop_functions(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DROP FUNCTION generation_search_query(bigint[], tsquery)")
        cursor.execute("DROP FUNCTION generation_search_vector(bigint, text)")
        cursor.execute("DROP FUNCTION generation_search_plain_vector(text)")


def mark_leakproof(apps, schema_editor):
    # Frozen here, as 0009 and 0014 do: a migration keeps working whatever later code does.
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if not cursor.fetchone()[0]:
            logger.warning(
                "Not a superuser: run `ALTER FUNCTION %s LEAKPROOF` as one, or content search under "
                "row-level security cannot use generation_tenant_search_idx.",
                VECTOR_FUNCTION,
            )
            return
        cursor.execute(f"ALTER FUNCTION {VECTOR_FUNCTION} LEAKPROOF")


class Migration(migrations.Migration):
    # CREATE/DROP INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("generations", "0020_generation_org_kind_index"),
    ]

    operations = [
        migrations.RunPython(create_functions, drop_functions, elidable=False),
        # Reversed by dropping the function (the operation above).
        migrations.RunPython(mark_leakproof, migrations.RunPython.noop, elidable=False),
        AddIndexConcurrently(
            model_name="generation",
            index=django.contrib.postgres.indexes.GinIndex(
                generations.models.TenantSearchVector(),
                name="generation_tenant_search_idx",
            ),
        ),
        RemoveIndexConcurrently(
            model_name="generation",
            name="generation_org_search_idx",
        ),
        migrations.RunSQL(
            "ANALYZE generations_generation", reverse_sql=migrations.RunSQL.noop, elidable=False
        ),
    ]
