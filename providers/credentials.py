"""The one way code inside Inkwell obtains a provider API key in clear.

Nothing else decrypts credentials: not the API (``api_key`` is write-only), not the admin
(fingerprint and last four only), not the audit log. Call :func:`credential_secret` right
before calling the provider and do not keep, log or return the result.
"""

from __future__ import annotations

import hashlib

from providers.crypto import decrypt_secret
from providers.errors import CredentialUnusable
from providers.models import ProviderCredential


def fingerprint_of(api_key: str) -> str:
    """SHA-256 hex of a key: how usage rows and budgets name a credential without holding it."""
    return hashlib.sha256(api_key.encode()).hexdigest()


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
