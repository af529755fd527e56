"""Filters of the generations API (DESIGN.md section 4)."""

from __future__ import annotations

import django_filters
from django.db.models import Subquery

from generations.choices import ContentType, GenerationKind, GenerationStatus, TargetChannel
from generations.models import SEARCH_TEXT_MAX_LENGTH, CacheEntry, Campaign, Generation, GenerationRun
from providers.choices import CostStatus
from providers.metering import Meter
from providers.selectors import model_ids_named
from styleguides.models import Vertical
from tenancy.api.filters import ForeignIdFilter, TenantFilterSet, UTCIsoDateTimeFilter
from tenancy.context import request_organization


class GenerationFilterSet(TenantFilterSet):
    """``status``, ``content_type``, ``provider``, ``model``, ``vertical``, ``campaign``, ``run``,
    ``user_ref``, ``trace_id``, ``conversation_id``, ``created_after``/``created_before`` and the
    tree fields; each is served by an index that starts with ``organization`` (see
    ``Generation.Meta.indexes``)."""

    # distinct=False: a plain column IN (…) cannot repeat a row, and django-filter's default
    # SELECT DISTINCT sorts the tenant's rows on every column before the page is cut.
    status = django_filters.MultipleChoiceFilter(choices=GenerationStatus.choices, distinct=False)
    content_type = django_filters.MultipleChoiceFilter(choices=ContentType.choices, distinct=False)
    target_channel = django_filters.ChoiceFilter(choices=TargetChannel.choices)
    cost_status = django_filters.ChoiceFilter(choices=CostStatus.choices)
    kind = django_filters.ChoiceFilter(choices=GenerationKind.choices)
    provider = django_filters.CharFilter(
        method="filter_provider",
        help_text="Provider slug: the generations it served; an unknown slug matches it as sent.",
    )
    model = django_filters.CharFilter(
        method="filter_model",
        help_text="A model's canonical name or alias: its generations, whatever name they were sent "
        "with; a name Inkwell does not know matches the name as sent.",
    )
    vertical = django_filters.CharFilter(method="filter_vertical", help_text="Vertical slug.")
    campaign = ForeignIdFilter(field_name="campaign_id")
    run = ForeignIdFilter(field_name="run_id")
    root = ForeignIdFilter(method="filter_root", help_text="Every node of this tree.")
    parent = ForeignIdFilter(field_name="parent_id")
    user_ref = django_filters.CharFilter()
    request_id = django_filters.CharFilter()
    trace_id = django_filters.CharFilter(help_text="Every call of one trace (order by created_at).")
    conversation_id = django_filters.CharFilter(help_text="Every call of one conversation or session.")
    created_after = UTCIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UTCIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=SEARCH_TEXT_MAX_LENGTH,
        help_text="Words in the content (full text, English stemming: `hotels` finds `hotel`). "
        'Web-search syntax: `"a phrase"`, `or`, `-word`.',
    )

    class Meta:
        model = Generation
        fields = [
            "status",
            "content_type",
            "target_channel",
            "cost_status",
            "kind",
            "provider",
            "model",
            "vertical",
            "campaign",
            "run",
            "root",
            "parent",
            "user_ref",
            "request_id",
            "trace_id",
            "conversation_id",
            "created_after",
            "created_before",
            "search",
        ]

    # One column each, so one index (or the (organization, created_at) walk) serves the page: an
    # OR across a join (``model__name = v OR model_name = v``) could use neither.
    def filter_provider(self, queryset, name, value):
        provider = Meter().provider(value)
        if provider is None:  # a provider nobody knows: as sent
            return queryset.filter(provider_name=value)
        return queryset.filter(provider_id=provider.pk)

    def filter_model(self, queryset, name, value):
        ids = model_ids_named(value)
        if not ids:  # a model nobody knows: as sent
            return queryset.filter(model_name=value)
        return queryset.filter(model_id__in=ids)

    def filter_vertical(self, queryset, name, value):
        # ``vertical_id = (SELECT id … WHERE slug = v)``, not a join on the slug: the scalar
        # subquery is one InitPlan, so (organization, vertical, created_at) serves the page in
        # order; joined, the planner read every generation of the tenant's vertical and sorted.
        # An unknown slug is NULL: no rows, as the join gave.
        return queryset.filter(
            vertical_id=Subquery(Vertical.objects.filter(slug=value).order_by().values("pk")[:1])
        )

    def filter_root(self, queryset, name, value):
        return queryset.in_tree(value)

    def filter_search(self, queryset, name, value):
        organization = request_organization(self.request)
        return queryset.search(value, organization_ids=[organization.pk])


class GenerationRunFilterSet(TenantFilterSet):
    created_after = UTCIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UTCIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = GenerationRun
        fields = ["mode", "deep_thinking", "content_type", "user_ref", "created_after", "created_before"]


class CampaignFilterSet(TenantFilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Campaign
        fields = ["name"]


class CacheEntryFilterSet(TenantFilterSet):
    class Meta:
        model = CacheEntry
        fields = ["model_name"]
