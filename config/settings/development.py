"""Local development: debug on, embedded PostgreSQL unless DATABASE_URL says otherwise."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
# Local receivers (a webhook on localhost) are the point of publishing in development.
PUBLISHING_ALLOW_PRIVATE_TARGETS = env.bool("PUBLISHING_ALLOW_PRIVATE_TARGETS", default=True)
