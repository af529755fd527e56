"""``ENGINE = "tenancy.db_backend"``: Django's PostgreSQL backend plus the row-level security hooks.

Each new connection does ``SET ROLE`` to the app role (no superuser, no BYPASSRLS) so the tenant
policies apply even when ``DATABASE_URL`` (or the embedded server) logs in as a superuser, and
starts admitting no tenant rows. Before each statement, and when a cursor is opened (a COPY
goes through the cursor without a statement of Django's), the session is given the row scope
the code is in, if it does not hold it already (``rls.before_statement``). Rollbacks, of
transactions and savepoints, make the next statement write it again, since PostgreSQL rolls
back GUCs set inside them.
"""

from django.db.backends.postgresql import base

from tenancy import rls


def _in_row_scope(execute, sql, params, many, context):
    rls.before_statement(context["connection"])
    return execute(sql, params, many, context)


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Django's hook around every statement of every cursor; first, so it wraps the others.
        self.execute_wrappers.append(_in_row_scope)

    def init_connection_state(self):
        super().init_connection_state()
        rls.on_new_connection(self)

    def create_cursor(self, name=None):
        rls.before_statement(self)
        return super().create_cursor(name)

    def _savepoint_rollback(self, sid):
        super()._savepoint_rollback(sid)
        rls.after_rollback(self)

    def _rollback(self):
        super()._rollback()
        rls.after_rollback(self)
