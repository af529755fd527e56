"""Production settings plus the bench's floor views (``bench/scale_urls.py``): what
``bench/scale.py`` starts gunicorn with, so product code stays untouched."""

from config.settings.production import *  # noqa: F403

ROOT_URLCONF = "bench.scale_urls"
