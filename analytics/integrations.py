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

from analytics import services
from analytics.api.serializers import ProviderCallCreateSerializer
from generations.integrations.recording import BatchRecorder

# ``POST usage/`` bodies, recorded with ``provider_call_record``'s rules in bulk. Items name no
# generation, so the serializer needs no request to scope one.
provider_call_batch_record = BatchRecorder(
    serializer_class=ProviderCallCreateSerializer,
    bulk_record=services.provider_call_bulk_record,
    chunk_size=services.MAX_BULK_CALLS,
)
