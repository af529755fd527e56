"""Factories for generations rows (factory-boy): one call builds a valid object."""

from __future__ import annotations

import datetime

import factory
from django.utils import timezone

from generations.choices import ContentType, GenerationStatus
from generations.models import CacheEntry, Campaign, Generation, GenerationRun
from providers.choices import CostStatus
from tests.factories import OrganizationFactory


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Campaign {n}")


class GenerationRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GenerationRun

    organization = factory.SubFactory(OrganizationFactory)
    prompt = "Name a boutique hotel in Lisbon"
    models_requested = factory.LazyFunction(lambda: ["gpt-4o", "claude-sonnet-4-0"])


class GenerationFactory(factory.django.DjangoModelFactory):
    """A finished root generation; for children use ``services.generation_branch``."""

    class Meta:
        model = Generation

    organization = factory.SubFactory(OrganizationFactory)
    request_id = factory.Sequence(lambda n: f"req-{n:06d}")
    content_type = ContentType.BLOG
    model_name = "gpt-4o"
    provider_name = "openai"
    content = "Sunrise over the Tagus."
    input_tokens = 120
    output_tokens = 40
    total_tokens = 160
    status = GenerationStatus.SUCCESS
    cost_status = CostStatus.UNPRICED

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # A row made "in the past" happened then, as ingestion's data migration assumes.
        if "created_at" in kwargs and "occurred_at" not in kwargs:
            kwargs["occurred_at"] = kwargs["created_at"]
        return super()._create(model_class, *args, **kwargs)


class CacheEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CacheEntry

    organization = factory.SubFactory(OrganizationFactory)
    key = factory.Sequence(lambda n: f"prompt-hash-{n}")
    response = factory.LazyFunction(lambda: {"content": "cached answer"})
    model_name = "gpt-4o"
    cost_saved_usd = "0.0125000000"
    expires_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(hours=1))


def vertical(slug: str):
    """The vertical with this slug (created on first use; the seed fixture is not loaded in tests)."""
    from styleguides.models import Vertical

    row, _ = Vertical.objects.get_or_create(
        slug=slug,
        defaults={
            "name": slug.title(),
            "description": f"Content for {slug}.",
            "default_tone": "clear",
            "audience": "customers",
        },
    )
    return row
