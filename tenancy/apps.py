from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "tenancy"
    verbose_name = "Tenancy and audit"

    def ready(self):
        # Registers the OpenAPI description of the Api-Key authentication scheme.
        from tenancy.api import schema  # noqa: F401
        from tenancy.api.strict import install_strict_serializers

        install_strict_serializers()
