"""Request id propagation and the request body limit."""

import re
import uuid

from django.conf import settings
from django.http import HttpResponseBadRequest
from django.middleware.common import CommonMiddleware

from tenancy.api.errors import error_response
from tenancy.context import ORGANIZATION_HEADER

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


class UnstorableTextMiddleware:
    """Answers 400 when a path, a query string or the ``X-Organization`` header holds a NUL
    character, on every page (the API as JSON, the admin as text).

    PostgreSQL cannot store or compare NUL in text (``DataError``), so a cache key ``a%00b``,
    ``?search=%00``, an admin filter ``?name=%00`` or an API key id ``%00`` in an admin URL would
    otherwise reach the database and fail there with a 500. Bodies get the same check in the JSON
    parser (``tenancy.api.parsers``) and in every form field.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        problem = self._problem(request)
        if problem is None:
            return self.get_response(request)
        detail, attr = problem
        if request.path.startswith("/api/"):
            # A parameter's value is refused as any other bad parameter is; a path or header is not one.
            return error_response(400, "invalid", detail, attr, kind="validation_error" if attr else None)
        return HttpResponseBadRequest(detail, content_type="text/plain; charset=utf-8")

    @staticmethod
    def _problem(request) -> tuple[str, str | None] | None:
        if "\x00" in request.path:
            return "The path contains a NUL character.", None
        for name, values in request.GET.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                return f"Query parameter {name!r} contains a NUL character.", name
        if "\x00" in request.META.get(ORGANIZATION_HEADER, ""):
            return "The X-Organization header contains a NUL character.", None
        return None


class APIJSONErrorsMiddleware:
    """Under /api/, a 404 or 500 rendered as an HTML page (Django's debug pages with DEBUG on,
    which bypass ``handler404``/``handler500``) is replaced by the API's JSON error."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            request.path.startswith("/api/")
            and response.status_code in (404, 500)
            and response.get("Content-Type", "").startswith("text/html")
        ):
            if response.status_code == 404:
                return error_response(404, "not_found", "No such endpoint.")
            return error_response(500, "error", "A server error occurred.")
        return response


class APICommonMiddleware(CommonMiddleware):
    """Django's ``CommonMiddleware``, but a write to an API URL without its trailing slash is a
    JSON 404 naming the URL, not a redirect: a 301 turns the client's POST into a GET of the
    list (the write silently lost), and with DEBUG on Django raises instead (a 500). Reads and
    the admin are redirected as before."""

    def process_response(self, request, response):
        if (
            response.status_code == 404
            and request.path.startswith("/api/")
            and request.method not in ("GET", "HEAD", "OPTIONS")
            and self.should_redirect_with_slash(request)
        ):
            return error_response(
                404, "not_found", f"No such endpoint. API URLs end with a slash: {request.path}/"
            )
        return super().process_response(request, response)


class RowLevelSecurityMiddleware:
    """Every request starts admitting no tenant row and ends restoring what applied before.

    The API widens it to the caller's organization once authentication resolves it
    (``tenancy.context``); here, the admin widens it for staff: superusers in the named bypass
    ``"superuser admin"``, other staff to the organizations they are members of (the admin's
    code walls then narrow further by role, ``tenancy.admin_walls``). An API request's statements
    are each capped at ``settings.API_STATEMENT_TIMEOUT_SECONDS``, an admin page's at
    ``settings.ADMIN_STATEMENT_TIMEOUT_SECONDS`` (``rls.statement_timeout``).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from tenancy import rls
        from tenancy.admin_walls import is_admin_request, staff_roles

        if request.path.startswith("/api/"):
            admin, cap_s = False, settings.API_STATEMENT_TIMEOUT_SECONDS
        else:
            admin = is_admin_request(request)
            cap_s = settings.ADMIN_STATEMENT_TIMEOUT_SECONDS if admin else 0
        with rls.rls_nothing(), rls.statement_timeout(round(cap_s * 1000)):
            user = getattr(request, "user", None)
            if admin and user is not None and user.is_authenticated and user.is_staff:
                if user.is_superuser:
                    rls.use_scope(rls.RowScope(bypass_reason="superuser admin"))
                else:
                    rls.use_scope(rls.RowScope(organization_ids=tuple(sorted(staff_roles(request)))))
            return self.get_response(request)
