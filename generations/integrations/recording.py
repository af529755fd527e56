"""Record a batch of mapped items with partial success: what is valid lands, the rest is counted.

OTLP and LiteLLM clients send many calls at once and cannot fix one bad call by hand, so (unlike
``POST generations/bulk/``, which is all or nothing) a bad item here is rejected alone, with a
reason, while the rest of the batch is recorded. Validation is the owning API's serializer and
writing its bulk service, paired in a :class:`BatchRecorder`: for generations the bulk item
serializer and ``services.generation_bulk_record``; for provider calls (embeddings) analytics
declares its own (``analytics.integrations``). No second ingestion path.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from rest_framework.exceptions import ValidationError
from rest_framework.serializers import Serializer

from generations import services
from generations.api.serializers import GenerationBulkItemSerializer
from generations.integrations import client_values
from tenancy.actors import SYSTEM, Actor
from tenancy.api.fields import date_out_of_bounds
from tenancy.errors import DomainError
from tenancy.idempotency import Recorded, request_fingerprint
from tenancy.models import Organization

MAX_REASONS = 10  # reasons quoted back to the client; the count covers every rejected item


@dataclass
class Rejection:
    """One item that was not recorded: its position in the batch, its key and why."""

    index: int
    key: str
    reason: str


@dataclass
class BatchOutcome:
    """What a batch did: rows created, replays (already recorded, nothing written), rejections."""

    created: int = 0
    replayed: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    def summary(self) -> str:
        """The rejection reasons in one line (the first ``MAX_REASONS``), for the client."""
        reasons = [f"{item.key}: {item.reason}" for item in self.rejected[:MAX_REASONS]]
        more = len(self.rejected) - len(reasons)
        if more > 0:
            reasons.append(f"and {more} more")
        return "; ".join(reasons)


@functools.cache
def accepts_occurred_at() -> bool:
    """Whether generations take the moment a call happened (``occurred_at``) yet; adapters send
    the span's start then, so the call is priced at the price valid when it ran."""
    return "occurred_at" in GenerationBulkItemSerializer().fields


def call_time_fields(
    started: datetime.datetime | None, ended: datetime.datetime | None, *, seconds: Any = None
) -> dict[str, Any]:
    """The item's time fields from a call's start and end as the client reported them:
    ``generation_time_ms``, ``completed_at`` and ``occurred_at`` (the call is priced at its start;
    without one, it happened by its end). A call that ends before it starts (a clock stepped
    back), or whose end lies outside the API's dates (``tenancy.api.fields.date_out_of_bounds``),
    keeps its start, without an end or a duration: neither can be true. ``seconds`` is the
    duration where the client gives it more exactly than the two moments (OTLP's nanoseconds)."""
    if ended and ((started and ended < started) or date_out_of_bounds(ended)):
        ended = None
    fields: dict[str, Any] = {}
    if started and ended:
        duration = client_values.milliseconds(
            (ended - started).total_seconds() if seconds is None else seconds
        )
        if duration is not None:
            fields["generation_time_ms"] = duration
    if ended:
        fields["completed_at"] = ended.isoformat()
    if (started or ended) and accepts_occurred_at():
        fields["occurred_at"] = (started or ended).isoformat()
    return fields


def first_error(errors: Any, path: str = "") -> str:
    """``field: message`` of the first error of a DRF error structure."""
    if isinstance(errors, dict):
        name, value = next(iter(errors.items()))
        return first_error(value, f"{path}.{name}" if path else str(name))
    if isinstance(errors, list) and errors:
        return first_error(errors[0], path)
    return f"{path}: {errors}" if path else str(errors)


def _failed_index(exc: DomainError, count: int) -> int | None:
    """The batch position a bulk error names (``items.<index>.<field>``), if any."""
    parts = (exc.attr or "").split(".")
    if len(parts) >= 2 and parts[0] == "items" and parts[1].isdigit() and int(parts[1]) < count:
        return int(parts[1])
    return None


