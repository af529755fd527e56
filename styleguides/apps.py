from django.apps import AppConfig


class StyleguidesConfig(AppConfig):
    name = "styleguides"
    verbose_name = "Style guides"
