"""Helpers the benchmarks share: the production environment a throwaway server runs with."""

from __future__ import annotations

import secrets
from pathlib import Path


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
