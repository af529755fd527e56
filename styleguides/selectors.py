"""Reads of the styleguides app: scoped, optimised querysets and the effective guide.

Tenants read their own rows and the global ones (``organization`` null); nothing here ever
returns another organization's rows.
"""

from __future__ import annotations

from django.db.models import OuterRef, Prefetch, QuerySet, Subquery

from styleguides import models
from styleguides.errors import VersionNotFound
from styleguides.inheritance import EffectiveGuide, GuideLayer, guide_chain
from styleguides.prompt_rendering import SnippetSource
from tenancy.context import scope_to_organization
from tenancy.models import Organization


def readable_by(queryset: QuerySet, organization: Organization | None) -> QuerySet:
    """Rows ``organization`` may read: its own and the global ones. ``None`` is the platform
    acting (admin, seed commands), which reads the global rows."""
    if organization is None:
        return queryset.filter(organization__isnull=True)
    return scope_to_organization(queryset, organization, include_global=True)


def citable_style_guide_versions() -> QuerySet[models.StyleGuideVersion]:
    """Versions a new generation may cite: those of guides not soft-deleted (a deleted guide is
    hidden from the API, its versions with it; generations already citing one keep it)."""
    return models.StyleGuideVersion.objects.filter(guide__deleted_at__isnull=True)


def citable_template_versions() -> QuerySet[models.PromptTemplateVersion]:
    """Versions a new generation may cite: those of templates not soft-deleted."""
    return models.PromptTemplateVersion.objects.filter(template__deleted_at__isnull=True)


def verticals() -> QuerySet[models.Vertical]:
    """Every vertical (global platform data)."""
    return models.Vertical.objects.all()


def _latest_guide_version():
    return models.StyleGuideVersion.objects.filter(guide=OuterRef("pk")).order_by("-version")


def with_latest_version(queryset: QuerySet[models.StyleGuide]) -> QuerySet[models.StyleGuide]:
    """Annotate guides with their latest published version's number and content hash, and load
    what comparing the draft with it reads (vertical, parent, organization)."""
    return queryset.select_related("vertical", "parent__organization", "organization").annotate(
        latest_version=Subquery(_latest_guide_version().values("version")[:1]),
        latest_version_hash=Subquery(_latest_guide_version().values("content_hash")[:1]),
    )


def style_guides_for(*, organization: Organization | None, queryset=None) -> QuerySet[models.StyleGuide]:
    """Live guides the organization may read (its own and global ones), with their vertical,
    parent and rules loaded and their latest published version's number and hash annotated."""
    queryset = models.StyleGuide.objects.all() if queryset is None else queryset
    return with_latest_version(readable_by(queryset, organization)).prefetch_related(
        Prefetch("rules", queryset=models.BrandRule.objects.order_by("id"))
    )


def style_guide_versions(*, guide: models.StyleGuide) -> QuerySet[models.StyleGuideVersion]:
    """A guide's published versions, newest first."""
    return (
        models.StyleGuideVersion.objects.filter(guide=guide)
        .select_related("published_by")
        .order_by("-version")
    )


def style_guide_version_get(*, guide: models.StyleGuide, version: int) -> models.StyleGuideVersion:
    """One published version of a guide by number; a 400 naming it when there is none."""
    found = style_guide_versions(guide=guide).filter(version=version).first()
    if found is None:
        raise VersionNotFound(f"'{guide}' has no version {version}.", attr="version")
    return found


def effective_style_guide(*, guide: models.StyleGuide, draft: bool = False) -> EffectiveGuide:
    """The guide merged with its ancestors (``styleguides.inheritance``): published versions by
    default, the current drafts with ``draft=True``. Three queries however long the chain."""
    chain = guide_chain(
        models.StyleGuide.all_objects.select_related("parent__parent__parent").get(pk=guide.pk)
    )
    ids = [member.pk for member in chain]
    if draft:
        rules_by_guide: dict[int, list[models.BrandRule]] = {pk: [] for pk in ids}
        for rule in models.BrandRule.objects.filter(guide_id__in=ids).order_by("id"):
            rules_by_guide[rule.guide_id].append(rule)
        layers = [GuideLayer.of_draft(member, rules_by_guide[member.pk]) for member in reversed(chain)]
    else:
        latest = {
            version.guide_id: version
            for version in models.StyleGuideVersion.objects.filter(guide_id__in=ids)
            .order_by("guide_id", "-version")
            .distinct("guide_id")
        }
        layers = [
            GuideLayer.of_version(latest[member.pk]) for member in reversed(chain) if member.pk in latest
        ]
    return EffectiveGuide.merge(guide_id=guide.pk, layers=layers, draft=draft)


