"""Factories for providers rows (factory-boy); credentials go through the service so the key
is really encrypted."""

from __future__ import annotations

import itertools
from decimal import Decimal

import factory

from providers import services
from providers.models import AIModel, AIPreference, Budget, ModelPrice, Provider
from providers.price_sync import BEGINNING


class ProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Provider
        django_get_or_create = ("slug",)

    slug = "openai"
    name = factory.LazyAttribute(lambda provider: provider.slug.title())


class AIModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AIModel
        django_get_or_create = ("provider", "name")

    provider = factory.SubFactory(ProviderFactory)
    name = factory.Sequence(lambda n: f"test-model-{n}")
    context_window = 128_000


class ModelPriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelPrice

    model = factory.SubFactory(AIModelFactory)
    valid_from = BEGINNING
    input_usd_per_mtok = Decimal("2.5")
    output_usd_per_mtok = Decimal("10")


_credential_numbers = itertools.count(1)


def make_credential(organization, *, provider_slug="openai", name=None, api_key=None, **fields):
    """A credential created through ``credential_create`` (encrypted, fingerprinted, audited)."""
    n = next(_credential_numbers)
    return services.credential_create(
        organization=organization,
        provider=ProviderFactory(slug=provider_slug),
        name=name or f"key {n}",
        api_key=api_key or f"sk-test-{n:08d}-9f3c2a7b1e5d4c6a",
        **fields,
    )


class BudgetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Budget

    name = factory.Sequence(lambda n: f"Budget {n}")
    period = "month"
    limit_usd = Decimal("100")


class AIPreferenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AIPreference

    user_ref = factory.Sequence(lambda n: f"user-{n}")
