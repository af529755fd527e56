"""The bulk writer of generations: ids reserved ahead (``next_ids``) and fully built rows
written with one ``COPY … FROM STDIN`` through a session-private staging table
(``copy_into_table``), so a bulk ingest of ~50 columns a row costs one COPY and one
``INSERT … SELECT`` instead of a multi-row INSERT.

Writes rows only: no idempotency, tree placement or signal (``generations.services.ingestion``
does those around it).
"""

from __future__ import annotations

import datetime

from django.db import connection, models

from generations.models import Generation


def next_ids(count: int) -> list[int]:
    """Reserve ``count`` primary keys, so a bulk can point rows at each other before inserting."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence('generations_generation', 'id')) "
            "FROM generate_series(1, %s)",
            [count],
        )
        return [row[0] for row in cursor.fetchall()]


# Columns whose ``get_db_prep_save`` on PostgreSQL returns a value of these exact types as it
# is (no conversion, no adaptation): the COPY skips the call for them (~40 calls a row) and
# writes exactly what ``bulk_create`` would send. Everything else (JSON, decimals, arrays,
# str subclasses such as choices, naive datetimes …) still goes through the field.
_PLAIN_COLUMNS: dict[type, tuple[type, ...]] = {
    models.CharField: (str,),
    models.TextField: (str,),
    models.IntegerField: (int,),
    models.BigIntegerField: (int,),
    models.PositiveIntegerField: (int,),
    models.PositiveSmallIntegerField: (int,),
    models.BooleanField: (bool,),
    models.BigAutoField: (int,),
    models.AutoField: (int,),
}


def _column_kind(field) -> type | None:
    """The exact field class that decides how a column's value is prepared (a foreign key's
    is its target's); None for fields that always go through ``get_db_prep_save``."""
    if type(field) in (models.ForeignKey, models.OneToOneField):
        field = field.target_field
    return type(field) if type(field) in _PLAIN_COLUMNS else None


def copy_into_table(rows: list[Generation], *, now: datetime.datetime) -> None:
    """Write fully built rows (ids included) with one ``COPY … FROM STDIN`` (through a staging table).

    Faster than a multi-row INSERT of ~50 columns (a quarter off a bulk request), and inside the caller's
    transaction: constraints and the unique request_id index apply as to any INSERT (a violation
    surfaces as Django's ``IntegrityError``). Values go through each field's
    ``get_db_prep_save``, exactly as ``bulk_create`` would send them, except plain values that
    it returns unchanged (``_PLAIN_COLUMNS``).
    """
    if not rows:
        return
    fields = Generation._meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    for row in rows:
        row.updated_at = now  # what auto_now would set
    # COPY FROM is refused on a table with row-level security (tenancy/rls.py), so the rows are
    # copied into a session-private temporary table and moved with one INSERT … SELECT, which the
    # tenant policy checks row by row. Called inside generation_bulk_record's transaction.
    table = connection.ops.quote_name(Generation._meta.db_table)
    staging = connection.ops.quote_name(f"staging_{Generation._meta.db_table}")
    preparers = [(field, field.attname, _PLAIN_COLUMNS.get(_column_kind(field))) for field in fields]
    with connection.cursor() as cursor, connection.wrap_database_errors:
        cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} (LIKE {table}) ON COMMIT DELETE ROWS")
        with cursor.cursor.copy(f"COPY {staging} ({columns}) FROM STDIN") as copy:
            for row in rows:
                values = []
                for field, attname, plain in preparers:
                    value = getattr(row, attname)
                    if plain is not None and (value is None or type(value) in plain):
                        values.append(value)
                    else:
                        values.append(field.get_db_prep_save(value, connection))
                copy.write_row(values)
        cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging}")  # noqa: S608 - quoted names
        cursor.execute(f"TRUNCATE {staging}")
    for row in rows:
        row._state.adding = False
        row._state.db = connection.alias
