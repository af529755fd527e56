"""OpenAPI: the API key authentication schemes, the error responses our endpoints can give, and
the bodies of idempotent creates."""

import copy
import functools

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_standardized_errors.openapi import AutoSchema
from drf_standardized_errors.openapi_serializers import ClientErrorEnum, ServerErrorEnum, ValidationErrorEnum
from rest_framework import serializers

from tenancy.api.error_codes import error_code_choices
from tenancy.api.strict import CreateOnlyFieldsMixin, update_serializer


class APIKeyScheme(OpenApiAuthenticationExtension):
    """The OpenAPI security scheme of one of the ways an API key is sent: subclasses name the
    authentication class (``target_class``), the scheme's ``name`` and its
    ``security_definition``. This base targets nothing, so drf-spectacular never matches it."""

    security_definition: dict = {}

    def get_security_definition(self, auto_schema):
        return dict(self.security_definition)


class OrganizationAPIKeyScheme(APIKeyScheme):
    target_class = "tenancy.authentication.OrganizationAPIKeyAuthentication"
    name = "ApiKeyAuth"
    security_definition = {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "`Api-Key <prefix>.<secret>`, an organization API key.",
    }


# --- Error responses ----------------------------------------------------------------------------
# Every error body is ``{"type", "errors": [{"code", "detail", "attr"}]}``. The schema promises
# for each status the ``type`` values it can carry and, for ``code``, the one registry of codes
# (``tenancy.api.error_codes``), so no response uses a code the schema does not list. ``attr`` is
# any string: unknown fields and parameters, and bulk items (``items.3.request_id``), are named
# as sent. (drf-standardized-errors' per-field 400 components listed attributes and codes per
# field, but not the codes our services and the strict-input layer give, nor item indexes.)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

# A 400 is ``validation_error`` (a field, a parameter, a rule) or ``client_error`` (the body is
# not JSON we read: ``parse_error``).
ERROR_400_TYPE_CHOICES = [*ValidationErrorEnum.choices, *ClientErrorEnum.choices]


@functools.cache
def error_serializer() -> type:
    """One error of a body: ``code`` from the registry, ``detail``, ``attr``."""
    return type(
        "ErrorSerializer",
        (serializers.Serializer,),
        {
            "code": serializers.ChoiceField(choices=error_code_choices()),
            "detail": serializers.CharField(),
            "attr": serializers.CharField(
                allow_null=True, help_text="The field or parameter, dotted for nested ones; null for none."
            ),
            "Meta": type("Meta", (), {"ref_name": "Error"}),
        },
    )


@functools.cache
def error_response_serializer(status_code: int) -> type:
    """The error body of ``status_code``, one component per status (``ErrorResponse404``)."""
    if status_code == 400:
        kinds = ERROR_400_TYPE_CHOICES
    else:
        kinds = ServerErrorEnum.choices if status_code >= 500 else ClientErrorEnum.choices
    return type(
        f"ErrorResponse{status_code}Serializer",
        (serializers.Serializer,),
        {
            "type": serializers.ChoiceField(choices=kinds),
            "errors": error_serializer()(many=True),
            "Meta": type("Meta", (), {"ref_name": f"ErrorResponse{status_code}"}),
        },
    )


class InkwellAutoSchema(AutoSchema):
    """drf-standardized-errors' schema with our error bodies (:func:`error_response_serializer`)
    and the statuses our endpoints can give: 400 everywhere (an unknown query parameter is one on
    every operation), 409 on writes, 413 on bodies, 503 everywhere (the database can always be
    away)."""

    def _should_add_error_response(self, responses: dict, status_code: str) -> bool:
        if status_code in responses:
            return False
        if status_code == "400":
            return True
        if status_code == "409":
            return self.method in WRITE_METHODS
        if status_code == "413":
            return self.method in BODY_METHODS
        return super()._should_add_error_response(responses, status_code)

    def _get_error_response_serializer(self, status_code: str):
        return error_response_serializer(int(status_code))

    def _is_idempotent_create(self) -> bool:
        # ``create_serializer_class`` marks ``tenancy.api.viewsets.IdempotentCreateMixin`` (not
        # imported: DRF's views import this module while the viewsets import DRF's views).
        return (
            getattr(self.view, "create_serializer_class", None) is not None
            and getattr(self.view, "action", None) == "create"
        )

    def get_request_serializer(self):
        # An idempotent create validates with its own input serializer, and answers the row
        # (201 new, 200 replayed): derived here so each endpoint documents only its meaning.
        if self._is_idempotent_create():
            return self.view.create_serializer_class
        serializer = super().get_request_serializer()
        # An update body cannot carry the fields fixed at creation (CreateOnlyFieldsMixin).
        serializer_class = serializer if isinstance(serializer, type) else type(serializer)
        if self.method in ("PUT", "PATCH") and issubclass(serializer_class, CreateOnlyFieldsMixin):
            return update_serializer(serializer_class)
        return serializer

    def get_response_serializers(self):
        if self._is_idempotent_create():
            return {201: self.view.serializer_class, 200: self.view.serializer_class}
        return super().get_response_serializers()

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        # DRF drops ``allow_blank`` from read-only model fields, so a blank-able choice column
        # (``target_channel``) would be documented without the "" it can hold.
        blank_read_only_choice = (
            isinstance(field, serializers.ChoiceField) and field.read_only and not field.allow_blank
        )
        if blank_read_only_choice and _model_field_allows_blank(field):
            field = copy.copy(field)
            field.allow_blank = True
        return super()._map_serializer_field(field, direction, bypass_extensions)


def _model_field_allows_blank(field: serializers.Field) -> bool:
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    if model is None or not field.source or "." in field.source:
        return False
    try:
        return model._meta.get_field(field.source).blank
    except FieldDoesNotExist:
        return False


class BearerAPIKeyScheme(APIKeyScheme):
    target_class = "tenancy.authentication.BearerAPIKeyAuthentication"
    name = "BearerApiKeyAuth"
    security_definition = {
        "type": "http",
        "scheme": "bearer",
        "description": "`Bearer <prefix>.<secret>`: the same API key, as OTLP exporters send it.",
    }


class BasicAPIKeyScheme(APIKeyScheme):
    target_class = "tenancy.authentication.BasicAPIKeyAuthentication"
    name = "BasicApiKeyAuth"
    security_definition = {
        "type": "http",
        "scheme": "basic",
        "description": "HTTP Basic, the API key as password (any username): what the Langfuse SDK sends.",
    }
