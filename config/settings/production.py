"""Production: refuses to start without real secrets, and passes ``manage.py check --deploy``."""

import environ
from django.core.exceptions import ImproperlyConfigured


def _required_secret(name: str) -> str:
    # Checked before base.py is imported, so a misconfigured deploy fails before touching a database.
    value = environ.Env()(name, default="")
    if not value or value.startswith("django-insecure") or value == "change-me" or len(value) < 50:
        raise ImproperlyConfigured(
            f"{name} must be set to a random value of at least 50 characters in production "
            f"(python -c 'import secrets; print(secrets.token_urlsafe(64))')."
        )
    return value


_SECRET_KEY = _required_secret("SECRET_KEY")
_CRYPTOGRAPHY_KEY = _required_secret("CRYPTOGRAPHY_KEY")
_FINGERPRINT_KEY = _required_secret("FINGERPRINT_KEY")

from .base import *  # noqa: E402, F403
from .base import env  # noqa: E402

SECRET_KEY = _SECRET_KEY
CRYPTOGRAPHY_KEY = _CRYPTOGRAPHY_KEY
FINGERPRINT_KEY = _FINGERPRINT_KEY
DEBUG = False

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"
