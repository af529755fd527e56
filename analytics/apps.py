from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics"

    def ready(self):
        # Rollups count generations in the transaction that writes them (generations sends the
        # signal inside it); budgets (providers) count provider calls through a spend source, and
        # whole days of spend (generations' too) from the rollups; the integration adapters
        # (generations) record embedding calls as provider calls through the recorder registered
        # here. Neither app imports analytics.
        from analytics.integrations import provider_call_batch_record
        from analytics.receivers import count_recorded_generations
        from analytics.selectors import (
            generation_whole_day_spend,
            provider_call_spend,
            provider_call_whole_day_spend,
        )
        from generations.integrations.provider_calls import register_provider_call_recorder
        from generations.signals import generations_recorded
        from providers.spending import register_spend_source, register_whole_day_spend

        generations_recorded.connect(
            count_recorded_generations, dispatch_uid="analytics.count_recorded_generations"
        )
        register_spend_source(provider_call_spend, name="analytics.provider_calls")
        register_whole_day_spend("generations", generation_whole_day_spend)
        register_whole_day_spend("analytics.provider_calls", provider_call_whole_day_spend)
        register_provider_call_recorder(provider_call_batch_record)
