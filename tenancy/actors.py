"""Who is acting: the user or API key behind a request, passed to services for the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from tenancy.models import OrganizationAPIKey


@dataclass(frozen=True)
class Actor:
    """The author of a write: a staff user, an API key, or the system (both empty)."""

    user: AbstractBaseUser | None = None
    api_key: OrganizationAPIKey | None = None
    request_id: str = ""

    @property
    def label(self) -> str:
        if self.api_key is not None:
            return f"api-key:{self.api_key.prefix}"
        if self.user is not None:
            return f"user:{self.user.get_username()}"
        return "system"


SYSTEM = Actor()


def actor_from_request(request) -> Actor:
    """Build the actor of a DRF or Django request (API key first, then the logged-in user)."""
    from tenancy.models import OrganizationAPIKey

    auth = getattr(request, "auth", None)
    request_id = getattr(request, "request_id", "") or ""
    if isinstance(auth, OrganizationAPIKey):
        return Actor(api_key=auth, request_id=request_id)
    user = getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False) and hasattr(user, "get_username"):
        return Actor(user=user, request_id=request_id)
    return Actor(request_id=request_id)
