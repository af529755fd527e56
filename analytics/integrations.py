"""Provider calls from the integration adapters (OTLP embedding spans, LiteLLM embedding calls).

``generations.integrations`` maps what instrumented apps send; a call that is a provider call
rather than a generation (an embeddings request) reaches analytics through the recorder
registered in ``analytics.apps`` (see ``generations.integrations.provider_calls``). Each item is
validated by the ``POST usage/`` serializer and recorded by ``services.provider_call_record``,
so idempotency, metering and tenancy are exactly a native POST's; unlike ``POST usage/`` a bad
item is rejected alone, with its reason, and the others land.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError

from analytics import services
from analytics.api.serializers import ProviderCallCreateSerializer
from generations.integrations.recording import BatchOutcome, Rejection, first_error
from tenancy.actors import SYSTEM, Actor
from tenancy.errors import DomainError
from tenancy.idempotency import request_fingerprint
from tenancy.models import Organization


def provider_call_batch_record(
    *, organization: Organization, actor: Actor = SYSTEM, items: list[dict[str, Any]]
) -> BatchOutcome:
    """Validate and record ``items`` (``POST usage/`` bodies) one by one, with partial success.

    Each item is its own transaction (``provider_call_record`` is atomic), so a refused item
    (invalid, or its ``request_id`` replayed with another body) leaves nothing behind while the
    rest are recorded; a replay with the same body counts as replayed and writes nothing.
    """
    outcome = BatchOutcome()
    # One validator for every item, as ``many=True`` uses its child. Items name no generation,
    # so the serializer needs no request to scope one.
    validator = ProviderCallCreateSerializer()
    for index, item in enumerate(items):
        key = str(item.get("request_id", f"#{index}"))
        try:
            values = validator.run_validation(item)
            recorded = services.provider_call_record(
                organization=organization, actor=actor, values=values, fingerprint=request_fingerprint(item)
            )
        except ValidationError as exc:
            outcome.rejected.append(Rejection(index, key, first_error(exc.detail)))
            continue
        except DomainError as exc:
            outcome.rejected.append(Rejection(index, key, exc.detail))
            continue
        if recorded.created:
            outcome.created += 1
        else:
            outcome.replayed += 1
    return outcome
