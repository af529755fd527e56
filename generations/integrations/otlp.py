"""OTLP/HTTP trace exports → generation items (the body of one ``POST generations/bulk/`` item)
and provider-call items (embeddings; the body of ``POST usage/``).

Decoding: protobuf (``application/x-protobuf``) with ``opentelemetry-proto``'s own message
classes, or OTLP/JSON (``application/json``) with protobuf's JSON mapping, after turning the hex
trace and span ids OTLP/JSON uses into the base64 that the canonical JSON mapping expects.
Bodies may be gzip-compressed; one that inflates past the bulk limit is refused.

Which spans are generations: ``gen_ai.operation.name`` chat / text_completion / generate_content,
OpenInference's ``openinference.span.kind = LLM``, a Langfuse ``generation`` observation, or any
span naming a request or response model. Embeddings (``gen_ai.operation.name = embeddings``,
``openinference.span.kind = EMBEDDING``, a Langfuse ``embedding`` observation) are provider calls:
mapped the same way, then recorded through ``provider_calls`` (analytics' recorder). Others are
counted and dropped.

Mapping follows the OpenTelemetry GenAI semantic conventions and the names tools still emit
(OpenLLMetry, OpenInference, Langfuse); see ``ATTRIBUTES`` and :func:`span_item`. Tokens become
our token fields, which the metering core prices exactly as a native POST's.
"""

from __future__ import annotations

import base64
import datetime
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from generations.api.serializers import MAX_CONTENT_CHARS, MAX_ERROR_MESSAGE_CHARS
from generations.choices import ContentFormat, GenerationStatus
from generations.integrations import langfuse
from generations.integrations.client_values import (
    AGENT_NAME_CHARS,
    CONVERSATION_CHARS,
    MAX_COUNT_CHARS,
    MODEL_CHARS,
    PROVIDER_CHARS,
    USER_CHARS,
    BytesText,
    ItemRejected,
    fitted,
    identifier,
    milliseconds,
    money,
    token_count,
)
from generations.integrations.messages import json_value, message_text, transcript
from generations.integrations.provider_calls import check_one_kind, provider_call_item
from generations.integrations.recording import call_time_fields
from tenancy.errors import DomainError

PROTOBUF_TYPES = frozenset({"application/x-protobuf", "application/protobuf"})
JSON_TYPES = frozenset({"application/json"})
REQUEST_ID_PREFIX = "otel"
GENERATION_OPERATIONS = frozenset({"chat", "text_completion", "generate_content"})
EMBEDDING_OPERATIONS = frozenset({"embeddings"})

# First attribute present wins, in this order: the current convention, then older names.
PROVIDER_KEYS = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
MODEL_KEYS = (
    "gen_ai.response.model",
    "gen_ai.request.model",
    "llm.model_name",
    langfuse.MODEL,
    "embedding.model_name",  # OpenInference's embedding spans
)
INPUT_TOKEN_KEYS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt")
OUTPUT_TOKEN_KEYS = (
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
)
CACHE_READ_KEYS = (
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "llm.token_count.prompt_details.cache_read",
)
CACHE_WRITE_KEYS = (
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_write.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "llm.token_count.prompt_details.cache_write",
)
# Token counts we keep (in metadata.usage_details) but do not price separately yet.
DETAIL_TOKEN_KEYS = {
    "gen_ai.usage.reasoning.output_tokens": "reasoning_output_tokens",
    "gen_ai.usage.reasoning_tokens": "reasoning_output_tokens",
    "llm.token_count.completion_details.reasoning": "reasoning_output_tokens",
    "gen_ai.usage.input_audio_tokens": "input_audio_tokens",
    "gen_ai.usage.output_audio_tokens": "output_audio_tokens",
    "llm.token_count.prompt_details.audio": "input_audio_tokens",
    "llm.token_count.completion_details.audio": "output_audio_tokens",
}
MODALITY_PREFIXES = ("gen_ai.usage.input_tokens.", "gen_ai.usage.output_tokens.")
CLIENT_COST_KEYS = ("gen_ai.usage.cost", "llm.cost.total")
USER_KEYS = ("user.id", "enduser.id", langfuse.USER_ID)
CONVERSATION_KEYS = ("gen_ai.conversation.id", "session.id", langfuse.SESSION_ID)
REQUEST_PARAMETER_PREFIX = "gen_ai.request."
NOT_PARAMETERS = frozenset({"gen_ai.request.model"})
MESSAGE_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
STACKTRACE_CHARS = 10_000


