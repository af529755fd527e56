"""Several SQL statements sent as one: each but the last a data-modifying CTE of the last.

One statement is one round trip and one snapshot, and it commits or fails whole: a single
ingest's row with its rollup deltas (``tenancy.idempotency.WrittenWith``), a batch of rollup
deltas (``analytics.rollups``). PostgreSQL runs every data-modifying CTE to its end whether or
not anything reads it. A statement's ``readers`` read the rows it returns, so what they write is
computed by the server from what it wrote, instead of being sent again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

# What a reader's SQL calls the rows of the statement it reads.
ROWS = "{rows}"


class Statement(NamedTuple):
    """One SQL statement and its parameters, and statements that read the rows it returns
    (SQL naming them ``{rows}``, no parameters of their own). ``name``: what the chain calls its
    CTE, for a condition a later statement holds on it (default: its position)."""

    sql: str
    params: Sequence[Any] = ()
    readers: tuple[str, ...] = ()
    name: str | None = None


def chained(statements: Sequence[Statement]) -> tuple[str, list[Any]]:
    """The SQL and parameters of one statement that runs ``statements`` in order, each (with its
    readers right after it) a CTE of the last. The text depends only on the statements' texts, so
    psycopg's cache of a text's parsing serves every request of the same shape."""
    parts: list[tuple[str, str]] = []
    params: list[Any] = []
    for number, statement in enumerate(statements):
        name = statement.name or f"s{number}"
        parts.append((name, statement.sql))
        params += statement.params
        parts += [(f"{name}_{n}", reader.replace(ROWS, name)) for n, reader in enumerate(statement.readers)]
    *first, (_, last) = parts
    if not first:
        return last, params
    return "WITH " + ", ".join(f"{name} AS ({sql})" for name, sql in first) + " " + last, params
