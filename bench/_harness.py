"""Helpers the benchmarks share: the production environment a throwaway server runs with,
starting, stopping and interrupting that server, attaching to a build ``bench/scale.py`` kept, a
request to the WSGI application in-process, and the percentiles every bench prints."""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def production_env(pgdata: Path, *, settings: str = "config.settings.production") -> dict[str, str]:
    """Environment for gunicorn and the bench process: production settings (DEBUG off,
    persistent connections) on the embedded PostgreSQL in ``pgdata``, throttling out of the way."""
    return {
        "DJANGO_SETTINGS_MODULE": settings,
        "SECRET_KEY": secrets.token_urlsafe(64),
        "CRYPTOGRAPHY_KEY": secrets.token_urlsafe(64),
        "FINGERPRINT_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "SECURE_SSL_REDIRECT": "false",
        "EMBEDDED_PGDATA": str(pgdata),
        "API_THROTTLE_RATE": "100000000/min",
        "CONN_MAX_AGE": "60",
        "LOG_LEVEL": "WARNING",
    }


def attach_kept_build(parser, pgdata: Path) -> None:
    """Set up Django on the production settings (``bench.scale_settings``) over a database that
    ``bench/scale.py --keep`` built and left running in ``pgdata``; a directory holding no database
    is the command line's error (``parser.error``)."""
    if not (pgdata / "PG_VERSION").exists():
        parser.error(f"{pgdata} holds no database: build one with bench/scale.py --build-only --keep")
    os.environ.update(production_env(pgdata, settings="bench.scale_settings"))
    import django

    django.setup()


