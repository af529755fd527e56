"""WSGI entry point (gunicorn config.wsgi). Production sets DJANGO_SETTINGS_MODULE explicitly."""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")

application = get_wsgi_application()

# What the process loaded to serve (the apps, the URL configuration and every view, serializer and
# model it imports: ~200,000 objects) lives as long as the process. Out of the garbage
# collector's sight, its full passes scan only what requests leave behind: on `GET models/`
# (`bench/gc_pauses.py`) a full pass took ~210 ms with them and ~7 ms without, and such a pass
# lands inside whichever request happens to be running.
get_resolver().url_patterns  # noqa: B018 - imports the URL configuration now, not on the first request
gc.collect()
gc.freeze()
