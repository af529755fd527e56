"""The one small interface every platform's publisher implements."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from generations.publishing.models import ScheduledPost, SocialAccount


class Outcome(enum.Enum):
    PUBLISHED = "published"
    RETRY = "retry"  # a temporary failure: 429, 5xx, timeout, connection refused
    FAIL = "fail"  # the platform refused the post: retrying would not help


@dataclass(frozen=True)
class Delivery:
    """What one delivery attempt came to. ``error`` never contains a secret."""

    outcome: Outcome
    external_id: str = ""
    error: str = ""
    retry_after_seconds: float | None = None


@dataclass(frozen=True)
class AccountSecrets:
    """An account's decrypted secrets, handed to a publisher for one delivery and then dropped.

    Hidden from ``repr`` so a traceback or log line never shows them.
    """

    access_token: str | None = None
    refresh_token: str | None = None
    signing_secret: str | None = None

    def __repr__(self) -> str:
        return "AccountSecrets(…)"


class Publisher:
    """Delivers posts to one platform.

    Subclasses set ``platform``, may check an account in :meth:`account_errors`, and implement
    :meth:`publish`. Register an instance with ``generations.publishing.publishers.register``.
    """

    platform: ClassVar[str]

    def account_errors(self, account: SocialAccount) -> dict[str, str]:
        """Field → message for what the account lacks to publish on this platform."""
        return {}

    def publish(self, post: ScheduledPost, *, secrets: AccountSecrets, attempt: int) -> Delivery:
        """Deliver ``post`` once (``attempt`` counts from 1). Must not raise for remote failures:
        they are a :class:`Delivery` with :attr:`Outcome.RETRY` or :attr:`Outcome.FAIL`."""
        raise NotImplementedError