def kept_build_tenants() -> list[tuple[str, int, int]]:
    """The kept build's biggest tenant and a median one, as ``bench/scale.py`` picks them (the
    median of the organizations with rows, by key): ``(label, organization key, generations)``.
    After :func:`attach_kept_build`."""
    from django.db import connection

    from tenancy import rls

    with rls.database_owner(), connection.cursor() as cursor:
        cursor.execute("SELECT organization_id, count(*) FROM generations_generation GROUP BY 1 ORDER BY 1")
        counts = dict(cursor.fetchall())
    ranked = sorted(counts)
    biggest, median = max(counts, key=counts.get), ranked[len(ranked) // 2]
    return [("biggest", biggest, counts[biggest]), ("median", median, counts[median])]


def start_gunicorn(port: int, env: dict) -> subprocess.Popen:
    """gunicorn with 2 sync workers on ``127.0.0.1:port`` (what every bench measures through)."""
    command = [
        str(ROOT / ".venv/bin/gunicorn"),
        "config.wsgi",
        "--workers",
        "2",
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "--timeout",
        "300",
    ]
    return subprocess.Popen(command, cwd=ROOT, env=env)  # noqa: S603 - our own fixed command line


def stop_server(server: subprocess.Popen, timeout: float = 30) -> None:
    """Stop ``server`` gracefully (SIGTERM), killed when it has not exited after ``timeout`` s."""
    if server.poll() is not None:
        return
    server.terminate()
    try:
        server.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _interrupted(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def end_on_signals() -> None:
    """Make SIGTERM and SIGHUP end the run like Ctrl-C (by default they would skip ``finally``
    and atexit and leave the server running), and Ctrl-C work even when started in the
    background."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupted)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def wsgi_call(
    application, method: str, path: str, *, api_key: str, query: str = "", body: bytes = b""
) -> tuple[str, bytes]:
    """One request to a WSGI ``application`` in this process, as gunicorn's worker would make
    it, without sockets (``bench/profile_post.py``, ``profile_report.py``, ``gc_pauses.py``):
    authenticated with ``api_key``, a JSON ``body`` when given. Returns (status line, body)."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_AUTHORIZATION": f"Api-Key {api_key}",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    if body:
        environ["CONTENT_TYPE"] = "application/json"
        environ["CONTENT_LENGTH"] = str(len(body))
    statuses: list[str] = []
    response = application(environ, lambda status, headers, exc_info=None: statuses.append(status))
    try:
        content = b"".join(response)
    finally:
        response.close()
    return statuses[0], content


def percentile(samples: list[float], q: float) -> float:
    """The ``q`` quantile (0-1) of ``samples``: the sample nearest that rank, none interpolated."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def box_speed() -> str:
    """How fast this machine is right now, so a run's absolute figures can be read beside
    another's: the seconds ``sum(range(10**8))`` takes in this process (1.09-1.17 s on the box
    of the sixteen-of-seventeen 10M run, 2-3 s on the slow ones, whose floor and every rate
    moved with it) and the kernel's pressure over the last five minutes (``/proc/pressure``:
    the share of time some task waited for a CPU, and all tasks for I/O), when it has them."""
    began = time.perf_counter()
    sum(range(10**8))
    seconds = time.perf_counter() - began
    pressure = []
    for label, name, line in (("CPU", "cpu", "some"), ("I/O", "io", "full")):
        try:
            rows = Path(f"/proc/pressure/{name}").read_text().splitlines()
        except OSError:
            continue
        for kind, *averages in (row.split() for row in rows):
            if kind == line:
                pressure.append(f"{label} {line} {dict(a.split('=', 1) for a in averages)['avg300']} %")
    measured = f"`sum(range(10**8))` {seconds:.2f} s"
    return measured + (f" (pressure over 5 min: {', '.join(pressure)})" if pressure else "")


# The bench's two retention phases (bench/scale.py, repeated on a kept build by
# bench/retention_trials.py): a tenant of 20-200k generations shortens its own policy to 30 days,
# and the nightly run keeps every target 364 days, so each organization's oldest day expires.
RETENTION_TENANT_GENERATIONS = (20_000, 200_000)
RETENTION_TENANT_DAYS = 30
RETENTION_NIGHTLY_DAYS = 364


def shorten_retention(organization, days: int = RETENTION_TENANT_DAYS) -> None:
    """Shorten ``organization``'s retention of generations, provider calls and metrics to ``days``
    (its failed generations and empty runs keep the platform's), as a tenant's own cleanup
    preferences would."""
    from analytics.models import CleanupPreferences

    shortened = ("generations_days", "provider_calls_days", "performance_metrics_days")
    CleanupPreferences.objects.update_or_create(
        organization=organization, defaults=dict.fromkeys(shortened, days)
    )


def nightly_retention_policy() -> dict[str, int]:
    """The platform's policy of the nightly phase (for ``override_settings(RETENTION_POLICY=…)``)."""
    from django.conf import settings

    return dict.fromkeys(settings.RETENTION_POLICY, RETENTION_NIGHTLY_DAYS)


class StatementTimes:
    """Seconds and runs per statement (its first ``width`` characters, whitespace collapsed),
    summed over every connection it is installed on: a Django ``execute_wrapper``, thread-safe,
    so the connections of retention's worker threads share one (``bench/retention.py
    --profile``, ``bench/retention_trials.py --statements``). ``COMMIT`` is not a statement
    here: Django commits without its wrappers."""

    def __init__(self, width: int = 100):
        self.width = width
        self.spent: dict[str, list] = {}
        self._lock = threading.Lock()

    def __call__(self, execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            key = " ".join(sql.split())[: self.width]
            with self._lock:
                entry = self.spent.setdefault(key, [0, 0.0])
                entry[0] += 1
                entry[1] += time.perf_counter() - began

    def top(self, count: int) -> list[tuple[str, list]]:
        """The ``count`` statements that took longest: ``(sql, [runs, seconds])``."""
        return sorted(self.spent.items(), key=lambda item: -item[1][1])[:count]

    @contextlib.contextmanager
    def on_every_connection(self):
        """Time this thread's connection and every connection opened meanwhile (a worker
        thread's is opened by its first query, in that thread)."""
        from django.db import connection
        from django.db.backends.signals import connection_created

        def install(sender, connection, **kwargs):
            if self not in connection.execute_wrappers:
                connection.execute_wrappers.append(self)

        connection_created.connect(install, weak=False, dispatch_uid=id(self))
        install(None, connection)
        try:
            yield self
        finally:
            connection_created.disconnect(dispatch_uid=id(self))
            if self in connection.execute_wrappers:
                connection.execute_wrappers.remove(self)
