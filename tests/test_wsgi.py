"""The WSGI module gunicorn loads (``config.wsgi``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_loaded_application_is_frozen_out_of_the_garbage_collectors_passes():
    """Importing ``config.wsgi`` loads the URL configuration (every view it routes to) and then
    freezes what is loaded: the collector's full passes scan only what requests leave behind
    (``bench/gc_pauses.py`` on ``GET models/``: ~210 ms a pass with the loaded objects, ~7 ms
    without). Nothing connects to the database while loading."""
    probe = (
        "import gc, sys\n"
        "import config.wsgi\n"
        "print(gc.get_freeze_count(), 'generations.api.views' in sys.modules, len(gc.get_objects()))\n"
    )
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        # Never connected to: loading the application must not touch the database.
        "DATABASE_URL": "postgres://nobody@127.0.0.1:9/none",
    }
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    frozen, views_loaded, tracked = result.stdout.split()
    assert views_loaded == "True"
    # The loaded application is tens of thousands of objects; what is left tracked is the few
    # made after the freeze.
    assert int(frozen) > 50_000
    assert int(tracked) < int(frozen) // 10
