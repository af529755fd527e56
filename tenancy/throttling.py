"""Request-rate throttling shared by every worker: per API key (or staff user), and failed
authentication per client address.

Counts live in PostgreSQL by default (:class:`tenancy.models.RateCounter`, one atomic upsert per
request), so the limit holds across gunicorn workers and servers without another server to run.
With ``API_THROTTLE_STORE=cache`` (the default when ``CACHE_URL`` names Redis) they live in the
cache instead, incremented atomically with ``add`` + ``incr``.

In the database store a worker does not count each request of a key: it **leases** a share of
the window's allowance (:func:`lease_size`: 1% of the limit, at most 100, at least 1) with the
same single upsert and hands it out in process, so a hot key costs one query per lease instead
of one per request. The counter counts every leased request, so together the workers never
admit more than the limit; a lease left unused when the window ends is lost, so a client near
its limit may be throttled up to ``(lease - 1) * workers`` requests early (about 2% of the
default 6,000/min on two workers). Limits under 200 a window lease one at a time: exact.
Failed authentications are always counted one by one.
"""

from __future__ import annotations

import datetime
import math
import threading
import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Subquery, Value
from django.db.models.functions import Coalesce
from rest_framework.throttling import SimpleRateThrottle

from tenancy.models import OrganizationAPIKey, RateCounter

# One statement: drop finished windows (an index range on expires_at, usually empty) and count
# this request, so a throttled request costs one round trip.
_UPSERT = (
    f"WITH finished AS (DELETE FROM {RateCounter._meta.db_table} WHERE expires_at <= %s) "  # noqa: S608 - table name from the model
    f"INSERT INTO {RateCounter._meta.db_table} AS counter (key, window_start, expires_at, count) "
    "VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (key, window_start) DO UPDATE SET count = counter.count + EXCLUDED.count "
    "RETURNING count"
)


def _window(duration: int) -> tuple[int, float]:
    """The start of the current fixed window (epoch seconds) and the seconds until it ends."""
    now = time.time()
    start = int(now // duration * duration)
    return start, start + duration - now


def rate_counter_hit(*, key: str, duration: int, increment: int = 1) -> tuple[int, float]:
    """Count ``increment`` requests (default one) for ``key`` in its current ``duration``-second
    window (or, with ``increment=0``, only read the count). Returns (count including these,
    seconds until the window ends)."""
    start, remaining = _window(duration)
    if settings.API_THROTTLE_STORE == "cache":
        cache_key = f"rate:{key}:{start}"
        if not increment:
            return cache.get(cache_key, 0), remaining
        cache.add(cache_key, 0, timeout=duration + 1)
        return cache.incr(cache_key, int(increment)), remaining
    window_start = datetime.datetime.fromtimestamp(start, tz=datetime.UTC)
    if not increment:
        row = RateCounter.objects.filter(key=key, window_start=window_start).values_list("count", flat=True)
        return next(iter(row), 0), remaining
    expires_at = window_start + datetime.timedelta(seconds=duration)
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT, [window_start, key, window_start, expires_at, int(increment)])
        (count,) = cursor.fetchone()
    return count, remaining


MAX_LEASE = 100
_leases: dict[str, tuple[int, int]] = {}  # throttle key -> (window start, requests left in lease)
_leases_lock = threading.Lock()


