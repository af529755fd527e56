"""A real server for tests that need one: gunicorn with two workers on the test database,
reached through a TCP relay the test can cut and restore (a database that goes away under a
running server, then comes back).

The relay is a plain byte pump between a localhost port and the embedded PostgreSQL's Unix
socket: cutting it closes every open connection and refuses new ones, exactly what the workers
see when the server stops.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import selectors
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
STARTUP_DEADLINE_SECONDS = 60


class DatabaseRelay:
    """Forwards 127.0.0.1:<port> to the test database; ``cut()`` and ``restore()`` it."""

    def __init__(self, settings_dict: dict):
        host, port = settings_dict["HOST"], settings_dict["PORT"] or "5432"
        self.unix_path = str(Path(host) / f".s.PGSQL.{port}") if host.startswith("/") else None
        self.tcp_target = None if self.unix_path else (host or "127.0.0.1", int(port))
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self.port = self._listen(0)

    def _listen(self, port: int) -> int:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return listener.getsockname()[1]

    def _upstream(self) -> socket.socket:
        if self.unix_path:
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.unix_path)
        else:
            upstream = socket.create_connection(self.tcp_target)
        return upstream

    def _accept(self, listener: socket.socket):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            upstream = self._upstream()
            with self._lock:
                self._sockets |= {client, upstream}
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket):
        selector = selectors.DefaultSelector()
        selector.register(a, selectors.EVENT_READ, b)
        selector.register(b, selectors.EVENT_READ, a)
        try:
            while True:
                for key, _ in selector.select():
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            selector.close()
            for sock in (a, b):
                with contextlib.suppress(OSError):
                    sock.close()

    def cut(self):
        """The database is gone: refuse new connections and drop the open ones."""
        # shutdown() first: close() alone does not wake a thread blocked in accept().
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
            self._sockets.clear()

    def restore(self):
        self._listen(self.port)


class Gunicorn:
    """``gunicorn config.wsgi --workers 2`` on a free port, its access log naming each worker."""

    def __init__(self, *, database_url: str, workdir: Path, env: dict | None = None):
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.access_log = workdir / "access.log"
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": database_url,
            **(env or {}),
        }
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "--access-logfile",
                str(self.access_log),
                "--access-logformat",
                "%(p)s %(s)s %(U)s",
            ],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=open(workdir / "gunicorn.err", "w"),  # noqa: SIM115 - closed with the process
        )
        self._wait_until_serving()

    def _wait_until_serving(self):
        deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            with contextlib.suppress(OSError):
                if self.request("GET", "/api/v1/health/")[0] == 200:
                    return
            time.sleep(0.2)  # polling for readiness, not timing an assertion
        raise RuntimeError("gunicorn did not start serving in time")

    def request(self, method: str, path: str, *, key: str | None = None, body=None):
        """One request on a new connection (so either worker may take it): status, headers, JSON."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Api-Key {key}"
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        conn.close()
        content_type = response.getheader("Content-Type", "")
        data = json.loads(raw) if content_type.startswith("application/json") and raw else raw
        return response.status, dict(response.getheaders()), data

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def relayed_database_url(port: int) -> str:
    """DATABASE_URL of the current test database reached through a relay on ``port``."""
    settings_dict = connection.settings_dict
    user = settings_dict["USER"] or "postgres"
    password = f":{settings_dict['PASSWORD']}" if settings_dict["PASSWORD"] else ""
    return f"postgres://{user}{password}@127.0.0.1:{port}/{settings_dict['NAME']}"
