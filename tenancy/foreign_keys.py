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
from django.core import checks
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import DEFAULT_DB_ALIAS
from django.db.backends.ddl_references import Statement, Table
from django.db.migrations.operations.base import Operation
from django.db.models import BaseConstraint, Model, UniqueConstraint

ACTIONS = ("NO ACTION", "RESTRICT")


def foreign_key_clause(
    quote,
    name: str,
    columns: list[str],
    to_table: str,
    to_columns: list[str],
    *,
    on_delete: str = "NO ACTION",
    not_valid: bool = False,
) -> str:
    """``CONSTRAINT … FOREIGN KEY … REFERENCES …`` as Django writes its own keys (deferrable,
    initially deferred), with the ``ON DELETE`` action (``ACTIONS``); ``not_valid``: rows already
    there are not checked until ``VALIDATE CONSTRAINT`` (a brief lock now, the scan later under
    one that lets writers in). The one place this project writes a key's SQL."""
    if on_delete not in ACTIONS:
        raise ValueError(f"ON DELETE action must be one of {ACTIONS}.")
    clause = (
        f"CONSTRAINT {quote(name)} FOREIGN KEY ({', '.join(map(quote, columns))}) "
        f"REFERENCES {quote(to_table)} ({', '.join(map(quote, to_columns))}) "
        f"ON DELETE {on_delete} DEFERRABLE INITIALLY DEFERRED"
    )
    return f"{clause} NOT VALID" if not_valid else clause


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
        target = field.target_field
        clause = foreign_key_clause(
            quote,
            row[0],
            [field.column],
            target.model._meta.db_table,
            [target.column],
            on_delete=action,
            not_valid=True,
        )
        schema_editor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(row[0])}, ADD {clause}")
        schema_editor.execute(f"ALTER TABLE {quote(table)} VALIDATE CONSTRAINT {quote(row[0])}")

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
    those columns, which the system check ``tenancy.E010`` asks for), ``ON DELETE NO ACTION
    DEFERRABLE INITIALLY DEFERRED`` like Django's own keys.

    For a row that must belong to the organization of the row it points at: with the
    organization among the columns, one check per written row proves both that the referenced
    row exists and that it is the same organization's, where two single-column keys (to the
    row, to the organization) made two checks and proved less. The fields' own ``ForeignKey``
    fields then say ``db_constraint=False`` (Django keeps their ``on_delete`` and validation).
    A row whose key columns are partly NULL is not checked (``MATCH SIMPLE``).

    ``makemigrations`` does not know that the key needs the target's unique constraint first,
    nor that it depends on the target's app: check the order of a generated migration (or write
    it as ``analytics`` 0023 does, which also adds the key ``NOT VALID`` and validates it after).
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
        """The referenced model, from ``apps`` (a migration's historical models, or the app's)."""
        return apps.get_model(self.to)

    def _check(self, model, connection):
        """System checks: the fields exist on both sides, and the target has a unique
        constraint over exactly ``to_fields`` (else PostgreSQL refuses the key at migrate)."""
        errors = [
            checks.Error(
                f"'{self.name}' names '{name}', which {model._meta.label} does not have.",
                obj=model,
                id="tenancy.E011",
            )
            for name in self.fields
            if not has_concrete_field(model, name)
        ]
        try:
            target = self._target(model._meta.apps)
        except LookupError:
            return [
                *errors,
                checks.Error(
                    f"'{self.name}' references '{self.to}', no such model.", obj=model, id="tenancy.E012"
                ),
            ]
        missing = [name for name in self.to_fields if not has_concrete_field(target, name)]
        if missing:
            errors.append(
                checks.Error(
                    f"'{self.name}' names {missing}, which {target._meta.label} does not have.",
                    obj=model,
                    id="tenancy.E011",
                )
            )
        elif not any(
            isinstance(unique, UniqueConstraint)
            and unique.condition is None
            and not unique.expressions
            and set(unique.fields) == set(self.to_fields)
            for unique in target._meta.constraints
        ) and list(self.to_fields) != [target._meta.pk.name]:
            errors.append(
                checks.Error(
                    f"'{self.name}' references {list(self.to_fields)} of {target._meta.label}, which no "
                    "unconditional UniqueConstraint covers exactly.",
                    obj=model,
                    id="tenancy.E010",
                )
            )
        return errors

    def _statement(self, model, schema_editor, *, not_valid: bool = False) -> Statement:
        """The ``ALTER TABLE … ADD CONSTRAINT`` of this key (:func:`foreign_key_clause`)."""
        target = self._target(model._meta.apps)
        clause = foreign_key_clause(
            schema_editor.quote_name,
            self.name,
            [model._meta.get_field(name).column for name in self.fields],
            target._meta.db_table,
            [target._meta.get_field(name).column for name in self.to_fields],
            not_valid=not_valid,
        )
        # A Statement naming its table: a delete_model in the same schema editor drops it from
        # the deferred SQL, as it drops Django's own keys.
        return Statement(
            "ALTER TABLE %(table)s ADD %(clause)s",
            table=Table(model._meta.db_table, schema_editor.quote_name),
            clause=clause,
        )

    def constraint_sql(self, model, schema_editor):
        # Added after the CREATE TABLE, as Django adds its own keys: the referenced table may not
        # exist yet when this one is created.
        schema_editor.deferred_sql.append(self._statement(model, schema_editor))
        return None

    def create_sql(self, model, schema_editor, *, not_valid: bool = False):
        """``ALTER TABLE … ADD CONSTRAINT``; ``not_valid``: the rows already there are checked by
        a later ``VALIDATE CONSTRAINT`` (:meth:`validate_sql`)."""
        return self._statement(model, schema_editor, not_valid=not_valid)

    def validate_sql(self, model, schema_editor) -> str:
        """Check the rows a ``NOT VALID`` key skipped, under a lock that lets writers in."""
        quote = schema_editor.quote_name
        return f"ALTER TABLE {quote(model._meta.db_table)} VALIDATE CONSTRAINT {quote(self.name)}"

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


def has_concrete_field(model: type[Model], name: str) -> bool:
    """Whether ``model`` has a concrete (column-backed) field ``name``."""
    try:
        return model._meta.get_field(name).concrete
    except FieldDoesNotExist:
        return False
