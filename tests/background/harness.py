"""Real moving parts for queue tests: a `manage.py procrastinate worker` subprocess on the test
database, a webhook receiver on 127.0.0.1, and polling with a deadline (never a fixed sleep)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

ROOT = Path(settings.BASE_DIR)
POLL_SECONDS = 0.05
# Far from any test run (1 January, 00:00 UTC): the commands' schedules stay quiet unless a test
# queues them itself.
QUIET_CRON = "0 0 1 1 *"
QUIET_COMMANDS = ("sync_model_prices", "purge_expired_cache", "rollup", "weekly_summaries", "apply_retention")


def wait_until(predicate, *, timeout: float = 20.0, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout}s waiting for {what}.")
        time.sleep(POLL_SECONDS)


def test_database_url() -> str:
    """The URL of the database this test runs on (the test database), for a subprocess."""
    db = connection.settings_dict
    # A Unix-socket directory goes in the query string (django-environ keeps it as an option).
    query = f"?host={quote(db['HOST'], safe='/')}&port={db['PORT']}" if db["HOST"].startswith("/") else ""
    netloc = "" if query else f"{db['HOST']}:{db['PORT']}"
    return f"postgres://{db['USER']}@{netloc}/{db['NAME']}{query}"


WORKER_ENV = {
    "WORKER_HEARTBEAT_SECONDS": "0.5",
    "WORKER_STALLED_SECONDS": "2",
    "WORKER_POLLING_SECONDS": "0.1",
    "WORKER_SHUTDOWN_GRACEFUL_TIMEOUT": "10",
    "BACKGROUND_STALLED_RECOVERY_CRON": "* * * * * *",  # every second
    "PUBLISHING_BACKOFF_BASE_SECONDS": "0.3",
    "PUBLISHING_BACKOFF_MAX_SECONDS": "5",
    "PUBLISHING_BACKOFF_JITTER": "0.2",
    "PUBLISHING_REQUEST_TIMEOUT_SECONDS": "5",
}


class Worker:
    """``manage.py procrastinate worker`` in a subprocess; its output goes to ``log``."""

    def __init__(self, *, queues: str = "", env: dict[str, str] | None = None, name: str = "worker"):
        self.name = name
        self._log = tempfile.NamedTemporaryFile(prefix=f"inkwell-{name}-", suffix=".log", delete=False)  # noqa: SIM115
        schedules = ",".join(f"{command}={QUIET_CRON}" for command in QUIET_COMMANDS)
        environment = {
            **os.environ,
            **WORKER_ENV,
            "PERIODIC_JOB_SCHEDULES": schedules,
            **(env or {}),
            "DATABASE_URL": test_database_url(),
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "PYTHONUNBUFFERED": "1",
        }
        command = [sys.executable, "manage.py", "procrastinate", "worker", f"--name={name}"]
        if queues:
            command.append(f"--queues={queues}")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=self._log, stderr=subprocess.STDOUT
        )

    @property
    def log(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def wait_started(self, timeout: float = 60.0) -> Worker:
        try:
            wait_until(
                lambda: "Starting worker" in self.log or self.process.poll() is not None,
                timeout=timeout,
                what=f"{self.name} to start",
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.log}") from None
        assert self.process.poll() is None, self.log
        return self

    def kill(self) -> None:
        """SIGKILL: the worker dies mid-job, as with a lost machine."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM: graceful shutdown; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode

    def close(self) -> None:
        self.stop()
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)


@dataclass
class Delivery:
    at: float
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook endpoint on 127.0.0.1 (random port) answering a script of statuses.

    ``statuses`` is consumed one per request, the last one repeating. A receiver that dedups
    (the default) answers a repeated ``Idempotency-Key`` 200 without counting it as new.
    ``hold`` makes the first request wait until it is set (a delivery "in flight").
    """

    statuses: list[int] = field(default_factory=lambda: [200])
    hold: threading.Event | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    published_keys: list[str] = field(default_factory=list)

    def __post_init__(self):
        receiver = self
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.deliveries.append(Delivery(time.monotonic(), dict(self.headers.items()), body))
                    index = len(receiver.deliveries) - 1
                    status = receiver.statuses[min(index, len(receiver.statuses) - 1)]
                if index == 0 and receiver.hold is not None:
                    receiver.hold.wait(timeout=60)
                key = self.headers.get("Idempotency-Key", "")
                answer = {"id": f"ext-{key}"}
                if 200 <= status < 300:
                    with receiver._lock:
                        if key in receiver.published_keys:
                            answer["duplicate"] = True
                        else:
                            receiver.published_keys.append(key)
                else:
                    answer = {"error": f"status {status}"}
                payload = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the worker died while we held its request

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()
