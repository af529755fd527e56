"""Provider calls from the integration adapters (OTLP embedding spans, LiteLLM embedding calls).

``generations.integrations`` maps what instrumented apps send; a call that is a provider call
rather than a generation (an embeddings request) reaches analytics through the recorder
registered in ``analytics.apps`` (see ``generations.integrations.provider_calls``). Each item is
validated by the ``POST usage/`` serializer and recorded by ``services.provider_call_bulk_record``
(``provider_call_record``'s rules, in bulk), so idempotency, metering and tenancy are exactly a
native POST's; unlike ``POST usage/`` a bad item is rejected alone, with its reason, and the
others land.
"""

from __future__ import annotations

from typing import Any

from analytics import services
from analytics.api.serializers import ProviderCallCreateSerializer
from generations.integrations.recording import BatchOutcome, batch_record
from tenancy.actors import SYSTEM, Actor
from tenancy.models import Organization


def provider_call_batch_record(
    *, organization: Organization, actor: Actor = SYSTEM, items: list[dict[str, Any]]
) -> BatchOutcome:
    """Validate and record ``items`` (``POST usage/`` bodies) with partial success: the
    ``usage/`` serializer, then ``services.provider_call_bulk_record`` in chunks of its limit
    (``generations.integrations.recording.batch_record``: a refused item is set aside with its
    reason and the chunk recorded without it; a replay with the same body writes nothing)."""
    return batch_record(
        items=items,
        # One validator for every item, as ``many=True`` uses its child. Items name no
        # generation, so the serializer needs no request to scope one.
        validator=ProviderCallCreateSerializer(),
        write=lambda *, values, fingerprints: services.provider_call_bulk_record(
            organization=organization, actor=actor, items=values, fingerprints=fingerprints
        ),
        chunk_size=services.MAX_BULK_CALLS,
    )
