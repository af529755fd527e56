"""The bench's own tools, which its figures rest on: the percentile it reports, the statement
timer of ``--statements``/``--profile`` (every worker connection counted, nothing left installed)
and where ``bench/retention_trials.py --migrate`` moves a kept build for a checkout."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from django.db import connection, connections
from django.db.migrations.loader import MigrationLoader

from bench._harness import StatementTimes, percentile
from bench.retention_trials import ROOT, migration_targets

PROJECT_APPS = ("analytics", "generations", "providers", "styleguides", "tenancy")


def test_percentile_is_the_nearest_ranked_sample_never_interpolated():
    samples = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert percentile(samples, 0.0) == 1.0
    assert percentile(samples, 0.5) == 3.0
    assert percentile(samples, 1.0) == 5.0
    assert percentile(samples, 0.95) == 5.0  # rank 3.8 rounds to the last sample
    assert percentile([1.0, 2.0], 0.5) in (1.0, 2.0)  # a sample, not 1.5
    assert percentile([7.0], 0.99) == 7.0


@pytest.mark.django_db(transaction=True)
def test_statement_times_sum_every_connection_opened_meanwhile_and_uninstall_after():
    timer = StatementTimes(width=20)
    with timer.on_every_connection():
        with connection.cursor() as cursor:
            cursor.execute("SELECT   1")  # whitespace collapsed in the key
            cursor.execute("SELECT 1")

        def worker() -> None:
            try:
                with connection.cursor() as cursor:  # this thread's own connection, opened here
                    cursor.execute("SELECT 1")
                    # A statement that takes the server real work (~0.1-0.3 s): the longest.
                    cursor.execute("SELECT count(*) FROM generate_series(1, 3000000)")
            finally:
                connections.close_all()

        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()

    assert timer.spent["SELECT 1"][0] == 3  # two on this connection, one on the worker's
    heavy = "SELECT count(*) FROM"  # the first 20 characters
    assert timer.spent[heavy][0] == 1
    # The worker's statement is timed into the same table and comes out on top.
    assert [sql for sql, _ in timer.top(1)] == [heavy]
    assert timer.spent[heavy][1] > timer.spent["SELECT 1"][1] > 0
    assert [sql for sql, _ in timer.top(5)] == [heavy, "SELECT 1"]

    assert timer not in connection.execute_wrappers  # nothing left installed
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert timer.spent["SELECT 1"][0] == 3


def newest(app_label: str) -> str:
    """This checkout's newest migration of ``app_label``."""
    (leaf,) = MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes(app_label)
    return leaf[1]


@pytest.fixture
def checkout(tmp_path) -> Path:
    """Another checkout's tree as ``--root`` names it: each project app's migrations, copied."""
    for app in PROJECT_APPS:
        shutil.copytree(ROOT / app / "migrations", tmp_path / app / "migrations")
    return tmp_path


@pytest.mark.django_db
def test_migration_targets_are_each_project_apps_newest_migration(checkout):
    assert dict(migration_targets(ROOT)) == {app: newest(app) for app in PROJECT_APPS}

    # An older checkout: analytics one migration behind.
    (checkout / "analytics" / "migrations" / f"{newest('analytics')}.py").unlink()
    targets = dict(migration_targets(checkout))
    previous = (
        MigrationLoader(None, ignore_no_migrations=True)
        .graph.node_map[("analytics", newest("analytics"))]
        .parents
    )
    assert {("analytics", targets["analytics"])} == {
        parent.key for parent in previous if parent.key[0] == "analytics"
    }
    assert {app: name for app, name in targets.items() if app != "analytics"} == {
        app: newest(app) for app in PROJECT_APPS if app != "analytics"
    }


@pytest.mark.django_db
def test_migration_targets_refuse_a_checkout_this_one_cannot_migrate_to(checkout):
    # A migration this checkout lacks: it could not be unapplied.
    (checkout / "analytics" / "migrations" / "9999_from_elsewhere.py").write_text("")
    with pytest.raises(SystemExit, match="analytics this checkout lacks"):
        migration_targets(checkout)
    (checkout / "analytics" / "migrations" / "9999_from_elsewhere.py").unlink()

    # No migration of an app at all: no single newest to move to.
    shutil.rmtree(checkout / "providers")
    with pytest.raises(SystemExit, match="no single newest migration of providers"):
        migration_targets(checkout)
