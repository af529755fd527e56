from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics"

    def ready(self):
        # Rollups count generations in the transaction that writes them (generations sends the
        # signal inside it), and budgets (providers) count provider calls through a spend
        # source: neither app imports analytics.
        from analytics.receivers import count_recorded_generations
        from analytics.selectors import provider_call_spend
        from generations.signals import generations_recorded
        from providers.spending import register_spend_source

        generations_recorded.connect(
            count_recorded_generations, dispatch_uid="analytics.count_recorded_generations"
        )
        register_spend_source(provider_call_spend, name="analytics.provider_calls")
