"""The one way code inside Inkwell obtains a provider API key in clear.

Nothing else decrypts credentials: not the API (``api_key`` is write-only), not the admin
(fingerprint and last four only), not the audit log. Call :func:`credential_secret` right
before calling the provider and do not keep, log or return the result.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings

from providers.crypto import decrypt_secret
from providers.errors import CredentialUnusable
from providers.models import ProviderCredential


def fingerprint_of(api_key: str) -> str:
    """How Inkwell names a provider key without holding it: credentials, usage rows, rollups and
    budgets all carry this.

    ``HMAC-SHA-256(FINGERPRINT_KEY, SHA-256 hex of the key)``. Keyed, so a stored or shown
    fingerprint cannot confirm a guessed key without the server's key (issue 11: an unsalted
    SHA-256 could); over the key's SHA-256 rather than the key, so a client that reports a call
    sends only that digest (never the key) and :func:`fingerprint_of_digest` gives the same name.
    """
    return fingerprint_of_digest(hashlib.sha256(api_key.encode()).hexdigest())


def fingerprint_of_digest(key_sha256: str) -> str:
    """The fingerprint of the key whose SHA-256 hex digest is ``key_sha256``: what clients send
    as ``key_fingerprint`` on provider calls (they cannot compute the HMAC; we do)."""
    return hmac.new(settings.FINGERPRINT_KEY.encode(), key_sha256.encode(), hashlib.sha256).hexdigest()


def credential_secret(*, credential: ProviderCredential) -> str:
    """The decrypted API key of a usable credential (active, not deleted, not expired).

    Raises ``CredentialUnusable`` for any other credential and ``providers.crypto.
    SecretUnreadable`` when the configured keys cannot decrypt it (a rotation half done).
    """
    if not credential.is_usable:
        raise CredentialUnusable(
            f"Credential {credential.pk} is not usable (revoked, deleted or expired): its key is not used.",
            attr="credential",
        )
    return decrypt_secret(credential.api_key_encrypted)
