"""Filters of the styleguides API."""

import django_filters

from styleguides.choices import Severity, StyleGuideKind, StyleGuideStatus, TemplateContentType
from styleguides.models import BrandRule, ContentSeries, ContextSnippet, PromptTemplate, StyleGuide
from styleguides.rules import rule_type_choices
from tenancy.api.filters import TenantFilterSet


class _OwnedFilterSet(TenantFilterSet):
    is_global = django_filters.BooleanFilter(
        field_name="organization",
        lookup_expr="isnull",
        label="Global rows only (true) or own rows only (false)",
    )


class StyleGuideFilterSet(_OwnedFilterSet):
    kind = django_filters.ChoiceFilter(choices=StyleGuideKind.choices)
    status = django_filters.ChoiceFilter(choices=StyleGuideStatus.choices)
    vertical = django_filters.CharFilter(field_name="vertical__slug", label="Vertical slug")

    class Meta:
        model = StyleGuide
        fields = ["kind", "status", "vertical", "slug", "parent", "is_global"]


class BrandRuleFilterSet(_OwnedFilterSet):
    rule_type = django_filters.ChoiceFilter(choices=rule_type_choices)
    severity = django_filters.ChoiceFilter(choices=Severity.choices)

    class Meta:
        model = BrandRule
        fields = ["guide", "rule_type", "severity", "is_active", "is_global"]


class PromptTemplateFilterSet(_OwnedFilterSet):
    content_type = django_filters.ChoiceFilter(choices=TemplateContentType.choices)

    class Meta:
        model = PromptTemplate
        fields = ["content_type", "slug", "is_global"]


class ContextSnippetFilterSet(_OwnedFilterSet):
    class Meta:
        model = ContextSnippet
        fields = ["slug", "is_global"]


class ContentSeriesFilterSet(TenantFilterSet):
    class Meta:
        model = ContentSeries
        fields = ["pillar", "slug"]
