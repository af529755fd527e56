"""The one API error format, and the mapping from domain and database errors to it.

Every error body is ``{"type": …, "errors": [{"code", "detail", "attr"}]}``
(drf-standardized-errors), whether DRF, Django, a service or a middleware raised it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, InterfaceError, OperationalError
from django.http import JsonResponse
from drf_standardized_errors.handler import ExceptionHandler
from rest_framework import exceptions, status
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings

from tenancy.errors import DomainError
from tenancy.idempotency import violated_constraint


def error_response(
    status_code: int, code: str, detail: str, attr: str | None = None, *, kind: str | None = None
) -> JsonResponse:
    """A JSON error outside DRF (middleware, URL-level 404/500) in the same format; ``kind``
    ``validation_error`` for a 400 about a value the client sent (a field, a parameter), as DRF's
    handler types those."""
    kind = kind or ("server_error" if status_code >= 500 else "client_error")
    return JsonResponse(
        {"type": kind, "errors": [{"code": code, "detail": detail, "attr": attr}]}, status=status_code
    )


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "request_too_large"


class ConflictError(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class DatabaseUnavailable(exceptions.APIException):
    """The database cannot be reached: a 503 with ``Retry-After``, never a 500. Django opens a
    new connection on the next request, so service resumes by itself once it is back."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database is unavailable; retry shortly."
    default_code = "database_unavailable"

    def __init__(self):
        super().__init__()
        # drf-standardized-errors turns ``wait`` into the Retry-After header.
        self.wait = settings.API_DATABASE_RETRY_AFTER_SECONDS


class QueryTimeout(exceptions.APIException):
    """A statement ran past ``settings.API_STATEMENT_TIMEOUT_SECONDS`` and PostgreSQL cancelled it
    (``tenancy.rls.statement_timeout``): a 503 that names the cap, without ``Retry-After`` (the
    same question would run as long again), never the 500 of an unexpected error."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "query_timeout"

    @staticmethod
    def message() -> str:
        return (
            f"The query ran longer than {settings.API_STATEMENT_TIMEOUT_SECONDS:g} s and was stopped; "
            "narrow it (a shorter date range, other search words, a filter)."
        )

    def __init__(self):
        super().__init__(self.message())


def is_query_timeout(exc: BaseException | None) -> bool:
    """Whether ``exc`` is a statement PostgreSQL cancelled (SQLSTATE 57014, ``query_canceled``):
    the statement timeout, or an operator's ``pg_cancel_backend``."""
    return isinstance(exc, OperationalError) and getattr(exc.__cause__, "sqlstate", None) == "57014"


def is_database_unavailable(exc: BaseException | None) -> bool:
    """Whether ``exc`` means the database could not be reached or the connection was lost (not a
    refused statement: those are ``IntegrityError``/``DataError`` and answered 400/409; nor a
    cancelled one, :func:`is_query_timeout`)."""
    return isinstance(exc, OperationalError | InterfaceError) and not is_query_timeout(exc)


def query_timeout_response() -> JsonResponse:
    """The same 503 ``query_timeout`` for a statement cancelled outside DRF."""
    return error_response(503, QueryTimeout.default_code, QueryTimeout.message())


def database_unavailable_response() -> JsonResponse:
    """The same 503 for failures outside DRF (a middleware, a plain Django view)."""
    response = error_response(503, DatabaseUnavailable.default_code, str(DatabaseUnavailable.default_detail))
    response["Retry-After"] = str(settings.API_DATABASE_RETRY_AFTER_SECONDS)
    return response


def _integrity_error(exc: IntegrityError) -> exceptions.APIException:
    """Unique violations are 409; check, FK and not-null violations are 400. The database is the
    last guard; services validate first for friendlier messages."""
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    constraint = violated_constraint(exc) or "a constraint"
    if sqlstate == "23505":
        return ConflictError(f"Conflicts with an existing row ({constraint}).", code="unique")
    return exceptions.ValidationError(
        {"non_field_errors": [f"Violates {constraint}."]}, code="constraint_violation"
    )


def _domain_error(exc: DomainError) -> exceptions.APIException:
    if exc.status_code == 400:
        return exceptions.ValidationError({exc.attr or "non_field_errors": [exc.detail]}, code=exc.code)
    # Keyed by ``attr`` when there is one, so a 409 names its field too (``items.3.request_id``).
    detail = {exc.attr: [exc.detail]} if exc.attr else exc.detail
    converted = exceptions.APIException(detail, code=exc.code)
    converted.status_code = exc.status_code
    return converted


class InkwellExceptionHandler(ExceptionHandler):
    """drf-standardized-errors' handler, taught our domain errors and the database's refusals."""

    def convert_known_exceptions(self, exc: Exception) -> Exception:
        if isinstance(exc, DomainError):
            return _domain_error(exc)
        if isinstance(exc, DjangoValidationError):
            detail = as_serializer_error(exc)
            if NON_FIELD_ERRORS in detail:  # model-level errors: DRF's name for them
                detail[api_settings.NON_FIELD_ERRORS_KEY] = detail.pop(NON_FIELD_ERRORS)
            return exceptions.ValidationError(detail)
        if isinstance(exc, IntegrityError):
            return _integrity_error(exc)
        if isinstance(exc, RequestDataTooBig):
            return PayloadTooLarge()
        if is_query_timeout(exc):
            return QueryTimeout()
        if is_database_unavailable(exc):
            return DatabaseUnavailable()
        return super().convert_known_exceptions(exc)
