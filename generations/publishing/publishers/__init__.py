"""Registry of publishers, one per platform (adding a platform is adding one module here).

``publisher_for(platform)`` is how services find the publisher; a platform with none refuses
scheduling. The built-in publishers register on import of this package.
"""

from __future__ import annotations

from generations.publishing.publishers.base import AccountSecrets, Delivery, Outcome, Publisher

_PUBLISHERS: dict[str, Publisher] = {}


def register(publisher: Publisher) -> Publisher:
    """Make ``publisher`` the one for its platform."""
    _PUBLISHERS[publisher.platform] = publisher
    return publisher


def publisher_for(platform: str) -> Publisher | None:
    """The publisher of ``platform``, or None when it has none yet."""
    return _PUBLISHERS.get(platform)


def supported_platforms() -> list[str]:
    return sorted(_PUBLISHERS)


from generations.publishing.publishers import webhook  # noqa: E402 - registers the webhook publisher

__all__ = ["AccountSecrets", "Delivery", "Outcome", "Publisher", "publisher_for", "register", "webhook"]
