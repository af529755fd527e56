"""``tenancy.db_backend``: the single ingest's one statement (its row's INSERT with the rollup
deltas as CTEs) is longer than psycopg's default bound for keeping its parse of a text, and the
backend raises that bound so the statement is parsed once, not on every POST."""

from __future__ import annotations

import pytest
from django.db import connection
from psycopg import _queries as psycopg_queries

from tenancy.db_backend.base import CACHED_STATEMENT_BYTES
from tests.generations.test_generations_api import URL, body

pytestmark = pytest.mark.django_db


def _ingest_statement(api_client, request_id: str) -> str:
    """The text psycopg parses for a generation POST's one statement (placeholders, no values)."""
    texts = []

    def keep(execute, sql, params, many, context):
        texts.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(keep):
        response = api_client.post(URL, body(request_id=request_id, user_ref="ana"))
    assert response.status_code == 201, response.content
    [statement] = [text for text in texts if "inserted_row" in text]
    return statement


def test_the_ingest_statement_is_parsed_once_by_psycopg(api_client):
    assert psycopg_queries.MAX_CACHED_STATEMENT_LENGTH >= CACHED_STATEMENT_BYTES
    first = _ingest_statement(api_client, "req-a")
    # Over psycopg's own bound (4,096 bytes): without the backend's, every POST parsed it again.
    assert 4096 < len(first) < CACHED_STATEMENT_BYTES

    misses = psycopg_queries._query2pg.cache_info().misses
    hits = psycopg_queries._query2pg.cache_info().hits
    _ingest_statement(api_client, "req-b")
    _ingest_statement(api_client, "req-c")

    assert psycopg_queries._query2pg.cache_info().hits >= hits + 2
    # No text this long was parsed afresh: the two later POSTs' statements came from the cache.
    assert psycopg_queries._query2pg.cache_info().misses == misses
