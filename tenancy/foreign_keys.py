"""What the database does when a referenced row is deleted: a migration operation that sets a
foreign key's ``ON DELETE`` action, which Django (5.2) neither expresses nor tracks.

Django creates every foreign key as ``NO ACTION DEFERRABLE INITIALLY DEFERRED`` and does the
model's ``on_delete`` itself (the ``Collector``, or retention's set-based copy of it): it clears
or deletes the referencing rows before the referenced ones. The database's action only decides
how the constraint checks that nothing still points at a deleted row, and the cost differs.
``NO ACTION`` first looks for another row carrying the deleted key (it may have been put back
before the deferred check runs), then for referencing rows: two look-ups per deleted row and
key. ``RESTRICT`` makes only the second. Measured deleting 10,000 generations (five keys point
at them) in one statement on the two-million-row bench build, checks included: 32-53 µs a row
under ``NO ACTION``, 18-29 µs under ``RESTRICT``, 7-16 µs with the keys dropped.

``RESTRICT`` is checked at the end of the deleting statement, never deferred to the commit, so
it fits only where the referencing rows are gone by then: a statement that deletes a tree's
nodes together passes, and deleting a referenced row before its referencing ones in a later
statement fails with an ``IntegrityError``. The checks of inserts and updates of the
referencing table stay deferred, as the constraint is still ``DEFERRABLE INITIALLY DEFERRED``.
Django's ``Collector`` deletes a model's rows in statements of 100, newest key first, so an ORM
delete of a big tree still passes: a node is always newer than the node it points at (checked
by ``tests/tenancy/test_foreign_keys.py`` with a tree of 102 nodes). Retention deletes a tree's
nodes in one statement.

A later ``AlterField`` of such a key makes Django recreate its constraint as ``NO ACTION``:
``tests/test_conventions.py`` lists the keys that must say ``RESTRICT``.
"""

from __future__ import annotations

from django.db.migrations.operations.base import Operation

ACTIONS = ("NO ACTION", "RESTRICT")

# The foreign key constraint of one column of a table (whatever name created it).
CONSTRAINT_OF_COLUMN = """
SELECT c.conname
  FROM pg_constraint c
  JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
 WHERE c.contype = 'f' AND c.conrelid = %s::regclass AND array_length(c.conkey, 1) = 1
   AND a.attname = %s
"""


class SetDeleteAction(Operation):
    """Migration operation: make a foreign key's database constraint ``ON DELETE <action>``
    (``"RESTRICT"`` or ``"NO ACTION"``); reverse restores ``reverse_action``.

    In a non-atomic migration (``atomic = False``) each key is two short transactions: one
    ``ALTER TABLE`` drops the constraint and adds it back ``NOT VALID`` (a brief lock, never a
    moment without the constraint), then ``VALIDATE CONSTRAINT`` reads the table under a lock
    that lets writers in. In an atomic migration the first lock is held for the validation.
    """

    reduces_to_sql = True
    reversible = True

    def __init__(self, model_name: str, field_name: str, action: str, reverse_action: str = "NO ACTION"):
        if action not in ACTIONS or reverse_action not in ACTIONS:
            raise ValueError(f"ON DELETE action must be one of {ACTIONS}.")
        self.model_name = model_name
        self.field_name = field_name
        self.action = action
        self.reverse_action = reverse_action

    def deconstruct(self):
        kwargs = {"reverse_action": self.reverse_action} if self.reverse_action != "NO ACTION" else {}
        return self.__class__.__qualname__, [self.model_name, self.field_name, self.action], kwargs

    def state_forwards(self, app_label, state):
        pass  # the database changes, Django's model state does not

    def _apply(self, app_label, schema_editor, state, action: str) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        model = state.apps.get_model(app_label, self.model_name)
        field = model._meta.get_field(self.field_name)
        table, quote = model._meta.db_table, schema_editor.quote_name
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(CONSTRAINT_OF_COLUMN, [table, field.column])
            row = cursor.fetchone()
        if row is None:
            raise LookupError(f"{table}.{field.column} has no foreign key constraint.")
        name = quote(row[0])
        target = field.target_field
        schema_editor.execute(
            f"ALTER TABLE {quote(table)} DROP CONSTRAINT {name}, ADD CONSTRAINT {name} "
            f"FOREIGN KEY ({quote(field.column)}) REFERENCES {quote(target.model._meta.db_table)} "
            f"({quote(target.column)}) ON DELETE {action} DEFERRABLE INITIALLY DEFERRED NOT VALID"
        )
        schema_editor.execute(f"ALTER TABLE {quote(table)} VALIDATE CONSTRAINT {name}")

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        self._apply(app_label, schema_editor, to_state, self.action)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        self._apply(app_label, schema_editor, from_state, self.reverse_action)

    def describe(self):
        return f"ON DELETE {self.action} for {self.model_name}.{self.field_name} in the database"

    @property
    def migration_name_fragment(self):
        return (
            f"{self.model_name.lower()}_{self.field_name}_on_delete_{self.action.lower().replace(' ', '_')}"
        )
