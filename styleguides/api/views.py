"""Viewsets of the styleguides API: authenticate, scope, parse, call a service or selector, respond.

Tenants see their own rows and the global ones; global rows are read-only to them (403 on any
write, nothing written). ``check`` and ``render`` compute without writing, so any member may call
them on any row they can read.
"""

from __future__ import annotations

from dataclasses import asdict

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from styleguides import selectors, services
from styleguides.api.filters import (
    BrandRuleFilterSet,
    ContentSeriesFilterSet,
    ContextSnippetFilterSet,
    PromptTemplateFilterSet,
    StyleGuideFilterSet,
)
from styleguides.api.permissions import MayComputeOnReadableRows
from styleguides.api.serializers import (
    BrandRuleSerializer,
    CheckInputSerializer,
    CheckResultSerializer,
    ContentPillarSerializer,
    ContentSeriesSerializer,
    ContextSnippetSerializer,
    EffectiveGuideSerializer,
    LabelInputSerializer,
    PromptTemplateSerializer,
    PromptTemplateVersionSerializer,
    PublishInputSerializer,
    RenderedPromptSerializer,
    RenderInputSerializer,
    RenderQuerySerializer,
    StyleGuideSerializer,
    StyleGuideVersionSerializer,
    VerticalSerializer,
)
from styleguides.models import (
    BrandRule,
    ContentPillar,
    ContentSeries,
    ContextSnippet,
    PromptTemplate,
    StyleGuide,
)
from tenancy.api.filters import query_boolean
from tenancy.api.viewsets import GlobalReadOnlyViewSet, RestoreMixin, TenantModelViewSet
from tenancy.errors import NotFound


class VerticalViewSet(GlobalReadOnlyViewSet):
    """The industries Inkwell writes for (global, read-only), looked up by slug."""

    list_selector = staticmethod(selectors.verticals)
    serializer_class = VerticalSerializer
    lookup_field = "slug"
    lookup_value_regex = "[-a-z0-9_]+"
    search_fields = ["name", "slug"]


class OwnedRowViewSet(RestoreMixin, TenantModelViewSet):
    """Guides, templates and snippets: the organization's own rows and the global ones (read-only),
    deleted and restored through the same services."""

    include_global = True
    update_service = staticmethod(services.owned_row_update)
    delete_service = staticmethod(services.owned_row_delete)
    restore_service = staticmethod(services.owned_row_restore)


class StyleGuideViewSet(OwnedRowViewSet):
    """Style guides: the organization's own and the global ones (read-only).

    Editing changes the draft; ``publish`` snapshots it into the next immutable version.
    """

    queryset = StyleGuide.objects.all()
    serializer_class = StyleGuideSerializer
    filterset_class = StyleGuideFilterSet
    search_fields = ["name", "slug", "summary"]
    create_service = staticmethod(services.style_guide_create)

    list_selector = staticmethod(selectors.style_guides_for)

    @extend_schema(responses=StyleGuideVersionSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filterset_class=None)
    def versions(self, request, pk=None):
        """Every published version of the guide, newest first."""
        guide = self.get_object()
        versions = selectors.style_guide_versions(guide=guide)
        return Response(StyleGuideVersionSerializer(versions, many=True).data)

    @extend_schema(responses=StyleGuideVersionSerializer)
    @action(
        detail=True,
        methods=["get"],
        url_path=r"versions/(?P<number>[0-9]+)",
        pagination_class=None,
        filterset_class=None,
    )
    def version(self, request, pk=None, number=None):
        """One published version by number."""
        guide = self.get_object()
        found = selectors.style_guide_versions(guide=guide).filter(version=int(number)).first()
        if found is None:
            raise NotFound(f"'{guide}' has no version {number}.")
        return Response(StyleGuideVersionSerializer(found).data)

    @extend_schema(request=PublishInputSerializer, responses={201: StyleGuideVersionSerializer})
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        """Publish the draft as the next immutable version (409 when nothing changed)."""
        guide = self.get_object()
        data = PublishInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = services.style_guide_publish(
            organization=self.organization, actor=self.actor, guide=guide, notes=data.validated_data["notes"]
        )
        return Response(StyleGuideVersionSerializer(version).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CheckInputSerializer, responses=CheckResultSerializer)
    @action(detail=True, methods=["post"], permission_classes=[MayComputeOnReadableRows])
    def check(self, request, pk=None):
        """Check a text against the guide's rules, inherited ones included: every violation with
        its rule, severity, message and span, and a pass/fail verdict. Writes nothing.

        The check has a time budget (``STYLEGUIDES_CHECK_TIME_BUDGET_SECONDS``, 2 s by default)
        shared by its rules' patterns. Past it, the remaining ``regex`` rules are not run: the
        answer is still 200 with every other rule's violations, ``complete`` is false, the rules
        not run are in ``skipped_rules``, and the text does not pass if one of them is an error
        rule (it could have failed it)."""
        guide = self.get_object()
        data = CheckInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.style_guide_check(
            organization=self.organization,
            guide=guide,
            text=data.validated_data["text"],
            version=data.validated_data.get("version"),
        )
        return Response(result.as_dict())

    @extend_schema(
        parameters=[OpenApiParameter("draft", OpenApiTypes.BOOL, description="Merge the drafts instead.")],
        responses=EffectiveGuideSerializer,
    )
    @action(detail=True, methods=["get"], pagination_class=None, filterset_class=None)
    def effective(self, request, pk=None):
        """The guide merged with the guides it inherits from, the child winning."""
        guide = self.get_object()
        draft = query_boolean(request.query_params, "draft")
        effective = selectors.effective_style_guide(guide=guide, draft=draft)
        return Response(EffectiveGuideSerializer(effective).data)


