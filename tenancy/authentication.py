"""``Authorization: Api-Key <key>`` authentication for services.

Clients we do not write (OpenTelemetry exporters, the Langfuse SDK) cannot send our scheme, so
the endpoints they call also accept the same key as ``Bearer <key>`` or as the password of HTTP
Basic auth (the username is ignored). All three check the key the same way.

A verified key is remembered by prefix in Django's cache for :data:`API_KEY_CACHE_SECONDS`
(the row and its organization; the secret is still checked against the stored hash on every
request), so an authenticated call costs no query. The entry is forgotten whenever the key or
its organization is saved or deleted (revoked, rotated, expiry or role changed, organization
deactivated: ``post_save``/``post_delete``, wired in ``tenancy.apps``), at once and again when
the transaction commits. With the default per-process cache (``locmemcache://``) a revoked key
stops working at once in the process that revoked it and **within** ``API_KEY_CACHE_SECONDS``
**in the other workers**; with a shared cache (``CACHE_URL`` naming Redis) everywhere at once.
Expiry is checked against the clock on every request, cached or not.

``last_used_at`` is written at most once a minute per key and process (a conditional UPDATE
that does nothing when another process wrote it in that minute).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction
from rest_framework import authentication, exceptions

from tenancy import rls
from tenancy.models import OrganizationAPIKey
from tenancy.services import api_key_touch, api_key_touch_due
from tenancy.throttling import AuthenticationFailureThrottle

KEYWORD = "Api-Key"
# How long a verified key is answered from the cache: the most a revocation takes to reach a
# worker that does not share the cache with the one that revoked (see the module docstring).
API_KEY_CACHE_SECONDS = 60


def _cache_key(prefix: str) -> str:
    return f"tenancy:api-key:{prefix}"


def api_key_cached(prefix: str) -> OrganizationAPIKey | None:
    """The key row (with its organization) verified under ``prefix`` in the last minute."""
    return cache.get(_cache_key(prefix))


def api_key_remember(api_key: OrganizationAPIKey) -> None:
    """Cache a verified, valid key row for :data:`API_KEY_CACHE_SECONDS`."""
    cache.set(_cache_key(api_key.prefix), api_key, timeout=API_KEY_CACHE_SECONDS)


def api_keys_forget(prefixes) -> None:
    """Drop the cached rows of these keys now and, inside a transaction, again on commit (so a
    request that read the old row meanwhile cannot leave it cached)."""
    keys = [_cache_key(prefix) for prefix in prefixes]
    if not keys:
        return
    cache.delete_many(keys)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: cache.delete_many(keys))


def api_key_changed(sender, instance: OrganizationAPIKey, **_signal_arguments) -> None:
    """``post_save``/``post_delete`` of a key: revoked, rotated, expiry or role changed."""
    api_keys_forget([instance.prefix])


def organization_changed(sender, instance, **_signal_arguments) -> None:
    """``post_save``/``post_delete`` of an organization (deactivated): forget all its keys."""
    with rls.rls_bypass(reason="API key cache invalidation"):
        prefixes = list(
            OrganizationAPIKey.objects.filter(organization_id=instance.pk).values_list("prefix", flat=True)
        )
    api_keys_forget(prefixes)


@dataclass(frozen=True)
class APIKeyPrincipal:
    """``request.user`` for a call made with an API key: authenticated, but no person."""

    api_key: OrganizationAPIKey
    is_authenticated: bool = True
    is_anonymous: bool = False
    is_staff: bool = False
    is_superuser: bool = False
    pk: None = None

    def __str__(self):
        return f"api-key:{self.api_key.prefix}"


class OrganizationAPIKeyAuthentication(authentication.BaseAuthentication):
    """Authenticates an organization API key: unknown, revoked or expired keys are a 401.

    Failures are counted per client address (``API_AUTH_FAILURE_RATE``); an address past the
    limit gets 429 with ``Retry-After`` for every key it sends until the window ends, so keys
    cannot be guessed at request speed.
    """

    keyword = KEYWORD

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None  # another scheme; let the next authenticator look
        failures = AuthenticationFailureThrottle(request)
        try:
            return self.authenticate_key(self.key_from(credentials.strip()), failures)
        except exceptions.AuthenticationFailed:
            if failures.record_failure():
                raise exceptions.Throttled(
                    wait=failures.wait(), detail="Too many failed authentications."
                ) from None
            raise

    def key_from(self, credentials: str) -> str:
        """The API key carried by the credentials part of the header."""
        return credentials

    def authenticate_key(self, key: str, failures: AuthenticationFailureThrottle):
        """``(principal, api_key)`` for a valid key; AuthenticationFailed (401) otherwise."""
        prefix, dot, _ = key.partition(".")
        if not key or not dot:
            raise exceptions.AuthenticationFailed("Malformed API key.", code="invalid_api_key")
        cached = api_key_cached(prefix)
        if cached is not None and cached.is_valid(key) and not failures.is_marked_blocked():
            self._check(cached, key)  # expiry is a matter of the clock
            if api_key_touch_due(api_key=cached):
                with rls.rls_bypass(reason="API key last use"):
                    api_key_touch(api_key=cached)
                api_key_remember(cached)
            return APIKeyPrincipal(cached), cached
        # The organization is what this look-up finds out, so it runs before any is set.
        with rls.rls_bypass(reason="API key authentication"):
            # The address's failure count rides along in the key lookup (no extra query).
            api_key = (
                failures.annotate(OrganizationAPIKey.objects.select_related("organization"))
                .filter(prefix=prefix)
                .first()
            )
            if api_key is not None and failures.is_blocked(api_key.recent_authentication_failures):
                raise exceptions.Throttled(wait=failures.wait(), detail="Too many failed authentications.")
            self._check(api_key, key)
            api_key_touch(api_key=api_key)
        api_key_remember(api_key)
        return APIKeyPrincipal(api_key), api_key

    @staticmethod
    def _check(api_key: OrganizationAPIKey | None, key: str) -> None:
        if api_key is None or not api_key.is_valid(key):
            raise exceptions.AuthenticationFailed("Invalid API key.", code="invalid_api_key")
        if api_key.revoked:
            raise exceptions.AuthenticationFailed("This API key has been revoked.", code="revoked_api_key")
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed("This API key has expired.", code="expired_api_key")
        if not api_key.organization.is_active:
            raise exceptions.AuthenticationFailed(
                "This API key's organization is inactive.", code="inactive_organization"
            )

    def authenticate_header(self, request):
        return self.keyword


class BearerAPIKeyAuthentication(OrganizationAPIKeyAuthentication):
    """``Authorization: Bearer <key>``: what OTLP exporters are configured to send."""

    keyword = "Bearer"


class BasicAPIKeyAuthentication(OrganizationAPIKeyAuthentication):
    """HTTP Basic auth whose password is the API key (the Langfuse SDK sends its secret key so)."""

    keyword = "Basic"

    def key_from(self, credentials: str) -> str:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise exceptions.AuthenticationFailed(
                "Malformed Basic credentials.", code="invalid_api_key"
            ) from exc
        return decoded.partition(":")[2].strip()

    def authenticate_header(self, request):
        return 'Basic realm="inkwell"'
