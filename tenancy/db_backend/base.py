"""``ENGINE = "tenancy.db_backend"``: Django's PostgreSQL backend plus the row-level security hooks.

Each new connection does ``SET ROLE`` to the app role (no superuser, no BYPASSRLS) so the tenant
policies apply even when ``DATABASE_URL`` (or the embedded server) logs in as a superuser, and
starts admitting no tenant rows. Savepoint rollbacks re-apply the current row scope, since
PostgreSQL rolls back GUCs set inside them.
"""

from django.db.backends.postgresql import base

from tenancy import rls


class DatabaseWrapper(base.DatabaseWrapper):
    def init_connection_state(self):
        super().init_connection_state()
        rls.on_new_connection(self)

    def _savepoint_rollback(self, sid):
        super()._savepoint_rollback(sid)
        rls.after_savepoint_rollback(self)

    def _rollback(self):
        super()._rollback()
        rls.after_rollback(self)
