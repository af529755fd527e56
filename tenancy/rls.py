"""PostgreSQL row-level security: the second tenant wall, under the scoping done in code.

Every table with an ``organization_id`` column (and ``tenancy_organization`` itself, by ``id``)
has ``ENABLE`` and ``FORCE ROW LEVEL SECURITY`` and one policy, ``tenant_wall``, that admits a
row only when

- the connection is in a named bypass (``app.rls_bypass = 'on'``), or
- its organization is one of ``app.organization_ids`` (a comma-separated list), or
- it is a global row (``organization_id IS NULL``) of a model that has global rows; global rows
  are readable by every tenant and writable only in bypass.

No setting means no rows: a query that forgot its ``.filter(organization=…)`` gets the current
organization's rows at most, and a code path with no organization at all gets nothing.

The policy reads the settings for every row it filters; on the six daily rollups the reports
read it reads them once per statement instead (:func:`policy_clauses`, :class:`ReadRowScopeOnce`).

Who sets what:

- every HTTP request starts with no rows (:class:`tenancy.middleware.RowLevelSecurityMiddleware`);
  the API sets the caller's organization once it is resolved (``tenancy.context``), the admin
  sets the staff user's organizations (superusers: bypass ``"superuser admin"``);
- API-key and membership look-ups before the organization is known, maintenance commands, and
  test fixtures run in :func:`rls_bypass` with a reason that names them.

The settings are session GUCs switched at these boundaries and restored on the way out (the
app runs in autocommit, so a ``SET LOCAL`` would last one statement). Outside a transaction a
switch only records the scope; the database backend writes it into the session just before the
next statement (Django's execute hook, a new cursor, a cursor's ``copy``/``callproc``/``stream``),
and only when the session holds other settings, so switching costs a statement only where a
query follows and the scope changed. Inside a transaction a switch is written at once, both
ways: a server-side cursor there (``.iterator()``) is read by FETCHes that no hook sees, and
the policies are evaluated as its rows are fetched, so a lazy switch would let them run under a
scope the code has left. (Outside a transaction Django declares such cursors ``WITH HOLD``: the
rows are computed when it is opened.) A connection new to Django (or handed back by a pool)
holds unknown settings until the first write.

Superusers and ``BYPASSRLS`` roles skip every policy, ``FORCE`` or not, so the app runs as
:func:`app_role` (``inkwell_app`` by default: no login, no superuser, no BYPASSRLS, DML only):
the database backend (``tenancy.db_backend``) does ``SET ROLE`` on each new connection.
``migrate`` and ``flush`` run as the connecting user (the tables' owner) in :func:`database_owner`.

``app.rls_bypass`` can be set by any SQL the app runs; this wall stops forgotten filters, not
SQL injection (parameterised queries do that).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.operations.base import Operation

logger = logging.getLogger(__name__)

GUC_ORGANIZATIONS = "app.organization_ids"
GUC_BYPASS = "app.rls_bypass"
# Written with the scope, in the same statement (:func:`statement_timeout`).
GUC_STATEMENT_TIMEOUT = "statement_timeout"
POLICY_NAME = "tenant_wall"
NO_DB_ALIAS = "__no_db__"  # Django's alias for the maintenance connection that creates test databases


@dataclass(frozen=True)
class RowScope:
    """What the database admits on one connection: some organizations, or everything (bypass)."""

    organization_ids: tuple[int, ...] = ()
    bypass_reason: str = ""

    @property
    def bypass(self) -> bool:
        return bool(self.bypass_reason)

    @property
    def session_settings(self) -> tuple[tuple[int, ...], bool]:
        """What the session's GUCs hold for this scope: two bypasses with different reasons
        admit the same rows and need no second write (the reason stays on the scope, for
        :func:`current_scope` and logging)."""
        return self.organization_ids, self.bypass


NOTHING = RowScope()


def app_role() -> str:
    """The role the app runs as (``DATABASE_APP_ROLE``); empty disables the switch (not safe)."""
    return getattr(settings, "DATABASE_APP_ROLE", "")


# --- per-connection state -------------------------------------------------------------------


def _is_postgresql(connection) -> bool:
    return connection.vendor == "postgresql"


def current_scope(using: str = DEFAULT_DB_ALIAS) -> RowScope:
    """The scope the connection ``using`` applies now."""
    return getattr(connections[using], "_inkwell_row_scope", NOTHING)


def _apply(connection, scope: RowScope) -> None:
    """Make ``scope`` the one the connection's next statement runs under.

    Outside a transaction only remembered here: :func:`before_statement` writes it into the
    session's GUCs just before the next statement goes out, if it differs from what the session
    holds. A request that switches to its organization and back to nothing (the middleware)
    without a query in between costs no statement, and one whose connection last served the same
    organization costs none at all; a request that never touches the database opens no
    connection for it. Inside a transaction it is written now (see the module docstring)."""
    if _is_postgresql(connection):
        _want(connection, "_inkwell_row_scope", scope)


def _want(connection, attribute: str, value) -> None:
    """Record a session setting the connection's statements must run under (the row scope, the
    statement cap): outside a transaction :func:`before_statement` writes it before the next
    statement; inside one it is written now, so the transaction's next statement, raw or not,
    runs under it (see the module docstring)."""
    setattr(connection, attribute, value)
    if connection.in_atomic_block:
        before_statement(connection)


def before_statement(connection) -> None:
    """Write the wanted scope into the session unless it holds its settings already (one
    statement, not logged as an app query; a database error is Django's, as from any statement).
    Called by the database backend for every cursor and statement it sees, so no statement of
    Django's runs under a scope other than the one the code is in; raw psycopg use of
    ``connection.connection`` must open a Django cursor (or call this) first."""
    raw = connection.connection
    scope = getattr(connection, "_inkwell_row_scope", NOTHING)
    if raw is None or connection.alias == NO_DB_ALIAS:
        return  # not connected; or Django's maintenance connection, which creates test databases
    wanted = (scope.session_settings, getattr(connection, "_inkwell_statement_timeout", 0))
    if getattr(connection, "_inkwell_session_settings", None) == wanted:
        return
    from psycopg import pq

    status = raw.info.transaction_status
    if status == pq.TransactionStatus.INERROR:
        # The transaction is aborted: every statement fails until its rollback, which restores
        # the GUCs set before it; the write happens on the first statement after that.
        return
    if status == pq.TransactionStatus.ACTIVE:
        return  # a COPY is under way: nothing else can be sent; the statement after it writes
    with connection.wrap_database_errors:
        _write_gucs(raw, scope, wanted[1])
    connection._inkwell_session_settings = wanted


def _write_gucs(raw, scope: RowScope, timeout_ms: int) -> None:
    raw.execute(
        "SELECT set_config(%s, %s, false), set_config(%s, %s, false), set_config(%s, %s, false)",
        [
            GUC_ORGANIZATIONS,
            ",".join(str(int(pk)) for pk in scope.organization_ids),
            GUC_BYPASS,
            "on" if scope.bypass else "off",
            GUC_STATEMENT_TIMEOUT,
            str(int(timeout_ms)),
        ],
    )


@contextlib.contextmanager
def statement_timeout(milliseconds: int, using: str = DEFAULT_DB_ALIAS):
    """Cap every statement of the block at ``milliseconds`` (0: no cap), then restore what
    applied before: PostgreSQL cancels a statement that runs longer (``QueryCanceled``).

    An API request runs under ``settings.API_STATEMENT_TIMEOUT_SECONDS``
    (:class:`tenancy.middleware.RowLevelSecurityMiddleware`), so no request holds a worker and a
    backend for minutes (a phrase of two common words in an order no content has, searched in a
    tenant of millions of rows, checks every row); maintenance commands run without one. The
    cap is a session setting written with the row scope, in the same statement and only when
    either changed (:func:`before_statement`): a request on a connection whose last request had
    the same organization and cap costs no statement for it."""
    connection = connections[using]
    if not _is_postgresql(connection):
        yield
        return
    previous = getattr(connection, "_inkwell_statement_timeout", 0)
    try:
        # Inside the try, as row_scope's: a write that fails must not leave the cap recorded.
        _want(connection, "_inkwell_statement_timeout", int(milliseconds))
        yield
    finally:
        _want(connection, "_inkwell_statement_timeout", previous)


def use_scope(scope: RowScope, using: str = DEFAULT_DB_ALIAS) -> None:
    """Switch the connection to ``scope`` until something switches it again.

    For boundaries that restore it themselves (the request middleware); elsewhere use the
    context managers below."""
    _apply(connections[using], scope)


@contextlib.contextmanager
def row_scope(scope: RowScope, using: str = DEFAULT_DB_ALIAS):
    """Run the block with ``scope``, then restore whatever applied before."""
    connection = connections[using]
    previous = getattr(connection, "_inkwell_row_scope", NOTHING)
    try:
        # Entered inside the try: inside a transaction the write happens now and may fail (the
        # connection dropped); the scope is already recorded, and must not outlive the error.
        _apply(connection, scope)
        yield scope
    finally:
        _apply(connection, previous)


def rls_bypass(*, reason: str, using: str = DEFAULT_DB_ALIAS):
    """Admit every row for the block (or decorated function): maintenance, migrations, key and
    membership look-ups, test fixtures. ``reason`` names the caller; it is required so a bypass
    is always a decision someone wrote down."""
    if not reason:
        raise ValueError("rls_bypass needs a reason naming the caller.")
    return row_scope(RowScope(bypass_reason=reason), using)


def rls_organizations(organization_ids: Iterable[int], using: str = DEFAULT_DB_ALIAS):
    """Admit only these organizations' rows (and global rows) for the block."""
    return row_scope(RowScope(organization_ids=tuple(sorted({int(pk) for pk in organization_ids}))), using)


def rls_nothing(using: str = DEFAULT_DB_ALIAS):
    """Admit no tenant row for the block (what a request starts with)."""
    return row_scope(NOTHING, using)


# --- role switching (called by tenancy.db_backend) ------------------------------------------

_owner_depth = 0


def _set_role(connection, role: str | None) -> None:
    from psycopg import sql

    raw = connection.connection
    if role:
        raw.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
    else:
        raw.execute("RESET ROLE")


def on_new_connection(connection) -> None:
    """A new connection to Django: run as the app role (unless in :func:`database_owner`). What
    its session holds is unknown (a connection pool, Django's ``OPTIONS["pool"]`` or PgBouncer in
    session mode, may hand back a session its last user left in a bypass), so
    :func:`before_statement` writes the scope the code is in before its first statement. (A
    pooler in transaction mode, which moves sessions between transactions, cannot carry session
    settings at all.)"""
    connection._inkwell_session_settings = None
    role = app_role()
    if role and not _owner_depth and connection.alias != NO_DB_ALIAS:
        from psycopg import errors

        try:
            _set_role(connection, role)
        except errors.InvalidParameterValue:
            # No such role in this cluster: tenancy's row-level security migration, which creates
            # it with the policies, has not run here, so there are no policies to apply yet.
            logger.warning("Database role %r does not exist yet; run `manage.py migrate`.", role)


def after_rollback(connection) -> None:
    """A rolled-back transaction or savepoint also rolls back GUCs set inside it: what the
    session holds is unknown, so the next statement writes the scope again."""
    connection._inkwell_session_settings = None


@contextlib.contextmanager
def database_owner():
    """Run as the connecting user (the tables' owner) instead of the app role, in bypass:
    schema changes (``migrate``) and ``flush`` (TRUNCATE) only."""
    global _owner_depth
    _owner_depth += 1
    try:
        if _owner_depth == 1 and app_role():
            for connection in connections.all(initialized_only=True):
                if _is_postgresql(connection) and connection.connection is not None:
                    _set_role(connection, None)
        with rls_bypass(reason="database owner: migrate / flush"):
            yield
    finally:
        _owner_depth -= 1
        if _owner_depth == 0 and app_role():
            for connection in connections.all(initialized_only=True):
                if _is_postgresql(connection) and connection.connection is not None:
                    _set_role(connection, app_role())


# --- migrations -----------------------------------------------------------------------------


def policy_clauses(column: str, *, include_global: bool, once: bool = False) -> tuple[str, str]:
    """The wall's ``USING`` and ``WITH CHECK`` conditions for a table keyed by ``column`` (one
    definition for every table), in one of two forms that admit the same rows.

    Per row (the default): ``current_setting``, ``string_to_array`` and the cast are in the
    condition, evaluated for every row it filters, and visible to the planner as an expression.
    ``once``: each setting is read in a scalar subquery, which PostgreSQL runs once per
    statement (an InitPlan); each row then compares its key with an array already made. On the
    daily rollups the reports read (an index range of one tenant, filtered by the wall row by
    row) that took a year's cost report by model 26.5 -> 16.3 ms and the failures report's
    statement 1.2 -> 0.9 ms at 1M (docs/scale-plan.md). It is not every table's form: the planner
    cannot see through the subquery, and for plans that lean on its estimate of the wall it chose
    worse ones (the generations search, a parallel walk ten times slower; the rate-limit report's
    join of the per-user rollups, 60 % slower over 90 days with a low threshold).
    """
    from psycopg import sql

    key = sql.Identifier(column).as_string()
    bypass_setting = f"current_setting('{GUC_BYPASS}', true)"
    organizations = (
        f"string_to_array(nullif(current_setting('{GUC_ORGANIZATIONS}', true), ''), ',')::bigint[]"
    )
    if once:
        # ``ANY ((SELECT …)::bigint[])``: the cast makes the subquery an array expression;
        # ``ANY ((SELECT …))`` would be ``ANY`` over the subquery's rows.
        bypass = f"(SELECT {bypass_setting}) = 'on'"
        member = f"{key} = ANY ((SELECT {organizations})::bigint[])"
    else:
        bypass = f"{bypass_setting} = 'on'"
        member = f"{key} = ANY ({organizations})"
    visible = f"{bypass} OR {member}"
    if include_global:
        visible += f" OR {key} IS NULL"
    return visible, f"{bypass} OR {member}"


def policy_sql(table: str, *, column: str = "organization_id", include_global: bool = False) -> list[str]:
    """The statements that put ``table`` behind the wall (:func:`policy_clauses`, per row)."""
    from psycopg import sql

    visible, check = policy_clauses(column, include_global=include_global)
    quoted = sql.Identifier(table).as_string()
    return [
        f"ALTER TABLE {quoted} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {quoted} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY {POLICY_NAME} ON {quoted} USING ({visible}) WITH CHECK ({check})",
    ]


def alter_policy_sql(table: str, *, column: str, include_global: bool, once: bool) -> str:
    """The statement that rewrites ``table``'s wall in the given form (:func:`policy_clauses`)."""
    from psycopg import sql

    visible, check = policy_clauses(column, include_global=include_global, once=once)
    quoted = sql.Identifier(table).as_string()
    return f"ALTER POLICY {POLICY_NAME} ON {quoted} USING ({visible}) WITH CHECK ({check})"


def drop_policy_sql(table: str) -> list[str]:
    from psycopg import sql

    quoted = sql.Identifier(table).as_string()
    return [
        f"DROP POLICY IF EXISTS {POLICY_NAME} ON {quoted}",
        f"ALTER TABLE {quoted} NO FORCE ROW LEVEL SECURITY",
        f"ALTER TABLE {quoted} DISABLE ROW LEVEL SECURITY",
    ]


class _WallOperation(Operation):
    """A migration operation on one model's wall: which model, its key column, global rows."""

    reduces_to_sql = True
    reversible = True

    def __init__(self, model_name: str, *, include_global: bool = False, column: str = "organization_id"):
        self.model_name = model_name
        self.include_global = include_global
        self.column = column

    def deconstruct(self):
        kwargs = {}
        if self.include_global:
            kwargs["include_global"] = True
        if self.column != "organization_id":
            kwargs["column"] = self.column
        return self.__class__.__qualname__, [self.model_name], kwargs

    def state_forwards(self, app_label, state):
        pass  # the database changes, Django's model state does not

    def _table(self, app_label, state):
        return state.apps.get_model(app_label, self.model_name)._meta.db_table


class EnableRowLevelSecurity(_WallOperation):
    """Migration operation: put a model's table behind the tenant wall; reversible.

    ``EnableRowLevelSecurity("campaign")`` in the app's migration (after the one that creates
    the table). ``include_global=True`` for models whose rows may have no organization (shared
    rows every tenant reads and none writes); ``column`` for a key named otherwise. The wall is
    in the per-row form; :class:`ReadRowScopeOnce` rewrites it in the other.
    """

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in policy_sql(
            self._table(app_label, to_state), column=self.column, include_global=self.include_global
        ):
            schema_editor.execute(statement)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in drop_policy_sql(self._table(app_label, from_state)):
            schema_editor.execute(statement)

    def describe(self):
        return f"Enable row-level security on {self.model_name}"

    @property
    def migration_name_fragment(self):
        return f"rls_{self.model_name.lower()}"


class ReadRowScopeOnce(_WallOperation):
    """Migration operation: rewrite a walled model's policy to read the row scope once per
    statement (:func:`policy_clauses`' ``once`` form; backwards: per row again). Same arguments as
    the :class:`EnableRowLevelSecurity` that walled it. For tables whose every read is a tenant's
    index range (the report rollups), where the wall's cost is its evaluation per row."""

    def _rewrite(self, app_label, schema_editor, state, *, once: bool) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(
            alter_policy_sql(
                self._table(app_label, state),
                column=self.column,
                include_global=self.include_global,
                once=once,
            )
        )

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        self._rewrite(app_label, schema_editor, to_state, once=True)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        self._rewrite(app_label, schema_editor, from_state, once=False)

    def describe(self):
        return f"Read the row scope once per statement in the wall of {self.model_name}"

    @property
    def migration_name_fragment(self):
        return f"wall_once_{self.model_name.lower()}"


def grant_app_role_sql(role: str) -> list[str]:
    """Create the app role if missing (race-safe: parallel test workers share a server) and let
    it read and write every table and sequence of ``public``; nothing else."""
    from psycopg import sql

    quoted = sql.Identifier(role).as_string()
    literal = sql.Literal(role).as_string()
    return [
        "DO $$ BEGIN "
        f"CREATE ROLE {quoted} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE; "
        "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
        # The connecting user must be a member to SET ROLE (superusers need not be).
        "DO $$ BEGIN "  # noqa: S608 - identifiers and literals quoted by psycopg
        "IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) "
        f"AND NOT pg_has_role(current_user, {literal}, 'MEMBER') THEN "
        f"EXECUTE 'GRANT ' || quote_ident({literal}) || ' TO ' || quote_ident(current_user); END IF; "
        "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
        f"GRANT USAGE ON SCHEMA public TO {quoted}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {quoted}",
    ]


def grant_app_role(using: str = DEFAULT_DB_ALIAS) -> None:
    """Grant the app role on every table (post_migrate: tables made by any later migration)."""
    role = app_role()
    connection = connections[using]
    if not role or not _is_postgresql(connection):
        return
    with connection.cursor() as cursor:
        for statement in grant_app_role_sql(role):
            cursor.execute(statement)


class CreateAppRole(Operation):
    """Migration operation: the non-superuser role the app runs as, with DML grants.

    Reversing revokes this database's grants; the role itself is cluster-wide (other databases
    on the server may use it) and is left in place.
    """

    reduces_to_sql = True
    reversible = True

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        role = app_role()
        if schema_editor.connection.vendor != "postgresql" or not role:
            return
        for statement in grant_app_role_sql(role):
            schema_editor.execute(statement)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        from psycopg import sql

        role = app_role()
        if schema_editor.connection.vendor != "postgresql" or not role:
            return
        quoted = sql.Identifier(role).as_string()
        schema_editor.execute(
            "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = "  # noqa: S608 - quoted by psycopg
            f"{sql.Literal(role).as_string()}) THEN "
            f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {quoted}; "
            f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {quoted}; END IF; END $$"
        )

    def describe(self):
        return "Create the app's non-superuser database role and grant it DML"
