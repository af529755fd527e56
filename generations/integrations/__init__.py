"""Adapters that let apps we did not write record generations: OTLP traces (OpenTelemetry GenAI
conventions, OpenLLMetry, OpenInference, the Langfuse SDK) and LiteLLM's logging callback.

Each adapter only *maps*: a span or a LiteLLM payload becomes the same item a client would POST
to ``generations/bulk/`` (API field names, our token fields), and ``recording`` validates it with
the API's own validator and records it through the one ingestion service. Idempotency, pricing
and tenancy therefore work exactly as for a native POST. An embeddings call is a provider call,
not a generation: ``provider_calls`` turns its item into a ``POST usage/`` body and hands it to
the recorder analytics registers (generations never imports analytics).
"""
