"""The Langfuse SDK's span attributes (``langfuse.observation.*``), read by the OTLP adapter.

The Langfuse SDKs export OTLP only; a generation is a span whose ``langfuse.observation.type``
is ``generation`` (an ``embedding`` one is a provider call), with usage and cost as JSON strings.

``usage_details`` comes in the two shapes the Langfuse server reads (and prices) itself:

- Langfuse's own, flat and disjoint: every ``input_*`` key (``input_cache_read``,
  ``input_cached_tokens``, ``input_audio``, a modality …) is a part of the input that ``input``
  does not count, every ``output_*`` key (``output_reasoning`` …) a part of the output, as the
  SDK's LangChain handler writes them (it subtracts each detail from ``input``/``output``). Our
  ``input_tokens``/``output_tokens`` include them all, so they are added back (the cache keys
  once each); ``priority*`` and ``flex*`` keys are a tier, not a part, and are not. Anthropic's
  raw keys (``cache_read_input_tokens`` …, also outside ``input_tokens``) and Vertex's cached
  tokens by modality (``cached_modality_TEXT`` …) are read the same way.
- OpenAI's usage object as the SDK's OpenAI drop-in sends it, the details nested
  (``prompt_tokens_details.cached_tokens``, ``completion_tokens_details.reasoning_tokens``; the
  Responses API's ``input_tokens_details``): passed on as the provider's usage object, which the
  metering core reads as it reads one sent to ``generations/``.
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

# Langfuse usage keys → our token fields.
INPUT_KEYS = ("input", "input_tokens", "prompt_tokens")
OUTPUT_KEYS = ("output", "output_tokens", "completion_tokens")
TOTAL_KEYS = ("total", "total_tokens")
# Keys outside ``input_*`` that are parts of the input (Anthropic's raw usage, some SDKs).
CACHE_READ_KEYS = ("cache_read_input_tokens", "cached_tokens")
CACHE_WRITE_KEYS = ("cache_creation_input_tokens",)
# What a part of the input is, by its key: cache reads, else cache writes, else plain input.
CACHE_READ_MARKS = ("cache_read", "cached")
CACHE_WRITE_MARKS = ("cache_creation", "cache_write")
# Service tiers LangChain reports beside the parts (``input_token_details.priority``): the same
# tokens again, not a part.
TIERS = ("priority", "flex")
# OpenAI's nested details (chat completions, then the Responses API).
OPENAI_DETAILS = (
    "prompt_tokens_details",
    "completion_tokens_details",
    "input_tokens_details",
    "output_tokens_details",
)


def is_generation(attributes: dict[str, Any]) -> bool:
    """Whether the span is a Langfuse generation observation (embeddings are not generations)."""
    return attributes.get(OBSERVATION_TYPE) == "generation"


def is_embedding(attributes: dict[str, Any]) -> bool:
    """Whether the span is a Langfuse embedding observation (recorded as a provider call)."""
    return attributes.get(OBSERVATION_TYPE) == "embedding"


def _tokens(value: Any, name: str) -> int | None:
    count = token_count(value, f"usage_details {name}")
    if count is not None and count < 0:
        # Parts are summed: a negative one would lower a count the serializer then takes as true.
        raise ItemRejected(f"usage_details {name} is a negative token count ({count}).")
    return count


def _first(details: dict[str, Any], keys) -> int | None:
    for key in keys:
        if details.get(key) is not None:
            return _tokens(details[key], key)
    return None


def usage(attributes: dict[str, Any]) -> dict[str, Any]:
    """What the span used, from ``usage_details`` (empty when the span has none): OpenAI's usage
    object as sent, under ``usage``, for the metering core's own reader (cached, audio and
    reasoning tokens priced each at its rate); Langfuse's flat keys as our token fields. A
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
    if any(isinstance(details.get(key), dict) for key in OPENAI_DETAILS):
        return {"usage": details}
    values = _langfuse_usage(details)
    return {name: value for name, value in values.items() if value is not None}


def _langfuse_usage(details: dict[str, Any]) -> dict[str, int | None]:
    """Langfuse's flat usage: ``input``/``output`` plus every part named beside them.

    Parts of one kind are summed (``input_audio`` and ``input_modality_text`` are different
    tokens), but the cache keys are names of one count: the reads are the largest read key
    (``input_cached_tokens`` and ``cache_read_input_tokens`` from one source are the same
    tokens), the writes the largest write key, else the sum of the writes by lifetime
    (``input_ephemeral_5m_input_tokens`` …), which some LangChain versions send beside their
    total. A tier (``priority``, ``flex``) is not a part of its own."""
    values = {
        "input_tokens": _first(details, INPUT_KEYS),
        "output_tokens": _first(details, OUTPUT_KEYS),
        "cache_read_tokens": None,
        "cache_write_tokens": None,
    }
    named = {*INPUT_KEYS, *OUTPUT_KEYS, *TOTAL_KEYS}
    plain = {"input": 0, "output": 0}
    reads: list[int] = []
    writes: list[int] = []
    lifetimes: list[int] = []
    read_modalities = 0
    seen = set()
    for key, value in details.items():
        if key in named or isinstance(value, dict | list):
            continue  # a count read above, a total, or a breakdown Langfuse does not price
        if key.startswith("cached_modality_"):
            # Vertex's cached tokens by modality, each subtracted from ``input`` by the handler.
            read_modalities += _tokens(value, key) or 0
            seen.add("input")
            continue
        if key.startswith("output_"):
            side = "output"
        elif key.startswith("input_") or key in CACHE_READ_KEYS or key in CACHE_WRITE_KEYS:
            side = "input"
        else:
            continue
        if key.removeprefix(f"{side}_").startswith(TIERS):
            continue  # a tier of tokens the other keys count, not a part of its own
        count = _tokens(value, key)
        if count is None:
            continue
        seen.add(side)
        if side == "input" and any(mark in key for mark in CACHE_READ_MARKS):
            reads.append(count)
        elif side == "input" and "ephemeral_" in key:
            lifetimes.append(count)
        elif side == "input" and any(mark in key for mark in CACHE_WRITE_MARKS):
            writes.append(count)
        else:
            plain[side] += count
    if reads or read_modalities:
        values["cache_read_tokens"] = max(max(reads, default=0), read_modalities)
    if writes or lifetimes:
        values["cache_write_tokens"] = max(writes, default=0) or sum(lifetimes)
    cached = (values["cache_read_tokens"] or 0) + (values["cache_write_tokens"] or 0)
    if values["input_tokens"] is not None or "input" in seen:
        values["input_tokens"] = (values["input_tokens"] or 0) + plain["input"] + cached
    if values["output_tokens"] is not None or "output" in seen:
        values["output_tokens"] = (values["output_tokens"] or 0) + plain["output"]
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
