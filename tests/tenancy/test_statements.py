"""Statements chained into one (``tenancy.statements``): each runs, in order, in one snapshot;
a reader gets exactly the rows its statement returned; the text depends only on the texts."""

from __future__ import annotations

import pytest
from django.db import connection

from tenancy.statements import Statement, chained

pytestmark = pytest.mark.django_db


@pytest.fixture
def tables():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE chained_fine (k text, v integer)")
        cursor.execute("CREATE TEMPORARY TABLE chained_coarse (k text, total integer, rows integer)")
        yield cursor


def _fine(values: list[tuple[str, int]]) -> Statement:
    return Statement(
        "INSERT INTO chained_fine SELECT k, v FROM unnest(%s::text[], %s::integer[]) AS r(k, v) "
        "RETURNING k, v",
        [[k for k, _ in values], [v for _, v in values]],
        readers=("INSERT INTO chained_coarse SELECT k, sum(v), count(*) FROM {rows} GROUP BY k",),
    )


def test_readers_get_exactly_the_rows_their_statement_returned(tables):
    # Two statements with readers: each reader sums its own statement's rows, not the other's.
    first, second = _fine([("a", 1), ("a", 2), ("b", 5)]), _fine([("a", 10)])
    tables.execute(*chained([first, second, Statement("SELECT count(*) FROM chained_fine")]))
    # The last statement's snapshot is the chain's: the CTEs' rows are not visible to it yet.
    assert tables.fetchone() == (0,)
    tables.execute("SELECT k, total, rows FROM chained_coarse ORDER BY k, total")
    assert tables.fetchall() == [("a", 3, 2), ("a", 10, 1), ("b", 5, 1)]
    tables.execute("SELECT count(*) FROM chained_fine")
    assert tables.fetchone() == (4,)


def test_a_named_statement_conditions_later_ones(tables):
    written = Statement("INSERT INTO chained_fine VALUES ('x', 1) RETURNING k", name="written")
    nothing = Statement("INSERT INTO chained_fine SELECT 'y', 1 WHERE false RETURNING k", name="written")
    follow = Statement(
        "INSERT INTO chained_coarse SELECT 'after', %s, 1 WHERE EXISTS (SELECT FROM written)", [7]
    )
    tables.execute(*chained([written, follow]))
    tables.execute(*chained([nothing, follow]))
    tables.execute("SELECT k, total FROM chained_coarse")
    assert tables.fetchall() == [("after", 7)]


def test_a_single_statement_is_sent_as_it_is():
    assert chained([Statement("SELECT %s", [1])]) == ("SELECT %s", [1])


def test_the_text_depends_only_on_the_texts():
    # psycopg caches its parsing of a text: a second request of the same shape must send the
    # same text, whatever its values.
    one = chained([_fine([("a", 1)]), Statement("SELECT 1")])
    other = chained([_fine([("b", 2), ("c", 3)]), Statement("SELECT 1")])
    assert one[0] == other[0]
    assert one[1] != other[1]
