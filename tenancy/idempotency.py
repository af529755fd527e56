"""Idempotent ingestion: one client key, one row, ever. The one implementation every ingesting
endpoint uses (generations single, bulk and branch; provider calls; performance metrics).

A client retries. Each ingested row carries the client's key (``request_id``, or for metrics
the generation they describe) and the fingerprint of the body that created it
(:func:`request_fingerprint`). For each model an :class:`IdempotentIngest` names the key field
and the database constraint that makes ``(organization, key)`` unique **over every row, soft-deleted
ones included**, and guarantees:

- the same key with the same body again answers the first row with ``created=False`` (200) and
  writes nothing;
- the same key with another body is :class:`ConflictingReplay` (409 ``conflicting_replay``);
- the same key of a soft-deleted row is :class:`DeletedReplay` (409 ``deleted``) naming the
  restore URL: a deleted row is restored, never written a second time, so rollups, budgets and
  reports count one request;
- a new key is written by one statement, ``INSERT … ON CONFLICT ON CONSTRAINT <constraint> DO
  NOTHING RETURNING …``: no look-up before it, no savepoint around it. Only when it returns
  nothing (the key is taken: an earlier request, or a concurrent one that PostgreSQL made this
  INSERT wait for until it committed) does one ``SELECT`` read the row to answer as above.

Callers keep their own validation and building. Single rows: :meth:`IdempotentIngest.record`
(build, then :meth:`~IdempotentIngest.insert`; a body that no longer builds is still answered
as the replay it is). Batches: :meth:`~IdempotentIngest.replays` before building and
:meth:`~IdempotentIngest.retrying` around the write.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connections, models, router, transaction
from django.db.models.sql import InsertQuery

from tenancy.errors import Conflict, DomainError
from tenancy.statements import Statement, chained

if TYPE_CHECKING:
    from tenancy.models import Organization

Row = TypeVar("Row", bound=models.Model)
Result = TypeVar("Result")


class ConflictingReplay(Conflict):
    """A key already recorded with a different body (409): not a retry, a clash."""

    code = "conflicting_replay"


class DeletedReplay(Conflict):
    """A key whose row was soft-deleted (409 ``deleted``): restore that row (``restore_url``)
    instead of recording it a second time."""

    code = "deleted"

    def __init__(self, detail: str, *, restore_url: str | None, attr: str | None = None):
        super().__init__(detail, attr=attr)
        self.restore_url = restore_url


# How :func:`insert_value` reads a field: kinds whose preparation it knows (Django's own, not
# overridden), or ``_AS_DJANGO`` (anything else: JSON, decimals, custom fields).
_AS_DJANGO, _TEXT, _INTEGER, _AUTO_KEY, _DATETIME = range(5)
# Kept on the field itself: a field's hash is computed in Python, a dictionary keyed by fields
# cost more than the shortcut saved.
_KIND = "_inkwell_insert_value_kind"


def _value_kind(field: models.Field) -> int:
    """Which of Django's preparations ``field`` uses, told by the methods its class resolves to
    (a subclass that overrides any of them is ``_AS_DJANGO``)."""
    cls, base = type(field), models.Field
    plain = cls.pre_save is base.pre_save and cls.get_db_prep_save is base.get_db_prep_save
    text = (models.CharField.get_prep_value, models.TextField.get_prep_value)
    if plain and cls.get_db_prep_value is base.get_db_prep_value and cls.get_prep_value in text:
        return _TEXT
    integer = (models.IntegerField.get_db_prep_value, models.IntegerField.get_prep_value)
    if plain and (cls.get_db_prep_value, cls.get_prep_value) == integer:
        return _INTEGER
    if cls is models.ForeignKey:
        target = type(field.target_field)
        if (
            target.get_db_prep_save is base.get_db_prep_save
            and target.get_db_prep_value is models.AutoField.get_db_prep_value
            and target.get_prep_value is models.IntegerField.get_prep_value
        ):
            return _AUTO_KEY
    if (
        cls.pre_save is models.DateTimeField.pre_save
        and cls.get_db_prep_save is base.get_db_prep_save
        and cls.get_db_prep_value is models.DateTimeField.get_db_prep_value
        and cls.get_prep_value is models.DateTimeField.get_prep_value
    ):
        return _DATETIME
    return _AS_DJANGO


def insert_value(field: models.Field, instance: models.Model, compiler) -> Any:
    """``instance``'s value of ``field`` as Django's INSERT ``compiler`` prepares it
    (``prepare_value(field, pre_save_val(field, instance))``), without Django's generic path for
    the common cases: a text, an integer, a key to an integer id, an aware datetime (or None).
    That path was 8 % of a single POST's profiled Python (44 columns a generation); the values are
    the same ones, of the same types (an integer wrapped as Django wraps it, so a prepared
    statement keeps its parameter types), which ``tests/tenancy/test_insert_values.py`` holds
    every model's columns to."""
    kind = field.__dict__.get(_KIND)
    if kind is None:
        kind = _value_kind(field)
        setattr(field, _KIND, kind)
    if kind == _DATETIME:
        value = field.pre_save(instance, True)  # auto_now and auto_now_add set the value here
        if value is None or (type(value) is datetime.datetime and value.tzinfo is not None):
            return compiler.connection.ops.adapt_datetimefield_value(value)
        return compiler.prepare_value(field, value)
    if kind != _AS_DJANGO:
        value = getattr(instance, field.attname)
        if value is None:
            return None
        if kind == _TEXT:
            if type(value) is str:
                return value
        elif type(value) is int:
            if kind == _INTEGER:
                return compiler.connection.ops.adapt_integerfield_value(value, field.get_internal_type())
            return compiler.connection.ops.validate_autopk_value(value)
    return compiler.prepare_value(field, compiler.pre_save_val(field, instance))


