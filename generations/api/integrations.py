"""Endpoints for clients we did not write: OTLP/HTTP traces, the Langfuse SDK, LiteLLM's callback.

They authenticate with the organization's API key however the client can send it (``Api-Key``,
``Bearer`` or the password of HTTP Basic), read the raw body themselves (OTLP is protobuf or
JSON, gzip or not; LiteLLM sends JSON or NDJSON), map it with ``generations.integrations`` and
record it with partial success. Exporters retry on 429 and 503, so both carry ``Retry-After``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import OperationalError
from django.http import HttpResponse, JsonResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.views import APIView

from generations.integrations import langfuse, litellm, otlp
from generations.integrations.client_values import ItemRejected
from generations.integrations.provider_calls import (
    check_one_kind,
    provider_call_batch_record,
    provider_call_item,
)
from generations.integrations.recording import BatchOutcome, Rejection, generation_batch_record
from tenancy.actors import actor_from_request
from tenancy.api.errors import error_response
from tenancy.authentication import (
    BasicAPIKeyAuthentication,
    BearerAPIKeyAuthentication,
    OrganizationAPIKeyAuthentication,
)
from tenancy.context import request_organization

RETRY_AFTER_SECONDS = 5


def _media_type(request) -> str:
    return (request.META.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()


class IntegrationView(APIView):
    """Shared by the integration endpoints: key auth in three forms, raw bodies, 503 on a busy
    or unreachable database (so exporters back off and retry instead of dropping data)."""

    authentication_classes = [
        OrganizationAPIKeyAuthentication,
        BearerAPIKeyAuthentication,
        BasicAPIKeyAuthentication,
    ]
    parser_classes: list = []

    def record(self, request, items: list[dict], provider_calls: list[dict] = ()) -> BatchOutcome:
        """Record generation items, then provider-call items (embeddings, through the recorder
        analytics registers), as one outcome: created, replayed and rejected add up."""
        organization, actor = request_organization(request), actor_from_request(request)
        outcome = generation_batch_record(organization=organization, actor=actor, items=items)
        if provider_calls:
            calls = provider_call_batch_record(
                organization=organization, actor=actor, items=list(provider_calls)
            )
            outcome.created += calls.created
            outcome.replayed += calls.replayed
            outcome.rejected += calls.rejected
        return outcome

    def handle_exception(self, exc):
        if isinstance(exc, OperationalError):
            response = error_response(
                503, "unavailable", "The database is unavailable; retry later.", attr=None
            )
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        return super().handle_exception(exc)

    def body(self, request) -> bytes:
        encoding = request.META.get("HTTP_CONTENT_ENCODING", "")
        return otlp.inflate(request.body, encoding=encoding, limit=settings.API_BULK_MAX_BODY_BYTES)


class OtlpTracesView(IntegrationView):
    """``POST otel/v1/traces`` (and the Langfuse SDK's ``/api/public/otel/v1/traces``)."""

    @extend_schema(
        request={
            "application/x-protobuf": OpenApiTypes.BINARY,
            "application/json": OpenApiTypes.OBJECT,
        },
        responses={200: OpenApiResponse(description="An OTLP ExportTraceServiceResponse.")},
        description="OTLP/HTTP trace export (OpenTelemetry GenAI conventions, OpenLLMetry, "
        "OpenInference, Langfuse). Generation spans are recorded as generations and embedding "
        "spans as provider calls (`usage/`), idempotently by (trace id, span id); other spans "
        "are counted and dropped. `partial_success` "
        "counts rejected spans and says why.",
    )
    def post(self, request):
        media_type = _media_type(request)
        if media_type not in otlp.PROTOBUF_TYPES | otlp.JSON_TYPES:
            raise exceptions.UnsupportedMediaType(
                media_type or "(none)",
                detail="Send application/x-protobuf or application/json (OTLP/HTTP).",
            )
        export = otlp.decode_export(self.body(request), content_type=media_type)
        mapped = otlp.map_export(export)
        outcome = self.record(request, mapped.items, mapped.provider_calls)
        rejected = [Rejection(-1, key, reason) for key, reason in mapped.rejected] + outcome.rejected
        outcome.rejected = rejected
        message = outcome.summary()
        if mapped.dropped:
            note = f"{mapped.dropped} of {mapped.total} spans are not LLM calls and were not recorded"
            message = f"{message}; {note}" if message else note
        answer = otlp.export_response(rejected=len(rejected), message=message)
        return HttpResponse(
            otlp.encode_response(answer, content_type=media_type),
            content_type="application/json" if media_type in otlp.JSON_TYPES else "application/x-protobuf",
        )


class LangfuseProjectsView(IntegrationView):
    """``GET /api/public/projects``: the Langfuse SDK's auth check. The key's organization is
    the one project it can see."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, description="For the Langfuse SDK's auth check.")
    def get(self, request):
        return JsonResponse(langfuse.projects_response(request_organization(request)))


class LiteLLMCallbackView(IntegrationView):
    """``POST integrations/litellm/``: LiteLLM's ``generic_api`` callback (``json_array``,
    ``ndjson`` or ``single``)."""

    @extend_schema(
        request={"application/json": OpenApiTypes.OBJECT},
        responses={200: OpenApiTypes.OBJECT},
        description="LiteLLM `StandardLoggingPayload`s, as its `generic_api` callback posts them "
        "(a JSON array, NDJSON, or one object); embedding calls become provider calls (`usage/`). "
        "Answers how many were created, replayed and "
        "rejected (with reasons); a rejected payload never stops the others.",
    )
    def post(self, request):
        media_type = _media_type(request)
        if media_type not in ("application/json", "application/x-ndjson", "text/plain", ""):
            raise exceptions.UnsupportedMediaType(
                media_type, detail="Send application/json or application/x-ndjson."
            )
        payloads = litellm.parse_body(self.body(request))
        items, provider_calls, rejected = [], [], []
        kinds: dict[str, bool] = {}
        for index, payload in enumerate(payloads):
            try:
                item = litellm.payload_item(payload)
                embedding = litellm.is_embedding(payload)
                check_one_kind(kinds, item["request_id"], embedding=embedding)
            except ItemRejected as exc:
                rejected.append(Rejection(index, f"#{index}", str(exc)))
                continue
            if embedding:
                provider_calls.append(provider_call_item(item))
            else:
                items.append(item)
        outcome = self.record(request, items, provider_calls)
        outcome.rejected = rejected + outcome.rejected
        return JsonResponse(
            {
                "created": outcome.created,
                "replayed": outcome.replayed,
                "rejected": len(outcome.rejected),
                "errors": [{"key": item.key, "detail": item.reason} for item in outcome.rejected[:100]],
            }
        )
