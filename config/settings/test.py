"""Test settings: a throwaway embedded PostgreSQL per test process unless DATABASE_URL is set."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from config.embedded_postgres import claim_scratch, sweep_stale_scratch

# Chosen before base.py builds DATABASES: a fresh data directory, deleted when pytest exits
# (pgserver stops the server and removes pgdata; this removes the folder around it afterwards).
# A process killed before its atexit runs (a crashed xdist worker) leaves its folder and server:
# every later test process sweeps those first, and the controller sweeps again when the session
# finishes (tests/conftest.py), both through the owner pid recorded in the folder.
if not os.environ.get("DATABASE_URL"):
    sweep_stale_scratch()
    _scratch = tempfile.mkdtemp(prefix="inkwell-test-")
    claim_scratch(Path(_scratch))
    atexit.register(shutil.rmtree, _scratch, ignore_errors=True)
    os.environ["EMBEDDED_PGDATA"] = str(Path(_scratch) / "pgdata")
    os.environ["EMBEDDED_PGDATA_THROWAWAY"] = "true"

from .base import *  # noqa: F403
from .base import INSTALLED_APPS

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast user creation
# A small tenant-owned model that exercises the shared tenancy machinery on its own.
INSTALLED_APPS = [*INSTALLED_APPS, "tests.testapp"]
# The live-server tests start gunicorn with a small rate to count against.
API_THROTTLE_RATE = env("API_THROTTLE_RATE", default="100000/min")  # noqa: F405
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
ROOT_URLCONF = "tests.testapp.api"
# The publishing tests deliver to a real receiver on 127.0.0.1 (the refusal has its own tests).
PUBLISHING_ALLOW_PRIVATE_TARGETS = True
