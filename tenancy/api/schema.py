"""OpenAPI descriptions of the API key authentication schemes (drf-spectacular extensions)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


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
