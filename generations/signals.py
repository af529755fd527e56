"""Signals other apps subscribe to. Generations import no other app to send them.

``generations_recorded``
    Sent **inside the transaction that writes** generations, so a receiver's writes (analytics'
    daily rollups) commit or roll back with them and stay exact. Sent whenever generations are
    created (single POST, bulk, branch), change status or usage/cost (PATCH, admin), or are
    soft-deleted or restored. Keyword arguments:

    - ``sender``: :class:`generations.models.Generation`
    - ``organization``: the :class:`tenancy.models.Organization` that owns them
    - ``generations``: list of the ``Generation`` rows as they are now (one organization)
    - ``action``: a :class:`generations.choices.RecordedAction` (created, updated, deleted,
      restored)
    - ``previous``: ``{generation_id: {field: old value}}`` for ``UPDATED`` (the fields
      ``status``, ``cost_usd``, ``cost_status``, ``input_tokens``, ``output_tokens``,
      ``cache_read_tokens``, ``cache_write_tokens``, ``total_tokens``, ``generation_time_ms``,
      ``completed_at`` before the change); ``{}`` otherwise.

    - ``written_with``: ``None``, or a :class:`tenancy.idempotency.WrittenWith` when the
      generations are built but not yet inserted (a single POST without a parent): then a
      receiver writes nothing itself and adds its writes to it, as statements holding its
      ``condition``; they go out in the generation's own ``INSERT`` statement and happen only if
      that writes the row. Such a send may be a replay's, which the INSERT finds (nothing is
      written), so a receiver does nothing else.

    A replayed request (same ``request_id``, same body) writes nothing. Receivers must not call
    back into generations' services. The one receiver is
    ``analytics.receivers.count_recorded_generations`` (connected in ``analytics/apps.py``).
"""

from django.dispatch import Signal

generations_recorded = Signal()

# Fields whose old values are passed as ``previous`` on UPDATED: what rollups count.
COUNTED_FIELDS = (
    "status",
    "cost_usd",
    "cost_status",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "total_tokens",
    "generation_time_ms",
    "completed_at",
)
