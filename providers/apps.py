from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "providers"
    verbose_name = "Providers"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from providers.catalogue_cache import catalogue_changed
        from providers.models import AIModel, ModelPrice, Provider

        # Cached catalogue look-ups are dropped whenever the catalogue changes.
        for model in (Provider, AIModel, ModelPrice):
            uid = f"catalogue-changed-{model.__name__}"
            post_save.connect(catalogue_changed, sender=model, dispatch_uid=f"{uid}-save")
            post_delete.connect(catalogue_changed, sender=model, dispatch_uid=f"{uid}-delete")
