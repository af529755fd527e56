"""Provider calls the adapters find, recorded by the app that owns them: the seam to analytics.

An embeddings call (a span with ``gen_ai.operation.name = embeddings``, OpenInference's
``openinference.span.kind = EMBEDDING``, a Langfuse ``embedding`` observation, a LiteLLM payload
whose ``call_type`` is ``embedding`` / ``aembedding``) produces no content: it is a provider call
(``analytics.models.ProviderCall``), not a generation. Analytics sits above generations (apps
depend downward only), so the adapters cannot import its services. Instead analytics
*registers* the one function that records provider calls, in its ``AppConfig.ready()``::

    from generations.integrations.provider_calls import register_provider_call_recorder

    register_provider_call_recorder(analytics.integrations.provider_call_batch_record)

The recorder takes items shaped as ``POST usage/`` bodies and records them with partial success
(a :class:`~generations.integrations.recording.BatchOutcome`), through
``analytics.services.provider_call_record``: idempotent by ``request_id`` (a span's
``otel:<trace>:<span>``, LiteLLM's ``litellm:<id>``), metered by ``providers.metering`` like a
native usage, scoped to the caller's organization. This is a registry, not a signal: the call
is business logic whose outcome the adapter reports to its client.
"""

from __future__ import annotations

from typing import Any, Protocol

from generations.choices import GenerationStatus
from tenancy.actors import SYSTEM, Actor
from tenancy.models import Organization

from .client_values import ItemRejected
from .recording import BatchOutcome, Rejection

# What an adapter's provider call names as its endpoint: the operation, since a span or a
# LiteLLM payload does not say which URL path the client called.
EMBEDDINGS_ENDPOINT = "embeddings"
TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
NOT_RECORDED = "no provider-call recorder is registered (is the analytics app installed?)"


class ProviderCallRecorder(Protocol):
    def __call__(
        self, *, organization: Organization, actor: Actor, items: list[dict[str, Any]]
    ) -> BatchOutcome: ...


_recorder: ProviderCallRecorder | None = None


def register_provider_call_recorder(recorder: ProviderCallRecorder | None) -> None:
    """Record adapters' provider calls with ``recorder`` from now on (``None`` unregisters).

    There is one owner of provider calls, so registering again replaces the recorder.
    """
    global _recorder
    _recorder = recorder


def registered_provider_call_recorder() -> ProviderCallRecorder | None:
    """The registered recorder, if any."""
    return _recorder


def provider_call_batch_record(
    *, organization: Organization, actor: Actor = SYSTEM, items: list[dict[str, Any]]
) -> BatchOutcome:
    """Record ``items`` (``POST usage/`` bodies) through the registered recorder.

    With no recorder registered every item is rejected with that reason, so a client is told
    its calls were not kept instead of losing them silently.
    """
    if not items:
        return BatchOutcome()
    if _recorder is None:
        return BatchOutcome(
            rejected=[
                Rejection(index, str(item.get("request_id")), NOT_RECORDED)
                for index, item in enumerate(items)
            ]
        )
    return _recorder(organization=organization, actor=actor, items=items)


def check_one_kind(kinds: dict[str, bool], request_id: str, *, embedding: bool) -> None:
    """Refuse a request id this batch already sent as the other kind of call (``kinds``: id →
    embedding, filled as the batch is read). Generations and provider calls are recorded apart,
    each refusing an id sent twice with different bodies; an id sent once as each would be
    billed twice."""
    if kinds.setdefault(request_id, embedding) != embedding:
        raise ItemRejected("The call was sent twice in this request, as two kinds of call.")


def provider_call_item(
    generation_item: dict[str, Any], *, endpoint: str = EMBEDDINGS_ENDPOINT
) -> dict[str, Any]:
    """The ``POST usage/`` body of a call an adapter mapped as a generation item.

    The adapters map every call one way (spans by ``otlp.span_item``, LiteLLM payloads by
    ``litellm.payload_item``); an embeddings call keeps what a provider call has: the request id
    (so retries stay idempotent), provider and model as sent, our token fields or the provider's usage
    object, the client's cost,
    the user, the moment it started (``metadata.started_at``: it is priced then), its duration
    and outcome, and its trace context (trace, span and parent span ids). Content and parameters
    have no column on a provider call.
    """
    item: dict[str, Any] = {
        "request_id": generation_item["request_id"],
        "endpoint": endpoint,
        "provider": generation_item.get("provider", ""),
        "model": generation_item.get("model", ""),
        **{name: generation_item[name] for name in (*TOKEN_FIELDS, "usage") if name in generation_item},
    }
    for name in ("client_cost_usd", "user_ref", "trace_id", "span_id", "parent_span_id"):
        if generation_item.get(name) is not None:
            item[name] = generation_item[name]
    started = (generation_item.get("metadata") or {}).get("started_at") or generation_item.get("occurred_at")
    if started:
        item["occurred_at"] = started
    if generation_item.get("generation_time_ms") is not None:
        item["total_request_time_ms"] = generation_item["generation_time_ms"]
    failed = generation_item.get("status") == GenerationStatus.FAILED
    item["success"] = not failed
    if failed:
        item["error_message"] = str(generation_item.get("error_message") or "")[:10_000]
    return item
