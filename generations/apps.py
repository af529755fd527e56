from django.apps import AppConfig


class GenerationsConfig(AppConfig):
    name = "generations"
    verbose_name = "Generations"

    def ready(self):
        # Budgets (providers) count what generations cost without importing this app.
        from generations.selectors import generation_spend
        from providers.spending import register_spend_source

        register_spend_source(generation_spend, name="generations")