class BulkWrite(Protocol):
    """An all-or-nothing bulk service: ``values`` and ``fingerprints`` in, one ``Recorded`` per
    item out; a refused item raises a ``DomainError`` whose ``attr`` is ``items.<index>.…``."""

    def __call__(self, *, values: list[dict[str, Any]], fingerprints: list[str]) -> list[Recorded]: ...


def batch_record(
    *, items: list[dict[str, Any]], validator: Serializer, write: BulkWrite, chunk_size: int
) -> BatchOutcome:
    """Validate ``items`` with ``validator`` (an API serializer) and record them with ``write``
    (a bulk service) in chunks of ``chunk_size``, with partial success.

    When the service refuses an item (a usage that cannot be true, a ``request_id`` replayed
    with another body) that item is set aside as rejected and the chunk is recorded again
    without it, so one bad item never costs the others. A repeated item (same ``request_id``,
    same body) within the batch is one replay. Generations and provider calls both use this.
    """
    outcome = BatchOutcome()
    pending: list[tuple[int, dict[str, Any], str]] = []
    seen: dict[str, str] = {}
    for index, item in enumerate(items):
        key = str(item.get("request_id", f"#{index}"))
        # NaN or Infinity in what describes the call (a parameter, a tag, a message): kept as text,
        # never a jsonb error that would cost the whole batch (client_values.storable_numbers).
        item = client_values.storable_numbers(item)
        try:
            values = validator.run_validation(item)
        except ValidationError as exc:
            outcome.rejected.append(Rejection(index, key, first_error(exc.detail)))
            continue
        fingerprint = request_fingerprint(item)
        if key in seen:
            if seen[key] == fingerprint:
                outcome.replayed += 1
            else:
                outcome.rejected.append(
                    Rejection(index, key, "sent twice in this batch with different bodies")
                )
            continue
        seen[key] = fingerprint
        pending.append((index, values, fingerprint))

    for start in range(0, len(pending), chunk_size):
        chunk = pending[start : start + chunk_size]
        while chunk:
            try:
                results = write(
                    values=[values for _, values, _ in chunk],
                    fingerprints=[fingerprint for _, _, fingerprint in chunk],
                )
            except DomainError as exc:
                failed = _failed_index(exc, len(chunk))
                if failed is None:
                    raise
                index, values, _ = chunk.pop(failed)
                detail = exc.detail.split(": ", 1)[1] if exc.detail.startswith("Item ") else exc.detail
                outcome.rejected.append(Rejection(index, values["request_id"], detail))
                continue
            created = sum(result.created for result in results)
            outcome.created += created
            outcome.replayed += len(results) - created
            break
    outcome.rejected.sort(key=lambda rejection: rejection.index)
    return outcome


@dataclass(frozen=True)
class BatchRecorder:
    """One owner's partial-success recording, called as a service with ``organization``,
    ``actor`` and ``items``: its API's item serializer validates, its all-or-nothing bulk service
    writes, in chunks of that service's limit (:func:`batch_record`)."""

    serializer_class: type[Serializer]
    bulk_record: Callable[..., list[Recorded]]
    chunk_size: int

    def __call__(
        self, *, organization: Organization, actor: Actor = SYSTEM, items: list[dict[str, Any]]
    ) -> BatchOutcome:
        """Validate and record ``items`` for ``organization`` with partial success."""
        return batch_record(
            items=items,
            # One validator for every item, as ``many=True`` uses its child: building a
            # serializer's fields costs more than validating an item with them.
            validator=self.serializer_class(),
            write=lambda *, values, fingerprints: self.bulk_record(
                organization=organization, actor=actor, items=values, fingerprints=fingerprints
            ),
            chunk_size=self.chunk_size,
        )


# Generations in bodies as ``POST generations/bulk/`` takes them.
generation_batch_record = BatchRecorder(
    serializer_class=GenerationBulkItemSerializer,
    bulk_record=services.generation_bulk_record,
    chunk_size=services.MAX_BULK_ITEMS,
)
