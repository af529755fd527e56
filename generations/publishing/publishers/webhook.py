"""The ``webhook`` publisher: POSTs the post as JSON to the account's URL, signed.

Headers: ``Idempotency-Key: <post id>`` (the same on every delivery of a post, so a receiver
can drop a repeat), ``X-Inkwell-Attempt: <n>`` (a repeat is recognisable), and
``X-Inkwell-Signature: sha256=<hex HMAC-SHA256 of the exact body with the signing secret>``.
An account with an OAuth access token also sends it as ``Authorization: Bearer``.

2xx is published (a JSON ``id`` in the answer is kept as the external id); 429, 5xx, timeouts
and connection errors are retried (a ``Retry-After`` in seconds is honoured); any other answer
fails the post with the answer in ``last_error``.

Deliveries connect directly, to an address vetted when connecting (never a local or private
one, unless ``PUBLISHING_ALLOW_PRIVATE_TARGETS``); a proxy named by ``HTTP_PROXY``/``HTTPS_PROXY``
is not used, since the address it would connect to could not be vetted.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import socket
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings

from generations.publishing.choices import Platform
from generations.publishing.publishers import register
from generations.publishing.publishers.base import AccountSecrets, Delivery, Outcome, Publisher

logger = logging.getLogger(__name__)
MAX_ERROR_BODY = 1000
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
REFUSED = "The webhook URL points at a local or private address, which Inkwell does not post to."


def _private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def private_target(url: str, *, resolve: bool) -> str | None:
    """Why ``url`` may not be delivered to, or None. A webhook posts from inside our network and
    its answer is shown to the account's organization (``last_error``), so a loopback, private,
    link-local (cloud metadata at 169.254.169.254) or reserved address is refused unless
    ``PUBLISHING_ALLOW_PRIVATE_TARGETS`` (tests, local development). ``resolve``: also look the
    host name up (at delivery; saving an account checks literal addresses and local names only)."""
    if settings.PUBLISHING_ALLOW_PRIVATE_TARGETS:
        return None
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if not host or host in LOCAL_NAMES or host.endswith(".localhost"):
        return REFUSED
    try:
        return REFUSED if _private(host) else None
    except ValueError:
        pass  # a name, not an address
    if not resolve:
        return None
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)}
    except (OSError, UnicodeError):
        return None  # unreachable anyway: the delivery fails and is retried
    return REFUSED if any(_private(address) for address in addresses) else None


class PrivateTarget(Exception):
    """The webhook's host name resolved to a local or private address when connecting."""


class _PublicOnlyBackend(httpcore.SyncBackend):
    """httpcore's network backend, connecting only to public addresses: the host name is
    resolved here, every address it has is vetted, and the socket is opened to a vetted
    address, not to the name. A name checked at delivery (:func:`private_target`) could
    otherwise answer the connection's own look-up with another address (DNS rebinding: public
    for the check, 169.254.169.254 a moment later). TLS still verifies the certificate against
    the name (httpcore passes the origin's host to the handshake, not the address)."""

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        if settings.PUBLISHING_ALLOW_PRIVATE_TARGETS:
            return super().connect_tcp(host, port, timeout, local_address, socket_options)
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"{host} could not be looked up.") from exc
        addresses = list(dict.fromkeys(info[4][0] for info in found))
        if not addresses or any(_private(address) for address in addresses):
            raise PrivateTarget(REFUSED)
        for address in addresses[:-1]:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError:
                continue  # the next address, as socket.create_connection tries each
        return super().connect_tcp(addresses[-1], port, timeout, local_address, socket_options)


class _PublicOnlyTransport(httpx.HTTPTransport):
    """httpx's transport over :class:`_PublicOnlyBackend`. A client given a transport uses no
    proxy from the environment (the addresses vetted must be the ones connected to); the
    certificate authorities still come from it (``SSL_CERT_FILE``/``SSL_CERT_DIR``), as before."""

    def __init__(self):
        ssl_context = httpx.create_ssl_context()
        super().__init__(verify=ssl_context)
        # httpx builds its pool without a way to name the network backend; httpcore's pool takes one.
        self._pool = httpcore.ConnectionPool(ssl_context=ssl_context, network_backend=_PublicOnlyBackend())


def webhook_signature(body: bytes, secret: str) -> str:
    """The ``X-Inkwell-Signature`` value of ``body``: receivers compute the same to verify."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_body(post) -> bytes:
    """The JSON delivered for ``post`` (compact, keys sorted: the signature covers these bytes)."""
    account = post.account
    payload = {
        "id": post.pk,
        "text": post.content,
        "account": {"id": account.pk, "platform": account.platform, "handle": account.handle},
        "scheduled_for": post.publish_at.isoformat(),
        "generation": post.generation_id,
    }
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None


def _external_id(response: httpx.Response) -> str:
    try:
        answer = response.json()
    except ValueError:
        return ""
    if isinstance(answer, dict) and answer.get("id") is not None:
        return str(answer["id"])[:500]
    return ""


class WebhookPublisher(Publisher):
    platform = Platform.WEBHOOK

    def account_errors(self, account) -> dict[str, str]:
        errors = {}
        if not account.webhook_url:
            errors["webhook_url"] = "A webhook account needs its URL."
        elif refusal := private_target(account.webhook_url, resolve=False):
            errors["webhook_url"] = refusal
        if not account.signing_secret_encrypted:
            errors["signing_secret"] = "A webhook account needs a signing secret."  # noqa: S105 - a message
        return errors

    def publish(self, post, *, secrets: AccountSecrets, attempt: int) -> Delivery:
        # Looked up again at each delivery: a name may point elsewhere since the account was saved.
        refusal = private_target(post.account.webhook_url, resolve=True)
        if refusal:
            return Delivery(Outcome.FAIL, error=refusal)
        body = webhook_body(post)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Inkwell-Publisher/1",
            "Idempotency-Key": str(post.pk),
            "X-Inkwell-Attempt": str(attempt),
            "X-Inkwell-Signature": webhook_signature(body, secrets.signing_secret or ""),
        }
        if secrets.access_token:
            headers["Authorization"] = f"Bearer {secrets.access_token}"
        try:
            with httpx.Client(
                transport=_PublicOnlyTransport(),
                timeout=settings.PUBLISHING_REQUEST_TIMEOUT_SECONDS,
                follow_redirects=False,
            ) as client:
                response = client.post(post.account.webhook_url, content=body, headers=headers)
        except PrivateTarget as exc:
            return Delivery(Outcome.FAIL, error=str(exc))
        except httpx.TimeoutException:
            return Delivery(Outcome.RETRY, error="The webhook did not answer in time.")
        except httpx.HTTPError as exc:
            # The exception's class, not its text: it may quote the request (and its headers).
            return Delivery(Outcome.RETRY, error=f"The webhook could not be reached ({type(exc).__name__}).")
        status = response.status_code
        if 200 <= status < 300:
            return Delivery(Outcome.PUBLISHED, external_id=_external_id(response))
        answer = f"HTTP {status}: {response.text[:MAX_ERROR_BODY]}"
        if status == 429 or status >= 500:
            return Delivery(Outcome.RETRY, error=answer, retry_after_seconds=_retry_after(response))
        return Delivery(Outcome.FAIL, error=answer)


register(WebhookPublisher())
