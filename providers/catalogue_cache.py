"""The catalogue (providers, models, price versions) as this process last read it.

Every ingested row needs its provider, its model (by name or alias) and the model's price
timeline: three queries a request when read afresh, for rows that change a few times a day
(price sync, an admin edit). :class:`Catalogue` keeps what was read, and is thrown away when:

- **the catalogue changes**: saving or deleting a ``Provider``, ``AIModel`` or ``ModelPrice``
  (admin, services; ``post_save``/``post_delete``) and every ``price_sync`` run (which also
  writes with ``bulk_create``) call :func:`catalogue_changed`, which bumps a version counter in
  Django's cache, at once and again when the transaction commits (so no process caches the
  old rows under the new version in between). Every process compares its copy's version
  with the counter at the start of each metering (one cache read, no query);
- **it is older than** :data:`CATALOGUE_TTL_SECONDS`: the backstop for changes made where no
  signal fires (raw SQL, ``QuerySet.update``) and for processes that do not share Django's
  cache (``locmemcache://``, the default, is per process: a change made in one gunicorn worker
  reaches the others within the TTL; set ``CACHE_URL`` to a shared cache to make it immediate).

A row metered in that window is priced as the catalogue was a minute before, exactly as if it
had arrived a minute earlier; ``manage.py reprice`` meters against a fresh read
(``Meter(fresh=True)``).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from django.core.cache import cache
from django.db import transaction

if TYPE_CHECKING:
    from providers.models import AIModel, ModelPrice, Provider

CATALOGUE_VERSION_KEY = "providers:catalogue-version"
CATALOGUE_TTL_SECONDS = 60
# Unknown names are remembered too (a client sending a typo on every call): bounded.
MAX_ENTRIES = 10_000


class Catalogue:
    """Catalogue look-ups read once: providers by slug, models by (name, provider slug) —
    misses included —, each model's price versions, newest first, and the model ids a list
    filter value names."""

    def __init__(self, version: int | None = None):
        self.version = version
        self.loaded_at = time.monotonic()
        self.providers: dict[str, Provider] | None = None
        self.models: dict[tuple[str, str], AIModel | None] = {}
        self.windows: dict[int, list[ModelPrice]] = {}
        # Filter values (``generations/?model=``) → the ids of the models they name.
        self.model_ids: dict[str, tuple[int, ...]] = {}

    def fresh_for(self, version: int) -> bool:
        """Whether this copy still answers for the catalogue at ``version``."""
        return (
            self.version == version
            and time.monotonic() - self.loaded_at < CATALOGUE_TTL_SECONDS
            and len(self.models) + len(self.windows) + len(self.model_ids) < MAX_ENTRIES
        )


_shared: Catalogue | None = None
_lock = threading.Lock()


def _version() -> int:
    return cache.get(CATALOGUE_VERSION_KEY, 0)


def catalogue_current() -> Catalogue:
    """This process's catalogue copy, replaced by an empty one when the catalogue changed or
    the copy is older than :data:`CATALOGUE_TTL_SECONDS`."""
    global _shared
    version = _version()
    current = _shared
    if current is None or not current.fresh_for(version):
        with _lock:
            current = _shared = Catalogue(version)
    return current


def _bump() -> None:
    global _shared
    try:
        cache.incr(CATALOGUE_VERSION_KEY)
    except ValueError:  # no counter yet (or evicted): any new value differs from the copies'
        cache.add(CATALOGUE_VERSION_KEY, int(time.time() * 1000))
    _shared = None


def catalogue_changed(**_signal_arguments) -> None:
    """Make every process read the catalogue afresh: now and, inside a transaction, again when
    it commits. Connected to the catalogue models' ``post_save``/``post_delete``; called by
    ``price_sync``."""
    _bump()
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(_bump)