class BrandRuleViewSet(TenantModelViewSet):
    """Rules of guides' drafts. Saving one validates its parameters (a bad regex is a 400)."""

    queryset = BrandRule.objects.all()
    serializer_class = BrandRuleSerializer
    filterset_class = BrandRuleFilterSet
    search_fields = ["name", "message"]
    include_global = True

    def get_queryset(self):
        return self.scope_queryset(BrandRule.objects.filter(guide__deleted_at__isnull=True))

    create_service = staticmethod(services.brand_rule_create)
    update_service = staticmethod(services.brand_rule_update)
    delete_service = staticmethod(services.brand_rule_delete)


class PromptTemplateViewSet(OwnedRowViewSet):
    """Prompt templates with immutable versions and movable labels; ``render`` builds a prompt."""

    queryset = PromptTemplate.objects.all()
    serializer_class = PromptTemplateSerializer
    filterset_class = PromptTemplateFilterSet
    search_fields = ["name", "slug", "description"]
    create_service = staticmethod(services.prompt_template_create)
    update_service = staticmethod(services.prompt_template_update)

    list_selector = staticmethod(selectors.prompt_templates_for)

    @extend_schema(
        methods=["GET"],
        responses=PromptTemplateVersionSerializer(many=True),
        description="Every version of the template, newest first.",
    )
    @extend_schema(
        methods=["POST"],
        request=PromptTemplateVersionSerializer,
        responses={201: PromptTemplateVersionSerializer},
        description="Save the next version (a syntax error or an undeclared variable is a 400).",
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None, filterset_class=None)
    def versions(self, request, pk=None):
        template = self.get_object()
        if request.method == "GET":
            versions = selectors.prompt_template_versions(template=template)
            return Response(PromptTemplateVersionSerializer(versions, many=True).data)
        data = PromptTemplateVersionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = services.prompt_template_version_create(
            organization=self.organization, actor=self.actor, template=template, **data.validated_data
        )
        return Response(PromptTemplateVersionSerializer(version).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=LabelInputSerializer, responses=PromptTemplateSerializer)
    @action(detail=True, methods=["post"])
    def labels(self, request, pk=None):
        """Point a label (``production``, ``staging`` …) at a version number."""
        template = self.get_object()
        data = LabelInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = selectors.prompt_template_version_resolve(
            template=template, version=data.validated_data["version"]
        )
        services.prompt_template_label_set(
            organization=self.organization,
            actor=self.actor,
            template=template,
            name=data.validated_data["name"],
            version=version,
        )
        return Response(self.get_serializer(self.fresh(template)).data)

    @extend_schema(
        request=RenderInputSerializer,
        responses=RenderedPromptSerializer,
        parameters=[
            OpenApiParameter(
                "label", OpenApiTypes.STR, description="Render the version this label points at."
            ),
            OpenApiParameter("version", OpenApiTypes.INT, description="Render this version number."),
        ],
    )
    @action(detail=True, methods=["post"], permission_classes=[MayComputeOnReadableRows])
    def render(self, request, pk=None):
        """Render the template (latest version, ``?version=``, or ``?label=``) with variables, an
        optional style guide and vertical: the system and user prompts, and exactly which template,
        guide and snippet versions made them. Writes nothing."""
        template = self.get_object()
        # The body as sent (its values hold their JSON types); the URL's version or label (text)
        # apply where the body names neither.
        body = RenderInputSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        given = {name: value for name, value in request.query_params.items() if value}
        query = RenderQuerySerializer(data=given)
        query.is_valid(raise_exception=True)
        values = {**query.validated_data, **body.validated_data}
        rendered = services.template_render(
            organization=self.organization,
            template=template,
            variables=values.get("variables", {}),
            version=values.get("version"),
            label=values.get("label"),
            style_guide=values.get("style_guide"),
            vertical=values.get("vertical"),
        )
        return Response(asdict(rendered))


class ContextSnippetViewSet(OwnedRowViewSet):
    """Reusable context blocks templates include with ``{% include "<slug>" %}``; each body change
    is a new version."""

    queryset = ContextSnippet.objects.all()
    serializer_class = ContextSnippetSerializer
    filterset_class = ContextSnippetFilterSet
    search_fields = ["name", "slug", "description"]
    create_service = staticmethod(services.context_snippet_create)
    update_service = staticmethod(services.context_snippet_update)

    list_selector = staticmethod(selectors.context_snippets_for)


class ContentPillarViewSet(RestoreMixin, TenantModelViewSet):
    """The organization's content pillars (themes campaigns write within)."""

    queryset = ContentPillar.objects.all()
    serializer_class = ContentPillarSerializer
    filterset_fields = ["slug"]
    search_fields = ["name", "slug"]


class ContentSeriesViewSet(RestoreMixin, TenantModelViewSet):
    """The organization's content series, optionally within a pillar."""

    queryset = ContentSeries.objects.select_related("pillar")
    serializer_class = ContentSeriesSerializer
    filterset_class = ContentSeriesFilterSet
    search_fields = ["name", "slug"]
