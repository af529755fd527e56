"""The Langfuse SDK's span attributes (``langfuse.observation.*``), read by the OTLP adapter.

The Langfuse SDKs export OTLP only; a generation is a span whose ``langfuse.observation.type``
is ``generation`` (an ``embedding`` one is a provider call), with usage and cost as JSON strings.
Langfuse's usage keys are disjoint (``input`` excludes cached tokens, which have their own keys),
so the cached counts are added back into our ``input_tokens``, which includes them.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from generations.integrations.client_values import ItemRejected, token_count

OBSERVATION_TYPE = "langfuse.observation.type"
MODEL = "langfuse.observation.model.name"
MODEL_PARAMETERS = "langfuse.observation.model.parameters"
USAGE_DETAILS = "langfuse.observation.usage_details"
COST_DETAILS = "langfuse.observation.cost_details"
INPUT = "langfuse.observation.input"
OUTPUT = "langfuse.observation.output"
COMPLETION_START_TIME = "langfuse.observation.completion_start_time"
USER_ID = "langfuse.user.id"
SESSION_ID = "langfuse.session.id"
TRACE_NAME = "langfuse.trace.name"

# Langfuse usage keys → our token fields. Input-side keys other than these are cache counts.
INPUT_KEYS = ("input", "input_tokens", "prompt_tokens")
OUTPUT_KEYS = ("output", "output_tokens", "completion_tokens")
CACHE_READ_KEYS = ("input_cached_tokens", "cache_read_input_tokens", "input_cache_read", "cached_tokens")
CACHE_WRITE_KEYS = ("cache_creation_input_tokens", "input_cache_creation", "input_cache_write")


def is_generation(attributes: dict[str, Any]) -> bool:
    """Whether the span is a Langfuse generation observation (embeddings are not generations)."""
    return attributes.get(OBSERVATION_TYPE) == "generation"


def is_embedding(attributes: dict[str, Any]) -> bool:
    """Whether the span is a Langfuse embedding observation (recorded as a provider call)."""
    return attributes.get(OBSERVATION_TYPE) == "embedding"


def _count(details: dict[str, Any], keys) -> int | None:
    for key in keys:
        if details.get(key) is not None:
            return token_count(details[key], f"usage_details {key}")
    return None


def usage(attributes: dict[str, Any]) -> dict[str, int]:
    """Our token fields from ``usage_details`` (empty when the span has none); a
    ``usage_details`` that is not a JSON object of token counts rejects the span."""
    raw = attributes.get(USAGE_DETAILS)
    if raw is None:
        return {}
    try:
        details = json.loads(raw) if isinstance(raw, str) else raw
    except (ValueError, RecursionError):
        details = None
    if not isinstance(details, dict):
        raise ItemRejected(f"{USAGE_DETAILS} is not a JSON object of token counts ({str(raw)[:100]!r}).")
    values = {
        "input_tokens": _count(details, INPUT_KEYS),
        "output_tokens": _count(details, OUTPUT_KEYS),
        "cache_read_tokens": _count(details, CACHE_READ_KEYS),
        "cache_write_tokens": _count(details, CACHE_WRITE_KEYS),
    }
    values = {name: value for name, value in values.items() if value is not None}
    cached = values.get("cache_read_tokens", 0) + values.get("cache_write_tokens", 0)
    if "input_tokens" in values:
        values["input_tokens"] += cached
    return values


def completion_start(attributes: dict[str, Any]) -> datetime.datetime | None:
    """When the first chunk arrived (``completion_start_time``, a JSON-quoted ISO string); None
    when absent or not an ISO 8601 time: it only gives the time to the first chunk, metadata
    that is left out rather than costing the span."""
    raw = attributes.get(COMPLETION_START_TIME)
    if raw is None:
        return None
    try:
        moment = datetime.datetime.fromisoformat(str(raw).strip('"'))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def projects_response(organization) -> dict[str, Any]:
    """``GET /api/public/projects`` as the Langfuse SDK's auth check reads it: the key's
    organization as the one project."""
    return {
        "data": [
            {
                "id": organization.slug,
                "name": organization.name,
                "organization": {"id": organization.slug, "name": organization.name},
                "metadata": {},
            }
        ]
    }
