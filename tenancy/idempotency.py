"""Idempotent ingestion: one client key, one row, ever. The one implementation every ingesting
endpoint uses (generations single, bulk and branch; provider calls; performance metrics).

A client retries. Each ingested row carries the client's key (``request_id``, or for metrics
the generation they describe) and the fingerprint of the body that created it
(:func:`request_fingerprint`). For each model an :class:`IdempotentIngest` names the key field
and the database constraint that makes ``(organization, key)`` unique **over every row, soft-deleted
ones included**, and guarantees:

- the same key with the same body again answers the first row with ``created=False`` (200) and
  writes nothing;
- the same key with another body is :class:`ConflictingReplay` (409 ``conflicting_replay``);
- the same key of a soft-deleted row is :class:`DeletedReplay` (409 ``deleted``) naming the
  restore URL: a deleted row is restored, never written a second time, so rollups, budgets and
  reports count one request;
- two requests racing past the look-up meet the unique constraint: the loser's INSERT fails
  inside a savepoint (only its own work rolls back) and it answers as a replay of the winner's row.

Callers keep their own validation and building; they call :meth:`IdempotentIngest.replay`
before building and :meth:`IdempotentIngest.insert` (or :meth:`~IdempotentIngest.retrying`
around a bulk write) to write.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, models, transaction

from tenancy.errors import Conflict

if TYPE_CHECKING:
    from tenancy.models import Organization

Row = TypeVar("Row", bound=models.Model)
Result = TypeVar("Result")


class ConflictingReplay(Conflict):
    """A key already recorded with a different body (409): not a retry, a clash."""

    code = "conflicting_replay"


class DeletedReplay(Conflict):
    """A key whose row was soft-deleted (409 ``deleted``): restore that row (``restore_url``)
    instead of recording it a second time."""

    code = "deleted"

    def __init__(self, detail: str, *, restore_url: str | None, attr: str | None = None):
        super().__init__(detail, attr=attr)
        self.restore_url = restore_url


@dataclass(frozen=True)
class Recorded(Generic[Row]):
    """An ingestion's outcome: the row, and whether this call created it (201) or not (200)."""

    instance: Row
    created: bool


def request_fingerprint(body: Any) -> str:
    """SHA-256 of the canonical JSON of a request body: equal bodies, equal fingerprints."""
    canonical = json.dumps(
        body, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder, ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def violated_constraint(exc: IntegrityError) -> str | None:
    """The name of the constraint an ``IntegrityError`` from PostgreSQL violated, if it says."""
    return getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)


def _describe_request_id(value: Any) -> str:
    return f"request_id {value!r}"


@dataclass(frozen=True)
class IdempotentIngest(Generic[Row]):
    """How one model is ingested idempotently (see the module docstring).

    ``model`` has ``organization``, ``request_fingerprint`` and the ``key`` field;
    ``constraint`` is the name of its unique constraint on ``(organization, key)`` with no
    condition (deleted rows included). ``restore_url`` gives a soft-deleted row's restore
    endpoint; ``describe`` names a key value in error messages.
    """

    model: type[Row]
    constraint: str
    key: str = "request_id"
    restore_url: Callable[[Row], str] | None = None
    describe: Callable[[Any], str] = _describe_request_id

    def rows(self, organization: Organization | int) -> models.QuerySet[Row]:
        """Every row of ``organization``, soft-deleted ones included: keys are never reused."""
        manager = getattr(self.model, "all_objects", self.model._default_manager)
        return manager.filter(organization=organization)

    def answer(
        self, existing: Row, fingerprint: str, *, attr: str | None = None, where: str = ""
    ) -> Recorded[Row]:
        """The answer to a request whose key ``existing`` already holds: the row itself (same
        body), :class:`ConflictingReplay` (another body) or :class:`DeletedReplay` (deleted)."""
        attr = attr or self.key
        what = self.describe(getattr(existing, self.key))
        if getattr(existing, "deleted_at", None) is not None:
            url = self.restore_url(existing) if self.restore_url else None
            how = f" Restore it with POST {url} instead." if url else ""
            raise DeletedReplay(
                f"{where}{what} was recorded as {self.model._meta.verbose_name} {existing.pk}, which is "
                f"deleted; a request is never recorded twice.{how}",
                restore_url=url,
                attr=attr,
            )
        if existing.request_fingerprint != fingerprint:
            raise ConflictingReplay(f"{where}{what} was already recorded with a different body.", attr=attr)
        return Recorded(existing, created=False)

    def replay(self, *, organization: Organization, key: Any, fingerprint: str) -> Recorded[Row] | None:
        """The answer if ``key`` was recorded already (see :meth:`answer`); None if it is new."""
        existing = self.rows(organization).filter(**{self.key: key}).first()
        return None if existing is None else self.answer(existing, fingerprint)

    def replays(
        self, *, organization: Organization, keys: Sequence[Any], fingerprints: Sequence[str]
    ) -> list[Recorded[Row] | None]:
        """:meth:`replay` for each item of a batch in one query; errors name the item
        (``items.<index>.<key>``)."""
        existing = {
            getattr(row, self.key): row
            for row in self.rows(organization).filter(**{f"{self.key}__in": set(keys)})
        }
        return [
            self.answer(existing[key], fingerprint, attr=f"items.{index}.{self.key}", where=f"Item {index}: ")
            if key in existing
            else None
            for index, (key, fingerprint) in enumerate(zip(keys, fingerprints, strict=True))
        ]

    def raced(self, exc: IntegrityError) -> bool:
        """Whether ``exc`` is another request winning this key (and not some other violation)."""
        return violated_constraint(exc) == self.constraint

    def insert(
        self, instance: Row, *, fingerprint: str, write: Callable[[], Any] | None = None
    ) -> Recorded[Row]:
        """Write a new ``instance`` (``write``, default ``save(force_insert=True)``) inside a
        savepoint, stamped with ``fingerprint``. If a concurrent request took the key first,
        only the savepoint rolls back and the answer is a replay of the winner's row."""
        instance.request_fingerprint = fingerprint
        try:
            with transaction.atomic():
                if write is None:
                    instance.save(force_insert=True)
                else:
                    write()
        except IntegrityError as exc:
            if not self.raced(exc):
                raise
            winner = self.rows(instance.organization_id).get(**{self.key: getattr(instance, self.key)})
            return self.answer(winner, fingerprint)
        return Recorded(instance, created=True)

    def retrying(self, write: Callable[[], Result]) -> Result:
        """Run a batch ``write`` (its look-ups and inserts) in a savepoint; if a concurrent
        request recorded one of its keys in between, run it once more: those keys are now
        replays (or conflicts) its look-up finds."""
        for attempt in range(2):
            try:
                with transaction.atomic():
                    return write()
            except IntegrityError as exc:
                if not self.raced(exc) or attempt == 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover
