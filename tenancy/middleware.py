"""Request id propagation and the request body limit."""

import re
import uuid

from django.conf import settings

from tenancy.api.errors import error_response

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


class RequestIdMiddleware:
    """Takes ``X-Request-ID`` from the caller (or makes one), exposes it as ``request.request_id``
    and echoes it on the response, so audit events and logs can be joined to client traces."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


class RequestBodyLimitMiddleware:
    """Answers 413 in the API error format when a declared body exceeds the configured limit.

    Bulk endpoints (paths ending in one of ``API_BULK_PATH_SUFFIXES``: ``/bulk/``, the OTLP
    trace endpoints, the LiteLLM callback) get ``API_BULK_MAX_BODY_BYTES``; everything else
    ``API_MAX_BODY_BYTES``. Bodies without a Content-Length are still capped by Django's
    ``DATA_UPLOAD_MAX_MEMORY_SIZE``, mapped to 413 by the API exception handler.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = (
            settings.API_BULK_MAX_BODY_BYTES
            if request.path.endswith(tuple(settings.API_BULK_PATH_SUFFIXES))
            else settings.API_MAX_BODY_BYTES
        )
        if length > limit:
            return error_response(
                413,
                "request_too_large",
                f"Request body of {length} bytes exceeds the limit of {limit} bytes.",
            )
        return self.get_response(request)