def lease_size(limit: int) -> int:
    """How many requests of a ``limit``-per-window key a worker takes from the counter at once."""
    return max(1, min(MAX_LEASE, limit // 100))


def rate_counter_take(*, key: str, duration: int, limit: int) -> tuple[bool, float]:
    """Admit one request of ``key`` against ``limit`` per ``duration``-second window (database
    store: from this worker's lease, taking a new lease when it is spent; cache store: counted
    one by one). Returns (admitted, seconds until the window ends)."""
    size = lease_size(limit)
    if settings.API_THROTTLE_STORE == "cache" or size == 1:
        count, remaining = rate_counter_hit(key=key, duration=duration)
        return count <= limit, remaining
    start, remaining = _window(duration)
    with _leases_lock:
        window, left = _leases.get(key, (None, 0))
        if window == start and left > 0:
            _leases[key] = (start, left - 1)
            return True, remaining
    count, remaining = rate_counter_hit(key=key, duration=duration, increment=size)
    granted = max(0, min(size, limit - (count - size)))
    with _leases_lock:
        if len(_leases) > 10_000:  # keys seen in past windows
            _leases.clear()
        _leases[key] = (start, max(0, granted - 1))
    return granted > 0, remaining


class APIKeyRateThrottle(SimpleRateThrottle):
    """``settings.API_THROTTLE_RATE`` requests per API key (per staff user, per address for
    anonymous calls) in fixed windows shared by every worker; 429 with ``Retry-After`` beyond."""

    scope = "api_key"

    def get_rate(self):
        # Read at call time (not import time) so settings overrides apply.
        return settings.API_THROTTLE_RATE

    def allow_request(self, request, view):
        self.num_requests, self.duration = self.parse_rate(self.get_rate())
        key = self.get_cache_key(request, view)
        admitted, self.remaining = rate_counter_take(key=key, duration=self.duration, limit=self.num_requests)
        return admitted

    def wait(self):
        return max(1, math.ceil(self.remaining))

    def get_cache_key(self, request, view):
        if isinstance(request.auth, OrganizationAPIKey):
            ident = f"key:{request.auth.pk}"
        elif request.user and request.user.is_authenticated and request.user.pk:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return f"throttle:{self.scope}:{ident}"


class AuthenticationFailureThrottle(SimpleRateThrottle):
    """``settings.API_AUTH_FAILURE_RATE`` failed authentications per client address.

    Beyond it, every API-key attempt from that address (right or wrong) is a 429 until the
    window ends, so guessing keys costs time. Used by the authentication class, not by views.
    """

    scope = "auth_failure"

    def __init__(self, request):
        self.num_requests, self.duration = self.parse_rate(settings.API_AUTH_FAILURE_RATE)
        self.key = f"throttle:{self.scope}:ip:{self.get_ident(request)}"
        self.remaining = float(self.duration)

    def annotate(self, queryset):
        """``queryset`` with ``recent_authentication_failures``: this address's failures in the
        current window, read in the same query (database store)."""
        start, self.remaining = _window(self.duration)
        if settings.API_THROTTLE_STORE == "cache":
            return queryset.annotate(recent_authentication_failures=Value(0))
        window_start = datetime.datetime.fromtimestamp(start, tz=datetime.UTC)
        count = RateCounter.objects.filter(key=self.key, window_start=window_start).values("count")[:1]
        return queryset.annotate(recent_authentication_failures=Coalesce(Subquery(count), Value(0)))

    def is_blocked(self, recent_failures: int) -> bool:
        """Whether this address has already used up its failures in the current window."""
        if settings.API_THROTTLE_STORE == "cache":
            recent_failures, self.remaining = rate_counter_hit(
                key=self.key, duration=self.duration, increment=0
            )
        blocked = recent_failures >= self.num_requests
        if blocked:
            self._mark_blocked()
        return blocked

    def record_failure(self) -> bool:
        """Count one failure; True when the address is now over the limit (then also marked
        blocked in Django's cache until the window ends, see :meth:`is_marked_blocked`)."""
        count, self.remaining = rate_counter_hit(key=self.key, duration=self.duration)
        over = count > self.num_requests
        if over:
            self._mark_blocked()
        return over

    def _mark_blocked(self) -> None:
        cache.set(f"{self.key}:blocked", True, timeout=max(1, math.ceil(self.remaining)))

    def is_marked_blocked(self) -> bool:
        """Whether this address went over the limit in this window, as far as Django's cache
        knows (no query): the check for keys answered from the key cache, which skip the
        database look-up that carries the exact count. A per-process cache only knows the
        failures this process answered; guessing is stopped regardless, since a wrong key is
        never in the key cache and always meets the exact count."""
        return cache.get(f"{self.key}:blocked", False)

    def wait(self):
        return max(1, math.ceil(self.remaining))
