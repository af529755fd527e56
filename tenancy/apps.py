from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, post_save


class TenancyConfig(AppConfig):
    name = "tenancy"
    verbose_name = "Tenancy and audit"

    def ready(self):
        # Registers the OpenAPI description of the Api-Key authentication scheme.
        from tenancy.api import schema  # noqa: F401
        from tenancy.api.field_prototypes import install_field_prototypes
        from tenancy.api.fields import install_bounded_dates
        from tenancy.api.parsers import install_fast_surrogate_check
        from tenancy.api.strict import install_strict_serializers

        install_strict_serializers()
        install_field_prototypes()
        install_fast_surrogate_check()
        install_bounded_dates()

        # Tables made by any migration (or syncdb) after tenancy's own get the app role's grants.
        post_migrate.connect(_grant_app_role, sender=self, dispatch_uid="tenancy_grant_app_role")

        # A cached API key is forgotten when it or its organization changes.
        from tenancy.authentication import api_key_changed, organization_changed
        from tenancy.models import Organization, OrganizationAPIKey

        for signal in (post_save, post_delete):
            uid = f"tenancy_api_key_cache_{(signal is post_save and 'save') or 'delete'}"
            signal.connect(api_key_changed, sender=OrganizationAPIKey, dispatch_uid=f"{uid}_key")
            signal.connect(organization_changed, sender=Organization, dispatch_uid=f"{uid}_organization")


def _grant_app_role(sender, using, **kwargs):
    from tenancy import rls

    rls.grant_app_role(using)
