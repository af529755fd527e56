"""OpenAPI: the API key authentication schemes, and the error responses our endpoints can give."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_standardized_errors.openapi import AutoSchema
from drf_standardized_errors.openapi_serializers import ClientErrorEnum, ServerErrorEnum
from rest_framework import serializers


class OrganizationAPIKeyScheme(OpenApiAuthenticationExtension):
    target_class = "tenancy.authentication.OrganizationAPIKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <prefix>.<secret>`, an organization API key.",
        }


# --- Error responses beyond drf-standardized-errors' defaults ---------------------------------
# 409 (a unique row or a domain conflict), 413 (a body over the limit) and 503 (the database is
# unreachable) happen on our endpoints, so the schema says so (issue 11: the schema tells the
# truth). Registered in settings DRF_STANDARDIZED_ERRORS["ERROR_SCHEMAS"].

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _error_response_serializer(status_code: int, code: serializers.Field, kinds) -> type:
    """``{"type", "errors": [{"code", "detail", "attr"}]}`` for one status code."""
    error = type(
        f"Error{status_code}Serializer",
        (serializers.Serializer,),
        {"code": code, "detail": serializers.CharField(), "attr": serializers.CharField(allow_null=True)},
    )
    return type(
        f"ErrorResponse{status_code}Serializer",
        (serializers.Serializer,),
        {"type": serializers.ChoiceField(choices=kinds), "errors": error(many=True)},
    )


ErrorResponse409Serializer = _error_response_serializer(
    409,
    serializers.CharField(help_text="`unique`, `conflict`, or the domain rule (`deleted`, …)."),
    ClientErrorEnum.choices,
)
ErrorResponse413Serializer = _error_response_serializer(
    413,
    serializers.ChoiceField(choices=[("request_too_large", "request_too_large")]),
    ClientErrorEnum.choices,
)
ErrorResponse503Serializer = _error_response_serializer(
    503,
    serializers.ChoiceField(choices=[("database_unavailable", "database_unavailable")]),
    ServerErrorEnum.choices,
)


class InkwellAutoSchema(AutoSchema):
    """drf-standardized-errors' schema, plus the 409/413/503 answers our endpoints can give:
    409 on writes, 413 on bodies, 503 everywhere (the database can always be away)."""

    def _should_add_error_response(self, responses: dict, status_code: str) -> bool:
        if status_code == "409":
            return status_code not in responses and self.method in WRITE_METHODS
        if status_code == "413":
            return status_code not in responses and self.method in BODY_METHODS
        return super()._should_add_error_response(responses, status_code)


class BearerAPIKeyScheme(OpenApiAuthenticationExtension):
    target_class = "tenancy.authentication.BearerAPIKeyAuthentication"
    name = "BearerApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "`Bearer <prefix>.<secret>`: the same API key, as OTLP exporters send it.",
        }


class BasicAPIKeyScheme(OpenApiAuthenticationExtension):
    target_class = "tenancy.authentication.BasicAPIKeyAuthentication"
    name = "BasicApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "basic",
            "description": "HTTP Basic, the API key as password (any username): what the Langfuse SDK sends.",
        }
