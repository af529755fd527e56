"""Production: refuses to start without real secrets, and passes ``manage.py check --deploy``."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import DEV_CRYPTOGRAPHY_KEY, DEV_SECRET_KEY, env

DEBUG = False


def _required_secret(name: str, development_default: str) -> str:
    value = env(name, default="")
    if not value or value == development_default or value.startswith("django-insecure") or len(value) < 50:
        raise ImproperlyConfigured(
            f"{name} must be set to a random value of at least 50 characters in production "
            f"(python -c 'import secrets; print(secrets.token_urlsafe(64))')."
        )
    return value


SECRET_KEY = _required_secret("SECRET_KEY", DEV_SECRET_KEY)
CRYPTOGRAPHY_KEY = _required_secret("CRYPTOGRAPHY_KEY", DEV_CRYPTOGRAPHY_KEY)

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