class _KeyTaken(Exception):
    """Rolls back a savepoint whose INSERT found its key taken (not an error to anyone)."""


@dataclass
class WrittenWith:
    """Writes to other tables that must happen exactly when a new row is written (analytics'
    rollup deltas of a generation), sent in the row's own statement.

    :meth:`IdempotentIngest.insert` makes its ``INSERT … ON CONFLICT DO NOTHING RETURNING`` the
    first data-modifying CTE of one statement (named ``inserted_row``) and each of
    ``statements`` a CTE after it. A statement must hold ``condition`` (true only if the INSERT
    wrote the row), so when the key is taken nothing is written. One statement commits or fails
    as a whole, so a single ingestion needs no transaction of its own (no BEGIN, no COMMIT)."""

    condition: str = "EXISTS (SELECT FROM inserted_row)"
    statements: list[Statement] = dataclasses.field(default_factory=list)

    def around(self, sql: str, params: Sequence[Any]) -> tuple[str, list[Any]]:
        """``sql`` (the INSERT … RETURNING) with the statements after it; returns its rows."""
        if not self.statements:
            return sql, list(params)
        row = Statement(sql, params, name="inserted_row")
        return chained([row, *self.statements, Statement("SELECT * FROM inserted_row")])


@dataclass(frozen=True)
class Recorded(Generic[Row]):
    """An ingestion's outcome: the row, and whether this call created it (201) or not (200)."""

    instance: Row
    created: bool


# INSERT texts kept per ingested model: a few shapes each (which nullable columns clients leave
# empty), cleared past this many.
_INSERT_SQL_MAX = 256


def request_fingerprint(body: Any) -> str:
    """SHA-256 of the canonical JSON of a request body: equal bodies, equal fingerprints."""
    canonical = json.dumps(
        body, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder, ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def violated_constraint(exc: IntegrityError) -> str | None:
    """The name of the constraint an ``IntegrityError`` from PostgreSQL violated, if it says."""
    return getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)


def _describe_request_id(value: Any) -> str:
    return f"request_id {value!r}"


