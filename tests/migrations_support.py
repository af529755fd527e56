"""Moving the test database between migration states, for the tests of data migrations."""

from __future__ import annotations

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tenancy import rls


def migrate(targets) -> None:
    """Migrate to ``targets`` as ``manage.py migrate`` does: as the tables' owner (schema changes
    are the owner's, not the app role's), then the app role's grants made again, as its
    ``post_migrate`` does for the tables a migration created."""
    with rls.database_owner():
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(targets)
        rls.grant_app_role()


def migrate_to_latest() -> None:
    """Back to every app's latest migration."""
    migrate(list(MigrationExecutor(connection).loader.graph.leaf_nodes()))
