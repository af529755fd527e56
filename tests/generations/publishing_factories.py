"""Builders for publishing rows, through the services (so secrets are encrypted as in production)."""

from __future__ import annotations

from generations.publishing import services
from generations.publishing.choices import Platform

SIGNING_SECRET = "whsec_test_signing_secret_0123456789"


def webhook_account(organization, url: str, *, handle: str = "hook", **fields):
    """An active webhook account of ``organization`` delivering to ``url``."""
    secrets = {"signing_secret": SIGNING_SECRET, **fields.pop("secrets", {})}
    return services.social_account_create(
        organization=organization,
        platform=Platform.WEBHOOK,
        handle=handle,
        webhook_url=url,
        secrets=secrets,
        **fields,
    )
