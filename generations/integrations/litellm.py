"""LiteLLM's ``generic_api`` logging callback → generation items.

The callback posts ``StandardLoggingPayload`` objects (``litellm/types/utils.py``) in one of
three ``log_format``s: ``json_array`` (a JSON array per batch, the default), ``ndjson`` (one
object per line) and ``single`` (one object per request). Each payload becomes the item a client
would POST to ``generations/bulk/``:

- ``request_id`` ``litellm:<id>`` (the payload's id, one per call), so a re-sent batch writes nothing twice;
- model and provider (``custom_llm_provider``); usage from the OpenAI-shaped ``usage_object``
  LiteLLM keeps for every provider, rebuilt as the provider's own usage object (Anthropic's for
  a call with Anthropic's cache writes or server tools, OpenAI's chat shape otherwise:
  ``_provider_usage``) so every unit is priced (cache writes by lifetime, web searches, audio
  and reasoning tokens), else its top-level counts;
- ``response_cost`` as the client's cost (``client_cost_usd``); Inkwell prices the tokens itself;
- a cache hit served by LiteLLM's own cache costs nothing: no tokens are billed;
- the end user (the proxy's, else the request's ``user``), team and key metadata, status and
  error, times, messages and response; a trace id that is a UUID becomes ``trace_id``.

An embedding call (``call_type`` ``embedding`` / ``aembedding``) is mapped the same way and then
recorded as a provider call (``provider_calls.provider_call_item``), not a generation.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.conf import settings

from generations.api.serializers import MAX_CONTENT_CHARS, MAX_ERROR_MESSAGE_CHARS
from generations.choices import ContentFormat, GenerationStatus
from generations.integrations.client_values import (
    CONVERSATION_CHARS,
    MODEL_CHARS,
    PROVIDER_CHARS,
    REQUEST_ID_CHARS,
    USER_CHARS,
    ItemRejected,
    fitted,
    identifier,
    milliseconds,
    moment,
    money,
    token_count,
)
from generations.integrations.messages import message_text, transcript
from generations.integrations.recording import call_time_fields
from tenancy.api.parsers import check_json_value
from tenancy.errors import DomainError

REQUEST_ID_PREFIX = "litellm"
# ``StandardLoggingPayloadStatus``: anything else is not a payload we understand.
STATUSES = {"success": GenerationStatus.SUCCESS, "failure": GenerationStatus.FAILED}
EMBEDDING_CALL_TYPES = frozenset({"embedding", "aembedding"})
# Metadata of the LiteLLM proxy's key and team worth keeping (never the key itself: LiteLLM
# sends only its hash and alias).
KEPT_METADATA = (
    "user_api_key_alias",
    "user_api_key_hash",
    "user_api_key_team_id",
    "user_api_key_team_alias",
    "user_api_key_org_id",
    "user_api_key_user_id",
    "user_api_key_project_id",
    "team_id",
    "team_alias",
    "spend_logs_metadata",
    "requester_metadata",
)


class UnreadableLogs(DomainError):
    """The body is not LiteLLM logging payloads in any of its formats (400)."""

    code = "unreadable_payload"


class PayloadRejected(ItemRejected):
    """One payload that cannot be mapped; rejected alone."""


def parse_body(body: bytes) -> list[Any]:
    """The payloads of a ``json_array``, ``ndjson`` or ``single`` body, in order."""
    try:
        text = body.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise UnreadableLogs("The body is not UTF-8 text.") from exc
    if not text:
        raise UnreadableLogs("The body is empty.")
    try:
        try:
            document = json.loads(text)
        except ValueError:
            lines = [line for line in text.splitlines() if line.strip()]
            try:
                payloads = [json.loads(line) for line in lines]
            except ValueError as exc:
                raise UnreadableLogs(f"The body is neither JSON nor NDJSON: {exc}") from exc
        else:
            payloads = document if isinstance(document, list) else [document]
    except RecursionError as exc:
        raise UnreadableLogs("The body nests too deeply.") from exc
    # The same limits as every other API body (depth, NUL, lone surrogates): 400, never a 500.
    check_json_value(payloads, max_depth=settings.API_MAX_JSON_DEPTH)
    return payloads


def _int(value: Any) -> int | None:
    return token_count(value, "Token count")


def _usage(payload: dict[str, Any], metadata: dict[str, Any], hidden: dict[str, Any]) -> dict[str, Any]:
    """What the call used, for the item: the provider's usage object rebuilt from LiteLLM's
    ``usage_object`` (so the metering core reads every unit the provider bills), else the
    payload's top-level counts as our token fields."""
    usage = metadata.get("usage_object") or hidden.get("usage_object")
    if isinstance(usage, dict) and usage.get("prompt_tokens") is not None:
        return {"usage": _provider_usage(usage)}
    values = {
        "input_tokens": _int(payload.get("prompt_tokens")),
        "output_tokens": _int(payload.get("completion_tokens")),
    }
    return {name: value for name, value in values.items() if value is not None}