def _latest_template_version():
    return models.PromptTemplateVersion.objects.filter(template=OuterRef("pk")).order_by("-version")


def latest_template_version_number() -> Subquery:
    """An annotation: a template's latest version number."""
    return Subquery(_latest_template_version().values("version")[:1])


def prompt_templates_for(*, organization: Organization | None) -> QuerySet[models.PromptTemplate]:
    """Live templates the organization may use, with labels loaded and the latest version number."""
    return (
        readable_by(models.PromptTemplate.objects.all(), organization)
        .prefetch_related(
            Prefetch(
                "labels",
                queryset=models.PromptTemplateLabel.objects.select_related("version").order_by("name"),
            )
        )
        .annotate(latest_version=latest_template_version_number())
    )


def prompt_template_versions(*, template: models.PromptTemplate) -> QuerySet[models.PromptTemplateVersion]:
    """A template's versions, newest first."""
    return models.PromptTemplateVersion.objects.filter(template=template).order_by("-version")


def prompt_template_version_resolve(
    *, template: models.PromptTemplate, version: int | None = None, label: str | None = None
) -> models.PromptTemplateVersion:
    """The version a render asks for: by number, by label, or else the latest one."""
    if version is not None and label:
        raise VersionNotFound("Ask for a version or a label, not both.", attr="version")
    if label:
        found = (
            models.PromptTemplateLabel.objects.select_related("version")
            .filter(template=template, name=label)
            .first()
        )
        if found is None:
            raise VersionNotFound(f"'{template}' has no label '{label}'.", attr="label")
        return found.version
    versions = prompt_template_versions(template=template)
    chosen = versions.filter(version=version).first() if version is not None else versions.first()
    if chosen is None:
        detail = (
            f"'{template}' has no version {version}."
            if version is not None
            else f"'{template}' has no versions."
        )
        raise VersionNotFound(detail, attr="version")
    return chosen


def context_snippets_for(*, organization: Organization | None) -> QuerySet[models.ContextSnippet]:
    """Live snippets the organization may include, with their latest version number."""
    latest = models.ContextSnippetVersion.objects.filter(snippet=OuterRef("pk")).order_by("-version")
    return readable_by(models.ContextSnippet.objects.all(), organization).annotate(
        latest_version=Subquery(latest.values("version")[:1])
    )


def snippet_sources(*, organization: Organization | None, slugs: set[str]) -> dict[str, SnippetSource]:
    """The latest version of each named snippet, the organization's own winning over a global one
    of the same slug. One query."""
    versions = (
        models.ContextSnippetVersion.objects.filter(
            snippet__in=readable_by(models.ContextSnippet.objects.all(), organization),
            snippet__slug__in=slugs,
        )
        .select_related("snippet")
        .order_by("snippet_id", "-version")
        .distinct("snippet_id")
    )
    found: dict[str, SnippetSource] = {}
    # Global rows first, so an organization's own snippet of the same slug overwrites them.
    for version in sorted(versions, key=lambda v: v.snippet.organization_id is not None):
        found[version.snippet.slug] = SnippetSource(
            slug=version.snippet.slug, body=version.body, snippet_id=version.snippet_id, version_id=version.pk
        )
    return found


def content_pillars_for(*, organization: Organization) -> QuerySet[models.ContentPillar]:
    """The organization's live content pillars."""
    return models.ContentPillar.objects.filter(organization=organization)


def content_series_for(*, organization: Organization) -> QuerySet[models.ContentSeries]:
    """The organization's live content series, with their pillar."""
    return models.ContentSeries.objects.filter(organization=organization).select_related("pillar")
