"""Production settings refuse weak secrets and pass ``check --deploy``; development needs no .env."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STRONG = "k" * 20 + "-a-long-random-production-value-0123456789"


def manage(*args, **env):
    unset = {"SECRET_KEY", "CRYPTOGRAPHY_KEY", "FINGERPRINT_KEY", "DATABASE_PREPARED_STATEMENTS"}
    environment = {k: v for k, v in os.environ.items() if k not in unset}
    # A server that is never contacted: these commands must not need a database.
    environment.update(DATABASE_URL="postgresql://nobody@127.0.0.1:1/none", **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("secret_key", "cryptography_key", "missing"),
    [
        (None, STRONG, "SECRET_KEY"),
        ("short", STRONG, "SECRET_KEY"),
        ("django-insecure-" + "x" * 60, STRONG, "SECRET_KEY"),
        (STRONG, None, "CRYPTOGRAPHY_KEY"),
        (STRONG, "change-me", "CRYPTOGRAPHY_KEY"),
        (STRONG, STRONG[::-1], "FINGERPRINT_KEY"),
    ],
)
def test_production_refuses_to_start_without_real_secrets(secret_key, cryptography_key, missing):
    env = {"DJANGO_SETTINGS_MODULE": "config.settings.production"}
    if missing != "FINGERPRINT_KEY":
        env["FINGERPRINT_KEY"] = STRONG + "-fingerprint"
    if secret_key is not None:
        env["SECRET_KEY"] = secret_key
    if cryptography_key is not None:
        env["CRYPTOGRAPHY_KEY"] = cryptography_key
    result = manage("check", **env)
    assert result.returncode != 0
    assert f"{missing} must be set" in result.stderr


def test_production_settings_pass_check_deploy():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY=STRONG,
        CRYPTOGRAPHY_KEY=STRONG[::-1],
        FINGERPRINT_KEY=STRONG + "-fingerprint",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(("setting", "threshold"), [(None, "5"), ("true", "5"), ("false", "None")])
def test_database_prepared_statements_sets_psycopgs_prepare_threshold(setting, threshold):
    """On by default (the single ingest's INSERT is prepared once per connection); false gives
    Django's own None back, for a transaction-mode pooler that cannot keep prepared statements."""
    env = {} if setting is None else {"DATABASE_PREPARED_STATEMENTS": setting}
    show = (
        "from django.conf import settings; "
        "print(settings.DATABASES['default'].get('OPTIONS', {}).get('prepare_threshold'))"
    )
    result = manage("shell", "-c", show, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == threshold
