"""Writing new values into many rows at once: one ``UPDATE … FROM unnest(…)`` for any number
of rows and fields, where Django's ``bulk_update`` writes a ``CASE`` per field.

``bulk_update`` sends, for each field, ``CASE WHEN id = 1 THEN … WHEN id = 2 THEN … END`` with
one branch per row, and the server searches those branches for every row it updates: the work
grows with the square of the batch. Re-pricing 500 generations (13 fields) took 0.95-1.3 s that
way on the 10M bench build, against 0.11-0.15 s as one ``UPDATE`` joined to the rows' values
sent as one array per field (``docs/scale-plan.md``). Retention's batch rows, re-pricing, the
GDPR purge's scrubbed copies and the demo seeder's tree versions all write this way, through
:func:`rows_update`.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.postgres.fields import ArrayField
from django.db import connections, models, router


def rows_update(*, model: type[models.Model], rows: Sequence[models.Model], fields: Sequence[str]) -> int:
    """Write ``fields`` (names) of ``rows`` (saved instances of ``model``) to their rows, as
    ``bulk_update`` would (values prepared by each field, no ``save()``, no signals, no
    ``auto_now``), in one statement. Returns the rows updated; a row the caller's row scope
    (``tenancy.rls``) hides is not. Raises ``ValueError`` for an unsaved or repeated row, a
    primary key, an array column or a field that is not a concrete column of ``model``."""
    if not rows:
        return 0
    chosen = [model._meta.get_field(name) for name in fields]
    if not chosen:
        raise ValueError("rows_update needs at least one field.")
    for field in chosen:
        if not field.concrete or field.many_to_many or field.primary_key:
            raise ValueError(f"rows_update cannot write {field.name!r}: not a concrete, non-key column.")
        if isinstance(field, ArrayField):  # unnest() would flatten an array of arrays into elements
            raise ValueError(f"rows_update cannot write {field.name!r}: an array column.")
    keys = [row.pk for row in rows]
    if any(key is None for key in keys):
        raise ValueError("rows_update needs saved rows: one has no primary key.")
    if len(set(keys)) != len(keys):
        raise ValueError("rows_update was given a row twice; which value wins would be arbitrary.")
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    pk = model._meta.pk
    # One array per column, cast to the column's type, so a column of NULLs keeps its type.
    columns = [(pk, keys), *((field, [getattr(row, field.attname) for row in rows]) for field in chosen)]
    arrays = [[field.get_db_prep_save(value, connection) for value in values] for field, values in columns]
    unnest = ", ".join(f"%s::{field.cast_db_type(connection)}[]" for field, _ in columns)
    names = ", ".join(f"v{number}" for number in range(len(columns)))
    assignments = ", ".join(
        f"{quote(field.column)} = new.v{number}" for number, field in enumerate(chosen, start=1)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(model._meta.db_table)} AS row SET {assignments} "  # noqa: S608 - quoted names
            f"FROM unnest({unnest}) AS new({names}) WHERE row.{quote(pk.column)} = new.v0",
            arrays,
        )
        return cursor.rowcount
