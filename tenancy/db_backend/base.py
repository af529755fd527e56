"""``ENGINE = "tenancy.db_backend"``: Django's PostgreSQL backend plus the row-level security hooks.

Each new connection does ``SET ROLE`` to the app role (no superuser, no BYPASSRLS) so the tenant
policies apply even when ``DATABASE_URL`` (or the embedded server) logs in as a superuser; what
its session holds is unknown until the first write. Before each statement the session is given
the row scope the code is in, if it does not hold it already (``rls.before_statement``): from
Django's execute hook, when a cursor is opened, and from the cursor methods that send a statement
without Django's hook (``copy``, ``callproc``, ``stream``; the one ``generations.services.copy_writer``
uses is the psycopg cursor's own ``copy``). Rollbacks, of transactions and savepoints, make the
next statement write it again, since PostgreSQL rolls back GUCs set inside them.

:meth:`DatabaseWrapper.prepared_cursor` gives a cursor whose statements PostgreSQL parses and plans
once per connection (the single ingest's INSERT: ~6 % more single POSTs a second through gunicorn).
Only where asked: Django keeps prepared statements off (``prepare_threshold`` None) for poolers
that cannot keep them, and ``DATABASE_PREPARED_STATEMENTS=false`` gives that back.

psycopg keeps its parse of a statement's text (the ``%s`` placeholders found and numbered) in a
cache, but only for texts of at most 4,096 bytes (and 50 parameters). A single ingest is one
statement (the row's INSERT with its rollup deltas as CTEs, ``tenancy.idempotency.WrittenWith``):
6,179 bytes for a generation and 7,114 for a provider call since the coarser rollups are grouped
from the finest one's rows in SQL (4,320 and 5,192 before), so psycopg would split it again on
every POST (~250 µs of a generation POST's ~2.4 ms of CPU, measured by ``bench/profile_post.py``).
This project's statement texts are few and made by its own code, so the bound is raised to
:data:`CACHED_STATEMENT_BYTES` (the cache keeps 128 texts: 2 MB at worst).
``tests/tenancy/test_db_backend.py`` checks the ingest's statement is served from that cache.
"""

from django.db.backends.postgresql import base, operations
from psycopg import _queries as psycopg_queries
from psycopg import errors

from tenancy import rls

CACHED_STATEMENT_BYTES = 16_384
# A private constant of psycopg's (pinned in requirements.txt), read on every execute.
psycopg_queries.MAX_CACHED_STATEMENT_LENGTH = max(
    psycopg_queries.MAX_CACHED_STATEMENT_LENGTH, CACHED_STATEMENT_BYTES
)


def _in_row_scope(execute, sql, params, many, context):
    rls.before_statement(context["connection"])
    return execute(sql, params, many, context)


class _StatementsInRowScope:
    """A psycopg cursor whose statements that Django's execute hook does not see (a COPY, a
    procedure call, a streamed query) go out under the scope the code is in, like the rest."""

    _inkwell_database = None  # the DatabaseWrapper that made the cursor (set by create_cursor)

    def _in_row_scope(self):
        if self._inkwell_database is not None:
            rls.before_statement(self._inkwell_database)

    def copy(self, *args, **kwargs):
        self._in_row_scope()
        return super().copy(*args, **kwargs)

    def callproc(self, *args, **kwargs):
        self._in_row_scope()
        return super().callproc(*args, **kwargs)

    def stream(self, *args, **kwargs):
        self._in_row_scope()
        return super().stream(*args, **kwargs)


class Cursor(_StatementsInRowScope, base.Cursor):
    pass


class ServerBindingCursor(_StatementsInRowScope, base.ServerBindingCursor):
    pass


class PreparedCursor(ServerBindingCursor):
    """Server-side binding, and each statement prepared on its first run on the connection
    (PostgreSQL parses and plans it once; later runs send only its name and values)."""

    def execute(self, query, params=None, *, prepare=True, binary=None):
        return super().execute(query, params, prepare=prepare, binary=binary)


class DatabaseOperations(operations.DatabaseOperations):
    """Django's, with the query log of prepared statements."""

    def last_executed_query(self, cursor, sql, params):
        # Django reads the text a client-binding cursor sent; a prepared one sent a name and
        # values, so the query log (DEBUG, assertNumQueries) shows the statement as composed.
        if isinstance(cursor, PreparedCursor):
            try:
                return self.compose_sql(sql, params)
            except errors.DataError:
                return None
        return super().last_executed_query(cursor, sql, params)


_IN_ROW_SCOPE = {base.Cursor: Cursor, base.ServerBindingCursor: ServerBindingCursor}


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Django's hook around every statement of every cursor; first, so it wraps the others.
        self.execute_wrappers.append(_in_row_scope)

    def get_connection_params(self):
        params = super().get_connection_params()
        params["cursor_factory"] = _IN_ROW_SCOPE.get(params["cursor_factory"], params["cursor_factory"])
        return params

    def prepared_cursor(self):
        """A cursor like :meth:`cursor`'s whose statements are prepared (:class:`PreparedCursor`)."""
        self.close_if_health_check_failed()
        self.ensure_connection()
        raw = self.connection
        default = raw.cursor_factory
        raw.cursor_factory = PreparedCursor
        try:
            return self.cursor()
        finally:
            raw.cursor_factory = default

    def init_connection_state(self):
        super().init_connection_state()
        rls.on_new_connection(self)

    def create_cursor(self, name=None):
        rls.before_statement(self)
        cursor = super().create_cursor(name)
        cursor._inkwell_database = self
        return cursor

    def _savepoint_rollback(self, sid):
        super()._savepoint_rollback(sid)
        rls.after_rollback(self)

    def _rollback(self):
        super()._rollback()
        rls.after_rollback(self)
