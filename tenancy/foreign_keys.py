"""Foreign keys Django (5.2) neither expresses nor tracks: a migration operation that sets a
key's ``ON DELETE`` action (what the database does when a referenced row is deleted), and a
constraint for a key over several columns (:class:`CompositeForeignKey`).

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

from django.apps.registry import Apps
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS
from django.db.migrations.operations.base import Operation
from django.db.models import BaseConstraint, Model

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


class CompositeForeignKey(BaseConstraint):
    """A foreign key over several columns, declared in a model's ``Meta.constraints`` (so
    migrations create, track and drop it): ``fields`` of the model reference ``to_fields`` of
    the model ``to`` (an ``"app_label.Model"``; a unique constraint of ``to`` must cover exactly
    those columns), ``ON DELETE NO ACTION DEFERRABLE INITIALLY DEFERRED`` like Django's own keys.

    For a row that must belong to the organization of the row it points at: with the
    organization among the columns, one check per written row proves both that the referenced
    row exists and that it is the same organization's, where two single-column keys (to the
    row, to the organization) made two checks and proved less. The fields' own ``ForeignKey`` fields
    then say ``db_constraint=False`` (Django keeps their ``on_delete`` and their validation).
    A row whose key columns are partly NULL is not checked (``MATCH SIMPLE``).
    """

    def __init__(
        self,
        *,
        fields: tuple[str, ...] | list[str],
        to: str,
        to_fields: tuple[str, ...] | list[str],
        name: str,
        violation_error_code: str | None = None,
        violation_error_message: str | None = None,
    ):
        if not fields or len(fields) != len(to_fields):
            raise ValueError("CompositeForeignKey needs as many to_fields as fields, at least one.")
        self.fields, self.to, self.to_fields = tuple(fields), to, tuple(to_fields)
        super().__init__(
            name=name,
            violation_error_code=violation_error_code,
            violation_error_message=violation_error_message,
        )

    def _target(self, apps: Apps) -> type[Model]:
        return apps.get_model(self.to)

    @staticmethod
    def _columns(model: type[Model], names: tuple[str, ...], schema_editor) -> str:
        return ", ".join(schema_editor.quote_name(model._meta.get_field(name).column) for name in names)

    def constraint_sql(self, model, schema_editor):
        # Added after the CREATE TABLE, as Django adds its own keys: the referenced table may not
        # exist yet when this one is created.
        schema_editor.deferred_sql.append(self.create_sql(model, schema_editor))
        return None

    def create_sql(self, model, schema_editor):
        target, quote = self._target(model._meta.apps), schema_editor.quote_name
        columns = self._columns(model, self.fields, schema_editor)
        referenced = self._columns(target, self.to_fields, schema_editor)
        return (
            f"ALTER TABLE {quote(model._meta.db_table)} ADD CONSTRAINT {quote(self.name)} "
            f"FOREIGN KEY ({columns}) REFERENCES {quote(target._meta.db_table)} ({referenced}) "
            "DEFERRABLE INITIALLY DEFERRED"
        )

    def remove_sql(self, model, schema_editor):
        quote = schema_editor.quote_name
        return f"ALTER TABLE {quote(model._meta.db_table)} DROP CONSTRAINT {quote(self.name)}"

    def validate(self, model, instance, exclude=None, using=DEFAULT_DB_ALIAS):
        """``full_clean``: the referenced row exists with these values (skipped when a field is
        excluded or NULL, as the database skips it)."""
        if exclude and any(name in exclude for name in self.fields):
            return
        values = [getattr(instance, model._meta.get_field(name).attname) for name in self.fields]
        if any(value is None for value in values):
            return
        target = self._target(model._meta.apps)
        lookup = {
            target._meta.get_field(name).attname: value
            for name, value in zip(self.to_fields, values, strict=True)
        }
        if not target._base_manager.using(using).filter(**lookup).exists():
            raise ValidationError(self.get_violation_error_message(), code=self.violation_error_code)

    def deconstruct(self):
        path, args, kwargs = super().deconstruct()
        return path, args, {**kwargs, "fields": self.fields, "to": self.to, "to_fields": self.to_fields}

    def __eq__(self, other):
        if not isinstance(other, CompositeForeignKey):
            return NotImplemented
        return (
            self.name == other.name
            and self.fields == other.fields
            and self.to.lower() == other.to.lower()
            and self.to_fields == other.to_fields
            and self.violation_error_code == other.violation_error_code
            and self.violation_error_message == other.violation_error_message
        )

    def __repr__(self):
        return (
            f"<{self.__class__.__qualname__}: fields={self.fields!r} to={self.to!r} "
            f"to_fields={self.to_fields!r} name={self.name!r}>"
        )