def _details(usage: dict[str, Any], key: str) -> dict[str, Any]:
    details = usage.get(key)
    return details if isinstance(details, dict) else {}


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None and value != {}}


def _provider_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """LiteLLM's OpenAI-shaped usage as the provider's own object.

    ``prompt_tokens`` counts the cached tokens (read and written). A call to Anthropic (LiteLLM
    keeps its ``cache_creation_input_tokens``, the split of the writes by cache lifetime and the
    server tools' requests) is rebuilt in Anthropic's shape, whose input leaves the cached tokens
    out: a write cached for an hour costs more than one cached for five minutes, and a web search
    is billed per request. Any other call keeps OpenAI's chat shape (cached, audio and reasoning
    tokens in its details), which OpenAI's reader prices and most providers' APIs copy."""
    prompt, completion = _int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens"))
    prompt_details = _details(usage, "prompt_tokens_details")
    completion_details = _details(usage, "completion_tokens_details")
    read = _int(usage.get("cache_read_input_tokens"))
    if read is None:
        read = _int(prompt_details.get("cached_tokens"))
    written = _int(usage.get("cache_creation_input_tokens"))
    if written is None:
        written = _int(prompt_details.get("cache_creation_tokens"))
    lifetimes = _details(prompt_details, "cache_creation_token_details")
    searches = _int(_details(usage, "server_tool_use").get("web_search_requests"))
    if usage.get("cache_creation_input_tokens") is not None or searches:
        cached = (read or 0) + (written or 0)
        # An older LiteLLM left the cached tokens out of prompt_tokens, as Anthropic does.
        uncached = prompt - cached if prompt is not None and prompt >= cached else prompt
        return _present(
            {
                "input_tokens": uncached,
                "output_tokens": completion,
                "cache_read_input_tokens": read,
                "cache_creation_input_tokens": written,
                "cache_creation": _present(
                    {
                        name: _int(lifetimes.get(name))
                        for name in ("ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens")
                    }
                ),
                "server_tool_use": _present({"web_search_requests": searches}),
            }
        )
    if read is not None and prompt is not None and prompt < read:
        prompt += read  # a count that cannot include its cached part did not
    return _present(
        {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "prompt_tokens_details": _present(
                {
                    "cached_tokens": read,
                    "cache_write_tokens": written,
                    "audio_tokens": _int(prompt_details.get("audio_tokens")),
                }
            ),
            "completion_tokens_details": _present(
                {
                    "audio_tokens": _int(completion_details.get("audio_tokens")),
                    "reasoning_tokens": _int(completion_details.get("reasoning_tokens")),
                }
            ),
        }
    )


def _choice_text(choice: Any) -> str:
    if isinstance(choice, dict):
        return message_text(choice.get("message") or choice.get("text"))
    return message_text(choice)


def _answer(response: Any) -> str:
    if isinstance(response, dict) and isinstance(response.get("choices"), list):
        return "\n\n".join(text for text in map(_choice_text, response["choices"]) if text)
    return message_text(response)


def _trace_id(value: Any) -> str:
    """LiteLLM's trace id is a UUID: its 32 hex digits are a valid W3C trace id."""
    try:
        return uuid.UUID(str(value)).hex
    except (ValueError, TypeError):
        return ""


def is_embedding(payload: Any) -> bool:
    """Whether a payload logs an embeddings call (a provider call, not a generation)."""
    call_type = payload.get("call_type") if isinstance(payload, dict) else None
    # Only a string names a call type (a list or an object sent there is not hashable).
    return isinstance(call_type, str) and call_type in EMBEDDING_CALL_TYPES


