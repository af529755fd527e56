from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics"

    def ready(self):
        # Rollups count generations in the transaction that writes them (generations sends the
        # signal inside it); budgets (providers) count provider calls through a spend source;
        # the integration adapters (generations) record embedding calls as provider calls
        # through the recorder registered here. Neither app imports analytics.
        from analytics.integrations import provider_call_batch_record
        from analytics.receivers import count_recorded_generations
        from analytics.selectors import provider_call_spend
        from generations.integrations.provider_calls import register_provider_call_recorder
        from generations.signals import generations_recorded
        from providers.spending import register_spend_source

        generations_recorded.connect(
            count_recorded_generations, dispatch_uid="analytics.count_recorded_generations"
        )
        register_spend_source(provider_call_spend, name="analytics.provider_calls")
        register_provider_call_recorder(provider_call_batch_record)