@dataclass(frozen=True)
class IdempotentIngest(Generic[Row]):
    """How one model is ingested idempotently (see the module docstring).

    ``model`` has ``organization``, ``request_fingerprint`` and the ``key`` field;
    ``constraint`` is the name of its unique constraint on ``(organization, key)`` with no
    condition (deleted rows included). ``restore_url`` gives a soft-deleted row's restore
    endpoint; ``describe`` names a key value in error messages.
    """

    model: type[Row]
    constraint: str
    key: str = "request_id"
    restore_url: Callable[[Row], str] | None = None
    describe: Callable[[Any], str] = _describe_request_id
    # The INSERT text of each (vendor, columns) written (:meth:`_insert_sql`).
    _insert_texts: dict[tuple, str] = dataclasses.field(
        default_factory=dict, init=False, compare=False, repr=False
    )
    # The columns an INSERT writes, with the primary key or without (:meth:`_written_fields`).
    _columns: dict[bool, tuple[tuple[models.Field, ...], bool]] = dataclasses.field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def rows(self, organization: Organization | int) -> models.QuerySet[Row]:
        """Every row of ``organization``, soft-deleted ones included: keys are never reused."""
        manager = getattr(self.model, "all_objects", self.model._default_manager)
        return manager.filter(organization=organization)

    def answer(
        self, existing: Row, fingerprint: str, *, attr: str | None = None, where: str = ""
    ) -> Recorded[Row]:
        """The answer to a request whose key ``existing`` already holds: the row itself (same
        body), :class:`ConflictingReplay` (another body) or :class:`DeletedReplay` (deleted)."""
        attr = attr or self.key
        what = self.describe(getattr(existing, self.key))
        if getattr(existing, "deleted_at", None) is not None:
            url = self.restore_url(existing) if self.restore_url else None
            how = f" Restore it with POST {url} instead." if url else ""
            raise DeletedReplay(
                f"{where}{what} was recorded as {self.model._meta.verbose_name} {existing.pk}, which is "
                f"deleted; a request is never recorded twice.{how}",
                restore_url=url,
                attr=attr,
            )
        if existing.request_fingerprint != fingerprint:
            raise ConflictingReplay(f"{where}{what} was already recorded with a different body.", attr=attr)
        return Recorded(existing, created=False)

    def replay(self, *, organization: Organization, key: Any, fingerprint: str) -> Recorded[Row] | None:
        """The answer if ``key`` was recorded already (see :meth:`answer`); None if it is new."""
        existing = self.rows(organization).filter(**{self.key: key}).first()
        return None if existing is None else self.answer(existing, fingerprint)

    def replays(
        self, *, organization: Organization, keys: Sequence[Any], fingerprints: Sequence[str]
    ) -> list[Recorded[Row] | None]:
        """:meth:`replay` for each item of a batch in one query; errors name the item
        (``items.<index>.<key>``)."""
        existing = {
            getattr(row, self.key): row
            for row in self.rows(organization).filter(**{f"{self.key}__in": set(keys)})
        }
        return [
            self.answer(existing[key], fingerprint, attr=f"items.{index}.{self.key}", where=f"Item {index}: ")
            if key in existing
            else None
            for index, (key, fingerprint) in enumerate(zip(keys, fingerprints, strict=True))
        ]

    def raced(self, exc: IntegrityError) -> bool:
        """Whether ``exc`` is another request winning this key (and not some other violation)."""
        return violated_constraint(exc) == self.constraint

    def record(
        self,
        *,
        organization: Organization,
        key: Any,
        fingerprint: str,
        build: Callable[[], Row],
        before_insert: Callable[[Row], Any] | None = None,
        add_writes: Callable[[Row, WrittenWith], Any] | None = None,
    ) -> Recorded[Row]:
        """Build a row (``build``) and :meth:`insert` it: one statement for a new key.

        The key is not looked up first. If building fails (a 4xx: the parent since deleted, a
        model since retired), the key is looked up then, so a replay of a request that was
        valid when first recorded still answers its row (or 409), as a look-up first would."""
        try:
            instance = build()
        except (DomainError, ValidationError):
            replayed = self.replay(organization=organization, key=key, fingerprint=fingerprint)
            if replayed is not None:
                return replayed
            raise
        return self.insert(
            instance, fingerprint=fingerprint, before_insert=before_insert, add_writes=add_writes
        )

    def insert(
        self,
        instance: Row,
        *,
        fingerprint: str,
        before_insert: Callable[[Row], Any] | None = None,
        add_writes: Callable[[Row, WrittenWith], Any] | None = None,
    ) -> Recorded[Row]:
        """Write a new ``instance`` stamped with ``fingerprint`` in one ``INSERT … ON CONFLICT
        ON CONSTRAINT … DO NOTHING RETURNING``. If the key is taken (by an earlier request, or
        a concurrent one PostgreSQL waited for), one SELECT answers as a replay of that row.

        ``before_insert`` is work that must happen only if this row is written (a version
        reserved in a tree): then the two run in a savepoint that rolls back when the key is
        taken. ``add_writes(instance, written_with)`` adds to a :class:`WrittenWith` the writes
        that go in the row's own statement; not with ``before_insert``. Any other integrity error
        propagates."""
        instance.request_fingerprint = fingerprint
        if before_insert is None:
            written_with = WrittenWith()
            if add_writes is not None:
                add_writes(instance, written_with)
            written = self._insert_unless_taken(instance, written_with)
        else:
            if add_writes is not None:
                raise ValueError("add_writes goes without before_insert: that needs a savepoint.")
            try:
                with transaction.atomic():
                    before_insert(instance)
                    if not self._insert_unless_taken(instance):
                        raise _KeyTaken
                written = True
            except _KeyTaken:
                written = False
        if written:
            return Recorded(instance, created=True)
        winner = self.rows(instance.organization_id).get(**{self.key: getattr(instance, self.key)})
        return self.answer(winner, fingerprint)

    def _insert_unless_taken(self, instance: Row, written_with: WrittenWith | None = None) -> bool:
        """INSERT ``instance`` unless its key is taken; True when written (pk and the other
        database-returned fields set, as ``save(force_insert=True)`` would), with the writes of
        ``written_with`` in the same statement."""
        meta = self.model._meta
        using = router.db_for_write(self.model, instance=instance)
        connection = connections[using]
        instance._prepare_related_fields_for_save(operation_name="save")
        fields, placeholders = self._written_fields(with_pk=instance.pk is not None)
        query = InsertQuery(self.model)
        query.insert_values(fields, [instance])
        compiler = query.get_compiler(using=using)
        # The values exactly as Django's INSERT compiler prepares them.
        values = [insert_value(field, instance, compiler) for field in fields]
        pairs = list(zip(fields, values, strict=True))
        returning = meta.db_returning_fields
        if placeholders or any(hasattr(value, "as_sql") for value in values):
            # An expression or a field with its own placeholder: Django writes the SQL.
            [(sql, params)] = compiler.as_sql()
            sql = f"{sql} {self._insert_suffix(connection, returning)}"
        else:
            # A NULL of a nullable column without a database default is what PostgreSQL stores
            # when the column is left out, and the INSERT is then the same for every row of this
            # shape: its text is made once, and psycopg reuses its parsing of the text (it does
            # only for statements of at most 50 parameters; a generation has ~55 columns).
            sent = [
                (field, value)
                for field, value in pairs
                if value is not None or not field.null or field.has_db_default()
            ]
            sql = self._insert_sql(connection, tuple(field for field, _ in sent), returning)
            params = [value for _, value in sent]
        if written_with is not None:
            sql, params = written_with.around(sql, params)
        with connection.prepared_cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is None:
            return False
        converters = compiler.get_converters([field.get_col(meta.db_table) for field in returning])
        if converters:
            row = next(iter(compiler.apply_converters([row], converters)))
        for field, value in zip(returning, row, strict=True):
            setattr(instance, field.attname, value)
        instance._state.adding = False
        instance._state.db = using
        return True

    def _written_fields(self, *, with_pk: bool) -> tuple[tuple[models.Field, ...], bool]:
        """The columns an INSERT of this model writes (the generated ones never, the automatic
        primary key unless the row has one), and whether one of them has a placeholder of its own
        (then Django writes the SQL); worked out once per model."""
        known = self._columns.get(with_pk)
        if known is None:
            meta = self.model._meta
            fields = tuple(
                field
                for field in meta.local_concrete_fields
                if not field.generated and (with_pk or field is not meta.auto_field)
            )
            placeholders = any(hasattr(field, "get_placeholder") for field in fields)
            known = self._columns[with_pk] = (fields, placeholders)
        return known

    def _insert_suffix(self, connection, returning) -> str:
        quote = connection.ops.quote_name
        return (
            f"ON CONFLICT ON CONSTRAINT {quote(self.constraint)} DO NOTHING "
            f"RETURNING {', '.join(quote(field.column) for field in returning)}"
        )

    def _insert_sql(self, connection, fields: tuple, returning) -> str:
        """``INSERT … ON CONFLICT … DO NOTHING RETURNING …`` of these columns, made once per
        connection vendor and set of columns."""
        key = (connection.vendor, tuple(field.column for field in fields))
        sql = self._insert_texts.get(key)
        if sql is None:
            quote = connection.ops.quote_name
            sql = (
                f"INSERT INTO {quote(self.model._meta.db_table)} "  # noqa: S608 - names from the model
                f"({', '.join(quote(field.column) for field in fields)}) "
                f"VALUES ({', '.join(['%s'] * len(fields))}) {self._insert_suffix(connection, returning)}"
            )
            if len(self._insert_texts) >= _INSERT_SQL_MAX:
                self._insert_texts.clear()
            self._insert_texts[key] = sql
        return sql

    def retrying(self, write: Callable[[], Result]) -> Result:
        """Run a batch ``write`` (its look-ups and inserts) in a savepoint; if a concurrent
        request recorded one of its keys in between, run it once more: those keys are now
        replays (or conflicts) its look-up finds."""
        for attempt in range(2):
            try:
                with transaction.atomic():
                    return write()
            except IntegrityError as exc:
                if not self.raced(exc) or attempt == 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover
