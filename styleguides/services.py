"""Writes of the styleguides app, plus the two reads every caller needs as one call: the
compliance check (:func:`style_guide_check`) and prompt rendering (:func:`template_render`).

Every write validates (``full_clean``), runs in one transaction and writes an audit event
through ``tenancy.services``. ``organization`` is the organization acting; ``None`` means the
platform (a superuser in admin, a seed command), the only writer of global rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from styleguides import selectors
from styleguides.choices import StyleGuideStatus
from styleguides.compliance import CheckResult, check_text
from styleguides.errors import NotPublished
from styleguides.inheritance import EffectiveGuide, GuideLayer
from styleguides.models import (
    BrandRule,
    ContextSnippet,
    ContextSnippetVersion,
    PromptTemplate,
    PromptTemplateLabel,
    PromptTemplateVersion,
    StyleGuide,
    StyleGuideVersion,
    Vertical,
)
from styleguides.prompt_rendering import render_bodies, resolve_snippets, resolve_variables
from styleguides.versioning import content_hash, guide_hash, guide_snapshot, template_hash
from tenancy import services as tenancy_services
from tenancy.actors import SYSTEM, Actor
from tenancy.choices import AuditAction
from tenancy.errors import Conflict, NotFound, PermissionDeniedError
from tenancy.models import Organization
from tenancy.slugs import slug_for


class NothingToPublish(Conflict):
    """The draft is exactly what the latest version already holds."""

    code = "nothing_to_publish"


def _owner_id(organization: Organization | None) -> int | None:
    return organization.pk if organization is not None else None


def ensure_writable(*, organization: Organization | None, instance) -> None:
    """Refuse a write to a row the acting organization does not own (a global row included)."""
    if instance.organization_id != _owner_id(organization):
        if instance.organization_id is None:
            raise PermissionDeniedError("Global rows are read-only to organizations.")
        raise NotFound("No such object in this organization.")


def _ensure_readable(*, organization: Organization | None, instance) -> None:
    if organization is not None and instance.organization_id not in (None, organization.pk):
        raise NotFound("No such object in this organization.")


# --- Guides, templates, snippets: the writes they share ------------------------------------


@transaction.atomic
def owned_row_update(*, organization: Organization | None, actor: Actor = SYSTEM, instance, **fields):
    """Change ``fields`` of a guide (its draft: published versions never change), a template (its
    name, slug, content type or description) or a snippet's row, validated and audited. Only the
    owner writes a row; a global row only the platform (``organization=None``)."""
    ensure_writable(organization=organization, instance=instance)
    return tenancy_services.tenant_row_update(
        organization=organization, actor=actor, instance=instance, **fields
    )


@transaction.atomic
def owned_row_delete(*, organization: Organization | None, actor: Actor = SYSTEM, instance) -> None:
    """Soft-delete a guide, template or snippet; its versions stay for the generations citing
    them (templates including a deleted snippet fail to render until it is restored)."""
    ensure_writable(organization=organization, instance=instance)
    tenancy_services.soft_delete(organization=organization, actor=actor, instance=instance)


@transaction.atomic
def owned_row_restore(*, organization: Organization | None, actor: Actor = SYSTEM, instance) -> None:
    """Bring a soft-deleted guide, template or snippet back (a 409 if a live row took its slug
    meanwhile); restoring a live row does nothing."""
    ensure_writable(organization=organization, instance=instance)
    if instance.is_deleted:
        tenancy_services.restore(organization=organization, actor=actor, instance=instance)


# --- Style guides ---------------------------------------------------------------------------


@transaction.atomic
def style_guide_create(*, organization: Organization | None, actor: Actor = SYSTEM, **fields) -> StyleGuide:
    """Create a draft guide owned by ``organization`` (global when ``None``); it becomes
    ``published`` only by publishing it."""
    return tenancy_services.tenant_row_create(
        organization=organization, actor=actor, model=StyleGuide, **fields
    )


@transaction.atomic
def style_guide_publish(
    *, organization: Organization | None, actor: Actor = SYSTEM, guide: StyleGuide, notes: str = ""
) -> StyleGuideVersion:
    """Snapshot the guide and its rules into the next immutable version (1, 2, 3 …) and mark the
    guide published. Concurrent publishes of one guide are serialised by a row lock, so numbers
    never collide; publishing an unchanged draft is a 409."""
    ensure_writable(organization=organization, instance=guide)
    locked = StyleGuide.all_objects.select_for_update().get(pk=guide.pk)
    if locked.is_deleted:
        raise NotFound("This guide is deleted; restore it before publishing.")
    rules = list(BrandRule.objects.filter(guide=locked))
    snapshot = guide_snapshot(locked, rules)
    digest = guide_hash(snapshot)
    latest = StyleGuideVersion.objects.filter(guide=locked).order_by("-version").first()
    if latest is not None and latest.content_hash == digest:
        raise NothingToPublish(f"Nothing changed since version {latest.version}.")
    version = StyleGuideVersion(
        organization=locked.organization,
        guide=locked,
        version=(latest.version if latest else 0) + 1,
        name=snapshot["name"],
        kind=snapshot["kind"],
        vertical_id=snapshot["vertical_id"],
        parent_id=snapshot["parent_id"],
        body=snapshot["body"],
        tone=snapshot["tone"],
        audience=snapshot["audience"],
        reading_level=snapshot["reading_level"],
        banned_terms=snapshot["banned_terms"],
        required_terms=snapshot["required_terms"],
        rules=snapshot["rules"],
        content_hash=digest,
        notes=notes,
        published_by=actor.user,
        published_by_label=actor.label[:200],
    )
    version.full_clean()
    version.save()
    if locked.status != StyleGuideStatus.PUBLISHED:
        StyleGuide.all_objects.filter(pk=locked.pk).update(status=StyleGuideStatus.PUBLISHED)
    guide.status = StyleGuideStatus.PUBLISHED
    tenancy_services.audit_record(
        organization=organization,
        actor=actor,
        action=AuditAction.PUBLISH,
        instance=guide,
        changes={
            "version": [latest.version if latest else None, version.version],
            "content_hash": [None, digest],
        },
    )
    return version


# --- Brand rules ----------------------------------------------------------------------------


# Why a rule cannot be moved, said by the service and by the API when an update names a guide.
RULE_STAYS_ON_ITS_GUIDE = "A rule stays on its guide; add a rule to the other guide instead."


@transaction.atomic
def brand_rule_create(
    *, organization: Organization | None, actor: Actor = SYSTEM, guide: StyleGuide, **fields
) -> BrandRule:
    """Add a rule to a guide's draft; its parameters are validated now (a bad regex is a 400)."""
    ensure_writable(organization=organization, instance=guide)
    rule = BrandRule(organization=guide.organization, guide=guide, **fields)
    return tenancy_services.audited_save(organization=organization, actor=actor, instance=rule)


@transaction.atomic
def brand_rule_update(
    *, organization: Organization | None, actor: Actor = SYSTEM, instance: BrandRule, **fields
) -> BrandRule:
    """Change a rule of a guide's draft (published versions keep their own copy). A rule stays on
    its guide: naming a guide is refused (``ValidationError`` on ``guide``), never ignored."""
    if "guide" in fields:
        raise ValidationError({"guide": RULE_STAYS_ON_ITS_GUIDE})
    return owned_row_update(organization=organization, actor=actor, instance=instance, **fields)


@transaction.atomic
def brand_rule_delete(
    *, organization: Organization | None, actor: Actor = SYSTEM, instance: BrandRule
) -> None:
    """Remove a rule from a guide's draft (published versions keep it)."""
    ensure_writable(organization=organization, instance=instance)
    tenancy_services.audit_record(
        organization=organization, actor=actor, action=AuditAction.HARD_DELETE, instance=instance
    )
    instance.delete()


# --- Compliance check -----------------------------------------------------------------------


def style_guide_check(
    *, organization: Organization | None, guide: StyleGuide, text: str, version: int | str | None = None
) -> CheckResult:
    """Check ``text`` against the effective guide's rules (inherited ones included). Writes nothing.

    ``version``: ``None`` checks what services get (the published chain), or the draft when the
    guide was never published; ``"draft"`` checks the drafts an editor is writing; a number
    checks that published version of this guide (its ancestors at their latest versions).
    """
    _ensure_readable(organization=organization, instance=guide)
    draft = version == "draft" or (
        version is None and not StyleGuideVersion.objects.filter(guide=guide).exists()
    )
    effective = selectors.effective_style_guide(guide=guide, draft=draft)
    if isinstance(version, int):
        pinned = selectors.style_guide_version_get(guide=guide, version=version)
        layers = [layer for layer in effective.layers if layer.guide_id != guide.pk]
        effective = EffectiveGuide.merge(
            guide_id=guide.pk, layers=[*layers, GuideLayer.of_version(pinned)], draft=False
        )
    result = check_text(text, effective.all_rules())
    result.guide_version_ids = effective.version_ids
    result.draft = draft
    return result


# --- Prompt templates -----------------------------------------------------------------------


def _next_number(queryset) -> int:
    return (queryset.aggregate(highest=Max("version"))["highest"] or 0) + 1