class UnreadableExport(DomainError):
    """The body is not an OTLP trace export we can read (400)."""

    code = "unreadable_export"


class ExportTooLarge(DomainError):
    """The body inflates past the bulk size limit (413)."""

    status_code = 413
    code = "request_too_large"


# --- decoding -----------------------------------------------------------------------------------


GZIP_ENCODINGS = frozenset({"gzip", "x-gzip"})  # RFC 9110 §8.4.1.3: x-gzip is gzip
# Exporters write one member; a few are legal, thousands of empty ones only cost us CPU.
MAX_GZIP_MEMBERS = 64


def inflate(body: bytes, *, encoding: str, limit: int) -> bytes:
    """The body without its ``Content-Encoding`` (gzip or none), refusing more than ``limit`` bytes.

    A gzip body may hold several members one after the other (RFC 1952); each is inflated in
    turn, the limit counting them all. Bytes after the last member that are not one are refused,
    rather than dropped unread."""
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in GZIP_ENCODINGS:
        raise UnreadableExport(f"Unsupported Content-Encoding {encoding!r}; send gzip or none.")
    parts: list[bytes] = []
    size = 0
    remaining = body
    while True:
        if len(parts) == MAX_GZIP_MEMBERS:
            raise UnreadableExport(f"The gzip body has more than {MAX_GZIP_MEMBERS} members.")
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            part = inflater.decompress(remaining, limit - size + 1)
        except zlib.error as exc:
            raise UnreadableExport(f"The gzip body cannot be decompressed: {exc}.") from exc
        size += len(part)
        if size > limit or inflater.unconsumed_tail:
            raise ExportTooLarge(f"The body inflates past the limit of {limit} bytes.")
        if not inflater.eof:
            raise UnreadableExport("The gzip body is truncated.")
        parts.append(part)
        remaining = inflater.unused_data
        if not remaining:
            return b"".join(parts)


def _hex_to_base64(value: Any) -> Any:
    """OTLP/JSON writes ids as hex; protobuf's JSON mapping reads bytes as base64. Ids that are
    not hex are left empty, so the span is rejected on its own (not the whole export)."""
    if not isinstance(value, str):
        return value
    try:
        return base64.b64encode(bytes.fromhex(value)).decode()
    except ValueError:
        return ""


ID_KEYS = ("traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id")


def _dicts(value: Any) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _convert_ids(document: Any) -> None:
    if not isinstance(document, dict):
        raise UnreadableExport("An OTLP/JSON export is a JSON object with resourceSpans.")
    for resource_spans in _dicts(document.get("resourceSpans", document.get("resource_spans"))):
        for scope_spans in _dicts(resource_spans.get("scopeSpans", resource_spans.get("scope_spans"))):
            for span in _dicts(scope_spans.get("spans")):
                for link in [span, *_dicts(span.get("links"))]:
                    for name in ID_KEYS:
                        if name in link:
                            link[name] = _hex_to_base64(link[name])


