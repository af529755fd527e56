from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TenancyConfig(AppConfig):
    name = "tenancy"
    verbose_name = "Tenancy and audit"

    def ready(self):
        # Registers the OpenAPI description of the Api-Key authentication scheme.
        from tenancy.api import schema  # noqa: F401
        from tenancy.api.strict import install_strict_serializers

        install_strict_serializers()

        # Tables made by any migration (or syncdb) after tenancy's own get the app role's grants.
        post_migrate.connect(_grant_app_role, sender=self, dispatch_uid="tenancy_grant_app_role")


def _grant_app_role(sender, using, **kwargs):
    from tenancy import rls

    rls.grant_app_role(using)