@transaction.atomic
def prompt_template_version_create(
    *,
    organization: Organization | None,
    actor: Actor = SYSTEM,
    template: PromptTemplate,
    user_template: str,
    system_template: str = "",
    variables: list | None = None,
    notes: str = "",
) -> PromptTemplateVersion:
    """Save the next immutable version of a template. A syntax error, a computed include or an
    undeclared variable is refused here (400 naming it), never at render time."""
    ensure_writable(organization=organization, instance=template)
    _lock_template(template)
    version = PromptTemplateVersion(
        organization=template.organization,
        template=template,
        version=_next_number(PromptTemplateVersion.objects.filter(template=template)),
        system_template=system_template,
        user_template=user_template,
        variables=variables or [],
        notes=notes,
        content_hash="-",
        created_by=actor.user,
        created_by_label=actor.label[:200],
    )
    version.full_clean(exclude=["content_hash"])  # normalises ``variables``
    version.content_hash = template_hash(
        system_template=version.system_template,
        user_template=version.user_template,
        variables=version.variables,
    )
    version.save()
    tenancy_services.audit_record(
        organization=organization,
        actor=actor,
        action=AuditAction.CREATE,
        instance=version,
        changes={"version": [None, version.version], "content_hash": [None, version.content_hash]},
    )
    return version


def _lock_template(template: PromptTemplate) -> None:
    """Hold ``template``'s row until the transaction ends: its versions are numbered and its
    labels set one change at a time."""
    PromptTemplate.all_objects.select_for_update().filter(pk=template.pk).get()


@transaction.atomic
def prompt_template_label_set(
    *,
    organization: Organization | None,
    actor: Actor = SYSTEM,
    template: PromptTemplate,
    name: str,
    version: PromptTemplateVersion,
) -> PromptTemplateLabel:
    """Point the label ``name`` (``production``, ``staging`` …) at ``version`` of ``template``."""
    ensure_writable(organization=organization, instance=template)
    # Two requests setting a new label at once would both find none and one would fail on the
    # unique (template, name) instead of both landing.
    _lock_template(template)
    label = PromptTemplateLabel.objects.filter(template=template, name=name).first()
    before = tenancy_services.audit_snapshot(label) if label else None
    if label is None:
        label = PromptTemplateLabel(organization=template.organization, template=template, name=name)
    label.version = version
    return tenancy_services.audited_save(
        organization=organization, actor=actor, instance=label, before=before
    )


@transaction.atomic
def prompt_template_create(
    *,
    organization: Organization | None,
    actor: Actor = SYSTEM,
    name: str,
    slug: str = "",
    content_type: str = "",
    description: str = "",
    labels: list[str] | None = None,
    **body,
) -> PromptTemplate:
    """Create a template with its version 1 (and point ``labels`` at it, if given); the slug is
    derived from the name when not given. ``body`` is version 1's ``user_template`` and optional
    ``system_template``, ``variables`` and ``notes``, as :func:`prompt_template_version_create`
    takes them."""
    slug = slug or slug_for(PromptTemplate, organization=organization, name=name)
    template = PromptTemplate(organization=organization, name=name, slug=slug, description=description)
    if content_type:
        template.content_type = content_type
    tenancy_services.audited_save(organization=organization, actor=actor, instance=template)
    version = prompt_template_version_create(
        organization=organization, actor=actor, template=template, **body
    )
    for label in labels or []:
        prompt_template_label_set(
            organization=organization, actor=actor, template=template, name=label, version=version
        )
    return template


TEMPLATE_BODY_FIELDS = ("system_template", "user_template", "variables")


@transaction.atomic
def prompt_template_update(
    *, organization: Organization | None, actor: Actor = SYSTEM, instance: PromptTemplate, **fields
) -> PromptTemplate:
    """Edit a template's name, slug, content type or description; a changed body
    (``system_template``, ``user_template``, ``variables``, with ``notes``) is saved as the next
    version, the parts not given taken from the latest one (earlier versions never change).
    ``notes`` without a body field is refused (``ValidationError`` on ``notes``): they describe a
    new version, and without one there is nothing to keep them on."""
    body = {name: fields.pop(name) for name in (*TEMPLATE_BODY_FIELDS, "notes") if name in fields}
    if "notes" in body and not set(body) & set(TEMPLATE_BODY_FIELDS):
        raise ValidationError(
            {
                "notes": "Notes are saved with a new version: send them with system_template, "
                "user_template or variables (or POST templates/{id}/versions/)."
            }
        )
    template = owned_row_update(organization=organization, actor=actor, instance=instance, **fields)
    if set(body) & set(TEMPLATE_BODY_FIELDS):
        latest = selectors.prompt_template_versions(template=template).first()
        for name in TEMPLATE_BODY_FIELDS:
            body.setdefault(name, getattr(latest, name))
        prompt_template_version_create(organization=organization, actor=actor, template=template, **body)
    return template


@dataclass(frozen=True)
class RenderedPrompt:
    """A rendered prompt and exactly what it was made from, for a generation to record."""

    system: str
    user: str
    template_id: int
    template_version_id: int
    template_version: int
    label: str | None
    variables: dict
    style_guide_id: int | None = None
    style_guide_version_id: int | None = None
    style_guide_version_ids: list[int] = field(default_factory=list)
    vertical_id: int | None = None
    snippet_version_ids: list[int] = field(default_factory=list)


