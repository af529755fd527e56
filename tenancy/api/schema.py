"""OpenAPI description of the Api-Key authentication scheme (drf-spectacular extension)."""

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