def decode_export(body: bytes, *, content_type: str) -> ExportTraceServiceRequest:
    """An ``ExportTraceServiceRequest`` from an (inflated) protobuf or OTLP/JSON body."""
    message = ExportTraceServiceRequest()
    if content_type in PROTOBUF_TYPES:
        try:
            message.ParseFromString(body)
        except (DecodeError, ValueError) as exc:
            raise UnreadableExport(f"The body is not a protobuf ExportTraceServiceRequest: {exc}") from exc
        return message
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnreadableExport(f"The body is not JSON: {exc}") from exc
    except RecursionError as exc:  # a body nested past the JSON scanner's limit: 400, not 500
        raise UnreadableExport("The body nests too deeply.") from exc
    _convert_ids(document)
    try:
        json_format.ParseDict(document, message, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
        raise UnreadableExport(f"The body is not an OTLP/JSON trace export: {exc}") from exc
    return message


def encode_response(response: ExportTraceServiceResponse, *, content_type: str) -> bytes:
    """The response in the request's encoding, as OTLP/HTTP requires."""
    if content_type in PROTOBUF_TYPES:
        return response.SerializeToString()
    return json.dumps(json_format.MessageToDict(response)).encode()


# --- reading spans ------------------------------------------------------------------------------


def any_value(value: AnyValue) -> Any:
    """An ``AnyValue`` as plain Python (arrays as lists, key-value lists as dicts)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return attributes_of(value.kvlist_value.values)
    if kind == "bytes_value":
        return BytesText(value.bytes_value.hex())
    return getattr(value, kind)


def attributes_of(pairs: list[KeyValue]) -> dict[str, Any]:
    """Key-value pairs as a dict (a later duplicate key wins, as in the SDKs)."""
    return {pair.key: any_value(pair.value) for pair in pairs}


@dataclass(frozen=True)
class SpanInContext:
    """A span with the resource and instrumentation scope it was exported under."""

    span: Span
    resource: dict[str, Any]
    scope_name: str
    scope_version: str


def spans_of(export: ExportTraceServiceRequest) -> Iterator[SpanInContext]:
    """Every span of an export, in order."""
    for resource_spans in export.resource_spans:
        resource = attributes_of(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield SpanInContext(span, resource, scope_spans.scope.name, scope_spans.scope.version)


def _first(attributes: dict[str, Any], keys) -> Any:
    for key in keys:
        value = attributes.get(key)
        if value not in (None, ""):
            return value
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def is_embedding(attributes: dict[str, Any]) -> bool:
    """Whether a span records an embeddings call (a provider call, not a generation)."""
    # An attribute may hold a list or a map (unhashable): only a string names an operation.
    if _text(attributes.get("gen_ai.operation.name")) in EMBEDDING_OPERATIONS:
        return True
    if str(attributes.get("openinference.span.kind", "")).upper() == "EMBEDDING":
        return True
    return langfuse.is_embedding(attributes)


def is_generation(attributes: dict[str, Any]) -> bool:
    """Whether a span records an LLM call that generates (see the module docstring)."""
    if _text(attributes.get("gen_ai.operation.name")) in GENERATION_OPERATIONS:
        return True
    if is_embedding(attributes):
        return False
    if str(attributes.get("openinference.span.kind", "")).upper() == "LLM":
        return True
    if langfuse.is_generation(attributes):
        return True
    return any(attributes.get(key) for key in MODEL_KEYS)


class SpanRejected(ItemRejected):
    """A generation span that cannot be mapped (bad ids, unreadable numbers); rejected alone."""


def _tokens(attributes: dict[str, Any], keys, name: str) -> int | None:
    return token_count(_first(attributes, keys), name)


def _money(value: Any) -> Decimal | None:
    if isinstance(value, dict):  # Langfuse's cost_details: {"input": …, "output": …, "total": …}
        if not value:
            return None
        if "total" in value:
            return _money(value["total"])
        return sum((_money(part) or Decimal(0)) for part in value.values())
    return money(value, "The client cost")


def _client_cost(attributes: dict[str, Any]) -> Decimal | None:
    """The cost the client reported (kept apart from ours): a reported $0 is a cost, too."""
    for key in CLIENT_COST_KEYS:
        if attributes.get(key) is not None:
            return _money(attributes[key])
    details = json_value(attributes.get(langfuse.COST_DETAILS))
    if isinstance(details, str):  # not a JSON object: a bare amount, or nothing we can read
        return money(details, langfuse.COST_DETAILS)
    return _money(details)


def _moment(unix_nano: int) -> datetime.datetime | None:
    if not unix_nano:
        return None
    return datetime.datetime.fromtimestamp(unix_nano / 1e9, tz=datetime.UTC)


def _flattened_messages(attributes: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """OpenLLMetry's ``gen_ai.prompt.N.role`` / ``.content`` (and ``llm.input_messages.N.*``)."""
    messages: dict[int, dict[str, Any]] = {}
    for key, value in attributes.items():
        if not key.startswith(prefix):
            continue
        number, _, field_name = key[len(prefix) :].partition(".")
        # ASCII and bounded: int() refuses other digits ("²") and strings past 4,300 digits.
        if number.isascii() and number.isdigit() and len(number) <= MAX_COUNT_CHARS and field_name:
            messages.setdefault(int(number), {})[field_name.removeprefix("message.")] = json_value(value)
    return [messages[number] for number in sorted(messages)]


def _events(span: Span) -> list[tuple[str, dict[str, Any]]]:
    return [(event.name, attributes_of(event.attributes)) for event in span.events]


def _event_messages(span: Span) -> tuple[list[Any], list[Any]]:
    """Messages from the ``gen_ai.*`` events (the conventions' older and newer forms)."""
    inputs: list[Any] = []
    outputs: list[Any] = []
    for name, attributes in _events(span):
        if name in MESSAGE_EVENTS:
            body = json_value(attributes.get("content", attributes.get("body")))
            inputs.append({"role": attributes.get("role", MESSAGE_EVENTS[name]), "content": body})
        elif name == "gen_ai.choice":
            outputs.append(json_value(attributes.get("message", attributes.get("body", attributes))))
        elif name == "gen_ai.client.inference.operation.details":
            inputs.extend(_message_list(attributes.get("gen_ai.input.messages")))
            outputs.extend(_message_list(attributes.get("gen_ai.output.messages")))
    return inputs, outputs


def _message_list(value: Any) -> list[Any]:
    """An event's messages: the conventions' JSON array; one object or one text is one message
    (not its keys or its characters); a number or a boolean is no message."""
    value = json_value(value)
    if isinstance(value, list):
        return value
    return [value] if isinstance(value, dict | str) and value else []


TEXT_MESSAGE_KEYS = frozenset({"role", "parts", "finish_reason"})


def _text_only(messages: list[Any]) -> bool:
    """Whether output messages (the conventions' form) hold nothing but text, which ``content``
    then says in full (finish reasons are in metadata): no need to store them twice."""
    for message in messages:
        if not isinstance(message, dict) or set(message) - TEXT_MESSAGE_KEYS:
            return False
        parts = message.get("parts")
        if not isinstance(parts, list) or any(
            not isinstance(part, dict) or part.get("type") != "text" for part in parts
        ):
            return False
    return True


def _content(attributes: dict[str, Any], span: Span) -> dict[str, Any]:
    """Prompt, content and the raw messages, from whichever form the instrumentation used."""
    system = json_value(attributes.get("gen_ai.system_instructions"))
    inputs = json_value(attributes.get("gen_ai.input.messages"))
    outputs = json_value(attributes.get("gen_ai.output.messages"))
    event_inputs, event_outputs = _event_messages(span)
    inputs = inputs if isinstance(inputs, list) else event_inputs
    outputs = outputs if isinstance(outputs, list) else event_outputs
    if not inputs:
        inputs = _flattened_messages(attributes, "gen_ai.prompt.") or _flattened_messages(
            attributes, "llm.input_messages."
        )
    if not outputs:
        outputs = _flattened_messages(attributes, "gen_ai.completion.") or _flattened_messages(
            attributes, "llm.output_messages."
        )
    raw_input = _first(attributes, ("input.value", langfuse.INPUT))
    raw_output = _first(attributes, ("output.value", langfuse.OUTPUT))
    values: dict[str, Any] = {}
    request: dict[str, Any] = {}
    if system:
        request["system_instructions"] = system
    if inputs:
        request["messages"] = inputs
    elif raw_input is not None:
        request["input"] = json_value(raw_input)
    if request:
        values["raw_request"] = request
        prompt = transcript(([{"role": "system", "content": system}] if system else []) + (inputs or []))
        values["prompt"] = (prompt or message_text(request.get("input")))[:MAX_CONTENT_CHARS]
    if outputs:
        answers = [
            message.get("message", message) if isinstance(message, dict) else message for message in outputs
        ]
        values["content"] = "\n\n".join(text for text in map(message_text, answers) if text)[
            :MAX_CONTENT_CHARS
        ]
        if not _text_only(outputs):
            # Tool calls, media, anything beyond text: keep the messages as sent.
            values["raw_response"] = {"messages": outputs}
    elif raw_output is not None:
        values["raw_response"] = {"output": json_value(raw_output)}
        values["content"] = message_text(json_value(raw_output))[:MAX_CONTENT_CHARS]
    if "content" in values:
        values["content_format"] = ContentFormat.PLAIN
    return values


def _usage(attributes: dict[str, Any]) -> dict[str, Any]:
    """Our token fields. Input counts cached reads and writes (as the conventions and our columns
    do); a source whose input excludes them (cache counts above input, as Anthropic's raw usage
    reports) has them added back, so the metering core sees one meaning. A Langfuse span's
    provider usage object (``langfuse.usage``) is passed on as it is when the span has no counts
    of the conventions'."""
    details = langfuse.usage(attributes)
    values = {
        "input_tokens": _tokens(attributes, INPUT_TOKEN_KEYS, "input tokens"),
        "output_tokens": _tokens(attributes, OUTPUT_TOKEN_KEYS, "output tokens"),
        "cache_read_tokens": _tokens(attributes, CACHE_READ_KEYS, "cache read tokens"),
        "cache_write_tokens": _tokens(attributes, CACHE_WRITE_KEYS, "cache write tokens"),
    }
    if "usage" in details:
        if all(value is None for value in values.values()):
            return details
        details = {}  # the conventions' counts, not both (the API takes one or the other)
    for name, value in details.items():
        if values.get(name) is None:
            values[name] = value
    values = {name: value for name, value in values.items() if value is not None}
    cached = values.get("cache_read_tokens", 0) + values.get("cache_write_tokens", 0)
    if cached and values.get("input_tokens", 0) < cached:
        values["input_tokens"] = values.get("input_tokens", 0) + cached
    return values


def _usage_details(attributes: dict[str, Any]) -> dict[str, int]:
    details: dict[str, int] = {}
    for key, name in DETAIL_TOKEN_KEYS.items():
        count = token_count(attributes.get(key), key)
        if count is not None and name not in details:
            details[name] = count
    for key, value in attributes.items():
        if key.startswith(MODALITY_PREFIXES):
            details[key.removeprefix("gen_ai.usage.").replace(".", "_")] = token_count(value, key)
    return details


def _parameters(attributes: dict[str, Any]) -> dict[str, Any]:
    parameters = {
        key.removeprefix(REQUEST_PARAMETER_PREFIX): value
        for key, value in attributes.items()
        if key.startswith(REQUEST_PARAMETER_PREFIX) and key not in NOT_PARAMETERS
    }
    for key in ("llm.invocation_parameters", langfuse.MODEL_PARAMETERS):
        extra = json_value(attributes.get(key))
        if isinstance(extra, dict):
            parameters.update(extra)
    return parameters


def _error(span: Span) -> dict[str, Any]:
    if span.status.code != Status.STATUS_CODE_ERROR:
        return {"status": GenerationStatus.SUCCESS}
    values: dict[str, Any] = {"status": GenerationStatus.FAILED, "error_message": span.status.message}
    for name, attributes in _events(span):
        if name == "exception":
            values["error_message"] = values["error_message"] or str(attributes.get("exception.message", ""))
            values["error_details"] = {
                key.removeprefix("exception."): str(value)[:STACKTRACE_CHARS]
                for key, value in attributes.items()
                if key.startswith("exception.")
            }
            break
    # The message as far as the column holds it (a stack trace in it must not cost the call).
    message = values["error_message"] or "The span ended with an error status."
    values["error_message"] = message[:MAX_ERROR_MESSAGE_CHARS]
    return values


def _hex(raw: bytes, length: int, name: str, *, required: bool = True) -> str:
    if not raw:
        if required:
            raise SpanRejected(f"The span has no {name} (OTLP/JSON writes it as {2 * length} hex digits).")
        return ""
    if len(raw) != length or not any(raw):
        raise SpanRejected(f"The span's {name} is not {length} bytes, not all zero.")
    return raw.hex()


def request_id_for(trace_id: str, span_id: str) -> str:
    """A span's idempotency key: an exporter's retry of it writes nothing twice."""
    return f"{REQUEST_ID_PREFIX}:{trace_id}:{span_id}"


def span_item(context: SpanInContext, attributes: dict[str, Any]) -> dict[str, Any]:
    """The generation item of a generation span (API field names, our token fields).

    Raises :class:`SpanRejected` for a span that cannot be read; the item is then validated by
    the API's bulk item serializer like any other.
    """
    span = context.span
    trace_id = _hex(span.trace_id, 16, "trace id")
    span_id = _hex(span.span_id, 8, "span id")
    started, ended = _moment(span.start_time_unix_nano), _moment(span.end_time_unix_nano)
    item: dict[str, Any] = {
        "request_id": request_id_for(trace_id, span_id),
        "trace_id": trace_id,
        "span_id": span_id,
        "parent_span_id": _hex(span.parent_span_id, 8, "parent span id", required=False),
        "provider": identifier(
            _first(attributes, PROVIDER_KEYS), "The provider", max_length=PROVIDER_CHARS, lower=True
        )
        or "",
        "model": identifier(_first(attributes, MODEL_KEYS), "The model", max_length=MODEL_CHARS) or "",
        "agent_name": fitted(
            str(attributes.get("gen_ai.agent.name") or context.resource.get("service.name") or ""),
            AGENT_NAME_CHARS,
        ),
        **_usage(attributes),
        **_content(attributes, span),
        **_error(span),
    }
    user = identifier(_first(attributes, USER_KEYS), "The user id", max_length=USER_CHARS)
    if user is not None:
        item["user_ref"] = user
    conversation = identifier(
        _first(attributes, CONVERSATION_KEYS), "The conversation id", max_length=CONVERSATION_CHARS
    )
    if conversation is not None:
        item["conversation_id"] = conversation
    cost = _client_cost(attributes)
    if cost is not None:
        item["client_cost_usd"] = str(cost)
    parameters = _parameters(attributes)
    if parameters:
        item["parameters"] = parameters
    item.update(
        call_time_fields(
            started, ended, seconds=Decimal(span.end_time_unix_nano - span.start_time_unix_nano) / 10**9
        )
    )
    metadata: dict[str, Any] = {
        "source": "otlp",
        "span_name": span.name,
        "instrumentation": {"name": context.scope_name, "version": context.scope_version},
    }
    if started:
        metadata["started_at"] = started.isoformat()
    if context.resource.get("service.name"):
        metadata["service_name"] = context.resource["service.name"]
    for key, name in (
        ("gen_ai.operation.name", "operation"),
        ("gen_ai.response.id", "response_id"),
        ("gen_ai.response.finish_reasons", "finish_reasons"),
        (langfuse.OBSERVATION_TYPE, "langfuse_observation_type"),
        (langfuse.TRACE_NAME, "trace_name"),
    ):
        if attributes.get(key) not in (None, ""):
            metadata[name] = attributes[key]
    ttfc = attributes.get("gen_ai.response.time_to_first_chunk")
    first_chunk = langfuse.completion_start(attributes)
    if ttfc is None and started and first_chunk:
        ttfc = (first_chunk - started).total_seconds()
    # Metadata only: one that is not a duration we can keep is left out, the call is kept.
    first_chunk_ms = milliseconds(ttfc)
    if first_chunk_ms is not None:
        metadata["time_to_first_chunk_ms"] = first_chunk_ms
    details = _usage_details(attributes)
    if details:
        metadata["usage_details"] = details
    item["metadata"] = metadata
    return item


@dataclass
class MappedExport:
    """An export read span by span: generation items, provider-call items (embeddings), spans
    dropped, spans rejected (with why)."""

    items: list[dict[str, Any]]
    dropped: int
    rejected: list[tuple[str, str]]
    total: int
    provider_calls: list[dict[str, Any]] = field(default_factory=list)


def map_export(export: ExportTraceServiceRequest) -> MappedExport:
    """Map every span of an export; one unreadable span never stops the others."""
    mapped = MappedExport(items=[], dropped=0, rejected=[], total=0)
    kinds: dict[str, bool] = {}  # check_one_kind
    for context in spans_of(export):
        mapped.total += 1
        attributes = attributes_of(context.span.attributes)
        embedding = is_embedding(attributes)
        if not embedding and not is_generation(attributes):
            mapped.dropped += 1
            continue
        try:
            item = span_item(context, attributes)
            check_one_kind(kinds, item["request_id"], embedding=embedding)
            if embedding:
                mapped.provider_calls.append(provider_call_item(item))
            else:
                mapped.items.append(item)
        except ItemRejected as exc:
            key = context.span.span_id.hex() or f"span {mapped.total - 1}"
            mapped.rejected.append((key, str(exc)))
    return mapped


def export_response(*, rejected: int, message: str) -> ExportTraceServiceResponse:
    """OTLP's answer: ``partial_success`` set only when something was rejected or dropped."""
    response = ExportTraceServiceResponse()
    if rejected or message:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    return response


__all__ = [
    "JSON_TYPES",
    "PROTOBUF_TYPES",
    "ExportTooLarge",
    "UnreadableExport",
    "decode_export",
    "encode_response",
    "export_response",
    "inflate",
    "map_export",
    "request_id_for",
]
