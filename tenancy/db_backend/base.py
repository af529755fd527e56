"""``ENGINE = "tenancy.db_backend"``: Django's PostgreSQL backend plus the row-level security hooks.

Each new connection does ``SET ROLE`` to the app role (no superuser, no BYPASSRLS) so the tenant
policies apply even when ``DATABASE_URL`` (or the embedded server) logs in as a superuser; what
its session holds is unknown until the first write. Before each statement the session is given
the row scope the code is in, if it does not hold it already (``rls.before_statement``): from
Django's execute hook, when a cursor is opened, and from the cursor methods that send a statement
without Django's hook (``copy``, ``callproc``, ``stream``; the one ``generations.services.copy_writer``
uses is the psycopg cursor's own ``copy``). Rollbacks, of transactions and savepoints, make the
next statement write it again, since PostgreSQL rolls back GUCs set inside them.
"""

from django.db.backends.postgresql import base

from tenancy import rls


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


_IN_ROW_SCOPE = {base.Cursor: Cursor, base.ServerBindingCursor: ServerBindingCursor}


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Django's hook around every statement of every cursor; first, so it wraps the others.
        self.execute_wrappers.append(_in_row_scope)

    def get_connection_params(self):
        params = super().get_connection_params()
        params["cursor_factory"] = _IN_ROW_SCOPE.get(params["cursor_factory"], params["cursor_factory"])
        return params

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
