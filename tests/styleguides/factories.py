"""Factories for styleguides rows: one call builds a valid object (through the services where a
row has versions, so factories never produce states the app could not)."""

import factory

from styleguides import services
from styleguides.choices import Severity, StyleGuideKind
from styleguides.models import BrandRule, ContentPillar, ContentSeries, StyleGuide
from styleguides.rules.banned_term import BannedTerm
from tests.factories import OrganizationFactory


class StyleGuideFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StyleGuide

    organization = factory.SubFactory(OrganizationFactory)
    kind = StyleGuideKind.BRAND
    name = factory.Sequence(lambda n: f"Brand guide {n}")
    slug = factory.Sequence(lambda n: f"brand-guide-{n}")
    body = "# Voice\nFriendly and specific."
    tone = "Friendly"


class BrandRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BrandRule

    guide = factory.SubFactory(StyleGuideFactory)
    organization = factory.LazyAttribute(lambda rule: rule.guide.organization)
    name = factory.Sequence(lambda n: f"Rule {n}")
    rule_type = BannedTerm.type
    parameters = factory.LazyFunction(
        lambda: {"terms": ["synergy"], "case_sensitive": False, "whole_word": True}
    )
    severity = Severity.ERROR


class ContentPillarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContentPillar

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Pillar {n}")
    slug = factory.Sequence(lambda n: f"pillar-{n}")


class ContentSeriesFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContentSeries

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Series {n}")
    slug = factory.Sequence(lambda n: f"series-{n}")


_counter = iter(range(1, 10**9))


def make_template(organization, **fields):
    """A template with version 1, through the service."""
    n = next(_counter)
    fields.setdefault("name", f"Template {n}")
    fields.setdefault("slug", f"template-{n}")
    fields.setdefault("user_template", "Write about {{ topic }}.")
    fields.setdefault("variables", [{"name": "topic", "required": True}])
    return services.prompt_template_create(organization=organization, **fields)


def make_snippet(organization, **fields):
    """A snippet with version 1, through the service."""
    n = next(_counter)
    fields.setdefault("name", f"Snippet {n}")
    fields.setdefault("slug", f"snippet-{n}")
    fields.setdefault("body", "We are a family-run hotel.")
    return services.context_snippet_create(organization=organization, **fields)