def payload_item(payload: Any) -> dict[str, Any]:
    """The generation item of one ``StandardLoggingPayload``; :class:`PayloadRejected` if unreadable."""
    if not isinstance(payload, dict):
        raise PayloadRejected("A logging payload is a JSON object.")
    if "modelParameters" in payload and isinstance(payload.get("startTime"), str):
        # ``litellm.generic_api_use_v1`` (``_get_v1_logging_payload``) sends str() of every
        # value: its usage is a Python repr and its times are naive local datetimes, so neither
        # the tokens nor the moment that prices them can be read.
        raise PayloadRejected(
            "This is LiteLLM's legacy generic_api_use_v1 payload (every value as text, usage as a "
            "Python repr); set litellm.generic_api_use_v1 = False to send StandardLoggingPayloads."
        )
    call_id = payload.get("id") or payload.get("litellm_call_id")
    if not call_id or not isinstance(call_id, str):
        raise PayloadRejected("The payload has no id (a string).")
    metadata = payload.get("metadata") if isinstance(payload.get("metadata"), dict) else {}
    hidden = payload.get("hidden_params") if isinstance(payload.get("hidden_params"), dict) else {}
    status = payload.get("status") or "success"
    status = STATUSES.get(status) if isinstance(status, str) else None
    if status is None:
        raise PayloadRejected(f"status {payload.get('status')!r} is neither 'success' nor 'failure'.")
    failed = status == GenerationStatus.FAILED
    cache_hit = payload.get("cache_hit")
    if cache_hit not in (None, True, False):
        raise PayloadRejected(f"cache_hit {cache_hit!r} is neither true nor false.")
    cache_hit = bool(cache_hit)
    item: dict[str, Any] = {
        # Never cut to fit: two long ids sharing a prefix would be one call. Shortened with a
        # hash of the whole id instead, the same way on every replay.
        "request_id": fitted(f"{REQUEST_ID_PREFIX}:{call_id}", REQUEST_ID_CHARS),
        "provider": identifier(
            payload.get("custom_llm_provider"), "custom_llm_provider", max_length=PROVIDER_CHARS, lower=True
        )
        or "",
        "model": identifier(
            hidden.get("litellm_model_name") or payload.get("model"), "model", max_length=MODEL_CHARS
        )
        or "",
        "status": status,
        "trace_id": _trace_id(payload.get("trace_id")),
        "content_format": ContentFormat.PLAIN,
    }
    usage = _usage(payload, metadata, hidden)
    # LiteLLM served a cache hit from its own cache: no provider call, nothing to bill.
    item.update({"input_tokens": 0, "output_tokens": 0} if cache_hit else usage)
    cost = money(payload.get("response_cost"), "response_cost")
    if cost is not None:
        item["client_cost_usd"] = str(cost)
    parameters = payload.get("model_parameters") if isinstance(payload.get("model_parameters"), dict) else {}
    # The proxy names the end user; the SDK only passes on the request's OpenAI ``user``.
    end_user = identifier(
        payload.get("end_user") or metadata.get("user_api_key_end_user_id") or parameters.get("user"),
        "end_user",
        max_length=USER_CHARS,
    )
    if end_user:
        item["user_ref"] = end_user
    session = identifier(payload.get("session_id"), "session_id", max_length=CONVERSATION_CHARS)
    if session:
        item["conversation_id"] = session
    started, ended = moment(payload.get("startTime"), "startTime"), moment(payload.get("endTime"), "endTime")
    item.update(call_time_fields(started, ended))
    messages = payload.get("messages")
    if messages:
        item["raw_request"] = {"messages": messages}
        item["prompt"] = transcript(messages)[:MAX_CONTENT_CHARS]
    response = payload.get("response")
    if response and not failed:
        item["raw_response"] = response if isinstance(response, dict | list) else {"output": response}
        item["content"] = _answer(response)[:MAX_CONTENT_CHARS]
    if parameters:
        item["parameters"] = parameters
    if failed:
        information = payload.get("error_information")
        information = information if isinstance(information, dict) else {}
        item["error_message"] = str(
            payload.get("error_str") or information.get("error_message") or "LiteLLM reported a failure."
        )[:MAX_ERROR_MESSAGE_CHARS]
        item["error_details"] = {
            key: value
            for key, value in information.items()
            if key in ("error_code", "error_class", "llm_provider") and value is not None
        }
    extra: dict[str, Any] = {
        "source": "litellm",
        "call_type": payload.get("call_type"),
        "cache_hit": cache_hit,
    }
    if cache_hit and usage:
        extra["cached_usage"] = usage.get("usage", usage)  # what the provider call had used
    if started:
        extra["started_at"] = started.isoformat()
    # Metadata only: a completionStartTime that is no time, or gives no duration we can keep,
    # leaves the time to the first chunk out and keeps the call.
    try:
        first_chunk = moment(payload.get("completionStartTime"), "completionStartTime")
    except ItemRejected:
        first_chunk = None
    first_chunk_ms = (
        milliseconds((first_chunk - started).total_seconds()) if started and first_chunk else None
    )
    if first_chunk_ms is not None and payload.get("stream"):
        extra["time_to_first_chunk_ms"] = first_chunk_ms
    for key in ("model_group", "model_id", "api_base", "request_tags", "litellm_call_id", "trace_id"):
        if payload.get(key) not in (None, "", []):
            extra[key] = payload[key]
    extra.update({key: metadata[key] for key in KEPT_METADATA if metadata.get(key) not in (None, "", {})})
    item["metadata"] = extra
    return item