def _vertical_context(vertical: Vertical | None) -> dict | None:
    if vertical is None:
        return None
    return {
        "slug": vertical.slug,
        "name": vertical.name,
        "description": vertical.description,
        "default_tone": vertical.default_tone,
        "audience": vertical.audience,
    }


def template_render(
    *,
    organization: Organization | None,
    template: PromptTemplate,
    variables: dict,
    version: int | None = None,
    label: str | None = None,
    style_guide: StyleGuide | None = None,
    vertical: Vertical | None = None,
) -> RenderedPrompt:
    """Render a template version (by ``version``, ``label``, or the latest) into system and user
    prompts. Writes nothing.

    Composition (``styleguides.prompt_rendering`` documents what a template sees): the caller's
    variables over declared defaults; ``style_guide`` as the effective *published* guide (its own
    and inherited versions reported); ``vertical`` as given or else the guide's; snippets at their
    latest versions. A 400 names unknown and missing variables, unknown snippets, a guide or
    vertical the template never uses, and any template error or sandbox refusal.
    """
    _ensure_readable(organization=organization, instance=template)
    chosen = selectors.prompt_template_version_resolve(template=template, version=version, label=label)
    values = resolve_variables(chosen.variables, variables)
    bodies = {"system_template": chosen.system_template, "user_template": chosen.user_template}
    snippets = resolve_snippets(
        bodies, lambda slugs: selectors.snippet_sources(organization=organization, slugs=slugs)
    )

    effective = None
    if style_guide is not None:
        _ensure_readable(organization=organization, instance=style_guide)
        effective = selectors.effective_style_guide(guide=style_guide, draft=False)
        if not effective.own_version_id:
            raise NotPublished(
                f"Style guide '{style_guide}' has no published version yet.", attr="style_guide"
            )
        if vertical is None and effective.vertical_id is not None:
            vertical = Vertical.objects.get(pk=effective.vertical_id)
    unused = []
    if style_guide is not None and "style_guide" not in snippets.used_names:
        unused.append("This template does not use a style guide ('style_guide').")
    if vertical is not None and not {"vertical", "style_guide"} & snippets.used_names:
        unused.append("This template does not use a vertical ('vertical').")
    if unused:
        raise ValidationError({"non_field_errors": unused})

    context = dict(values)
    vertical_context = _vertical_context(vertical)
    if vertical_context is not None:
        context["vertical"] = vertical_context
    if effective is not None:
        context["style_guide"] = effective.as_context(vertical=vertical_context)
    rendered = render_bodies(bodies, context=context, snippets=snippets.sources.values())
    return RenderedPrompt(
        system=rendered["system_template"],
        user=rendered["user_template"],
        template_id=template.pk,
        template_version_id=chosen.pk,
        template_version=chosen.version,
        label=label or None,
        variables=values,
        style_guide_id=style_guide.pk if style_guide is not None else None,
        style_guide_version_id=effective.own_version_id if effective else None,
        style_guide_version_ids=effective.version_ids if effective else [],
        vertical_id=vertical.pk if vertical is not None else None,
        snippet_version_ids=snippets.version_ids,
    )


# --- Context snippets -----------------------------------------------------------------------


def _snippet_version_write(*, snippet: ContextSnippet, actor: Actor) -> ContextSnippetVersion:
    version = ContextSnippetVersion(
        organization=snippet.organization,
        snippet=snippet,
        version=_next_number(ContextSnippetVersion.objects.filter(snippet=snippet)),
        body=snippet.body,
        content_hash=content_hash(snippet.body),
        created_by=actor.user,
        created_by_label=actor.label[:200],
    )
    version.full_clean()
    version.save()
    return version


@transaction.atomic
def context_snippet_create(
    *, organization: Organization | None, actor: Actor = SYSTEM, **fields
) -> ContextSnippet:
    """Create a snippet and its version 1."""
    snippet = tenancy_services.tenant_row_create(
        organization=organization, actor=actor, model=ContextSnippet, **fields
    )
    _snippet_version_write(snippet=snippet, actor=actor)
    return snippet


@transaction.atomic
def context_snippet_update(
    *, organization: Organization | None, actor: Actor = SYSTEM, instance: ContextSnippet, **fields
) -> ContextSnippet:
    """Edit a snippet; a changed body writes its next version (renders use the latest)."""
    ContextSnippet.all_objects.select_for_update().filter(pk=instance.pk).get()
    body_before = instance.body
    snippet = owned_row_update(organization=organization, actor=actor, instance=instance, **fields)
    if snippet.body != body_before:
        _snippet_version_write(snippet=snippet, actor=actor)
    return snippet
