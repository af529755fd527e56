"""Models of the styleguides app: verticals, style guides and their published versions, brand
rules, prompt templates with versions and labels, context snippets, content pillars and series.

Global rows and tenant rows
---------------------------
Verticals are platform data. Style guides, templates and snippets are either global
(``organization`` is null: written by the platform, read-only to every tenant) or owned by one
organization. Their slugs are unique per organization among live rows, and the global rows'
slugs are unique among themselves too (``nulls_distinct=False``).

Immutable versions
------------------
Publishing a guide, saving a template version or changing a snippet writes a new numbered
version row (1, 2, 3 … per parent) that is never updated afterwards: the model refuses a second
save and a database trigger (see the migration) refuses any UPDATE that changes a value, so a
generation that records "style guide version 7" can always read exactly what it was given.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from background.locks import lock_until_commit
from styleguides.choices import Severity, StyleGuideKind, StyleGuideStatus, TemplateContentType
from styleguides.rules import rule_kind, rule_type_choices
from styleguides.rules.base import term_list
from tenancy.models import (
    AliveManager,
    GlobalSlugModel,
    SoftDeleteModel,
    TenantModel,
    TimeStampedModel,
    unique_while_alive,
)

READING_LEVEL_RANGE = (1, 20)
# Guides merged for one effective guide (itself and its ancestors): deeper chains are refused.
MAX_INHERITANCE_DEPTH = 10

label_name_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9_-]*$", "Use lowercase letters, digits, '-' and '_' (for example 'production')."
)


def _organization_slug(instance) -> str:
    """The natural-key part naming a row's owner: the organization's slug, '' for global rows."""
    return instance.organization.slug if instance.organization_id else ""


def _owner_scope(organization_slug: str) -> Q:
    return Q(organization__slug=organization_slug) if organization_slug else Q(organization__isnull=True)


def owner_field(help_text: str = "") -> models.ForeignKey:
    """The ``organization`` of a row an organization owns, or of a global row (null) that every
    organization reads."""
    # PROTECT: organizations are deactivated, never deleted out from under their rows.
    return models.ForeignKey(
        "tenancy.Organization",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=help_text,
    )


class ImmutableRowError(Exception):
    """A version row was asked to change after it was written."""


class VersionManager(models.Manager):
    """Finds a version by natural key: its versioned row's natural key (the row the model's
    ``versioned`` foreign key names), then its number."""

    def get_by_natural_key(self, *key):
        *versioned_key, version = key
        field = self.model._meta.get_field(self.model.versioned)
        return self.get(
            **{field.name: field.related_model.objects.get_by_natural_key(*versioned_key)}, version=version
        )


class OwnedChildModel(models.Model):
    """A row that is part of an owned or global parent (a guide's rule, a template's label, a
    version): it copies the parent's ``organization`` (null under a global parent), so it is
    scoped, and could be sharded, by organization alone."""

    organization = owner_field()

    class Meta:
        abstract = True


def unique_per_owner(*fields: str, name: str) -> models.UniqueConstraint:
    """``fields`` are unique within the row's organization, and among the global rows too."""
    return models.UniqueConstraint(fields=["organization", *fields], name=name, nulls_distinct=False)


class ImmutableVersionModel(OwnedChildModel):
    """A row written once and never updated (published versions), numbered per the row it is a
    version of: the foreign key each subclass names in ``versioned``.

    The model refuses to save an existing row; the migration adds a trigger so even a raw
    ``UPDATE`` that changes a value fails in the database. Deleting is left to the retention and
    purge paths (and cascades from a hard-deleted parent). A version's natural key is its
    versioned row's followed by its number (serializers order the dump by the foreign key).
    """

    version = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    versioned: str  # the name of the foreign key to the versioned row
    objects = VersionManager()

    class Meta:
        abstract = True
        get_latest_by = "version"

    def __str__(self):
        return f"{getattr(self, self.versioned)} v{self.version}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableRowError(f"{self._meta.verbose_name} rows are immutable once written.")
        super().save(*args, **kwargs)

    def natural_key(self):
        return (*getattr(self, self.versioned).natural_key(), self.version)


class AuthoredVersionModel(ImmutableVersionModel):
    """A version an editor writes (a template's or a snippet's): the hash of its content and who
    wrote it, the user and a label that outlives them."""

    content_hash = models.CharField(max_length=64)
    # SET_NULL: the label keeps who wrote it (the immutability trigger allows this one change).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by_label = models.CharField(max_length=200, blank=True)

    class Meta(ImmutableVersionModel.Meta):
        abstract = True


def version_constraints(model_name: str, versioned: str) -> list:
    """A version model's rules: numbers are unique per ``versioned`` row and count from 1."""
    return [
        unique_per_owner(versioned, "version", name=f"{model_name}_unique_number"),
        models.CheckConstraint(condition=Q(version__gte=1), name=f"{model_name}_number_positive"),
    ]


# --- Verticals ------------------------------------------------------------------------------


class Vertical(GlobalSlugModel):
    """An industry Inkwell writes for (hospitality, healthcare, tech, athletics), seeded by
    ``manage.py loaddata verticals``."""

    description = models.TextField()
    default_tone = models.CharField(max_length=200, help_text="How content for this industry sounds.")
    audience = models.CharField(max_length=300, help_text="Who usually reads content in this industry.")

    class Meta:
        ordering = ["name"]


# --- Style guides ---------------------------------------------------------------------------


# What a guide says and each of its published versions keeps a copy of (its rules aside).
GUIDE_CONTENT_FIELDS = ("name", "kind", "vertical_id", "body", "tone", "audience", "reading_level")
GUIDE_TERM_FIELDS = ("banned_terms", "required_terms")


def guide_content(source: StyleGuide | StyleGuideVersion) -> dict:
    """The content of a guide's draft or of one of its versions (term lists copied): what a
    version snapshots (``styleguides.versioning``) and what a layer of the chain reads
    (``styleguides.inheritance``)."""
    return {
        **{name: getattr(source, name) for name in GUIDE_CONTENT_FIELDS},
        **{name: list(getattr(source, name)) for name in GUIDE_TERM_FIELDS},
    }


class OwnedSlugManager(AliveManager):
    """Live rows, and the natural key ``(organization slug or "", slug)``."""

    def get_by_natural_key(self, organization_slug, slug):
        return self.get(_owner_scope(organization_slug), slug=slug)


class OwnedSlugModel(SoftDeleteModel, TimeStampedModel):
    """A soft-deletable row an organization owns, or a global one every organization can use
    (``organization`` null), named and found by its slug: style guides, prompt templates and
    context snippets. Each declares its ``organization`` (``owner_field``, with its own help
    text). Slugs are unique per organization among live rows, and among the global rows."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100)

    objects = OwnedSlugManager()

    class Meta:
        abstract = True
        ordering = ["name", "id"]
        constraints = [
            unique_while_alive(
                "organization", "slug", name="%(class)s_unique_slug_per_org", nulls_distinct=False
            ),
        ]

    def __str__(self):
        return self.name

    def natural_key(self):
        return (_organization_slug(self), self.slug)


class StyleGuide(OwnedSlugModel):
    """A style guide as editors are writing it: the working draft.

    ``body`` is Markdown guidance for writers (and for the model, through prompt templates); the
    structured fields and :class:`BrandRule` rows are what the compliance check enforces.
    Publishing (``styleguides.services.style_guide_publish``) snapshots all of it into an
    immutable :class:`StyleGuideVersion`; editing afterwards changes this draft only.

    A guide may inherit from ``parent`` (a brand guide built on a vertical guide): the effective
    guide merges the chain, the child winning (``styleguides.inheritance``).
    """

    organization = owner_field("Empty for a global guide every organization can read.")
    kind = models.CharField(max_length=20, choices=StyleGuideKind.choices, default=StyleGuideKind.BRAND)
    # PROTECT: a vertical that guides point at is platform data that must not vanish.
    vertical = models.ForeignKey(
        Vertical, on_delete=models.PROTECT, null=True, blank=True, related_name="style_guides"
    )
    # PROTECT: a guide others inherit from cannot be hard-deleted under them (soft delete is fine).
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        help_text="A guide this one builds on: its guidance and rules apply unless overridden here.",
    )
    summary = models.CharField(max_length=300, blank=True, help_text="One line shown in lists.")
    body = models.TextField(blank=True, help_text="The guidance itself, in Markdown.")
    tone = models.CharField(max_length=200, blank=True, help_text="For example: warm, sensory, unhurried.")
    audience = models.CharField(max_length=300, blank=True)
    reading_level = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(READING_LEVEL_RANGE[0]), MaxValueValidator(READING_LEVEL_RANGE[1])],
        help_text="Target US school grade (Flesch-Kincaid), for example 8.",
    )
    banned_terms = ArrayField(
        models.CharField(max_length=100),
        default=list,
        blank=True,
        help_text="Words or phrases never to use (comma-separated). The check reports each as an error.",
    )
    required_terms = ArrayField(
        models.CharField(max_length=100),
        default=list,
        blank=True,
        help_text="Words or phrases every text should contain (comma-separated). Missing ones are warnings.",
    )
    status = models.CharField(
        max_length=20,
        choices=StyleGuideStatus.choices,
        default=StyleGuideStatus.DRAFT,
        help_text="Publishing sets 'published'; archive a guide nobody should start new work with.",
    )

    class Meta(OwnedSlugModel.Meta):
        constraints = [
            *OwnedSlugModel.Meta.constraints,
            models.CheckConstraint(
                condition=~Q(kind=StyleGuideKind.VERTICAL) | Q(vertical__isnull=False),
                name="styleguide_vertical_kind_has_vertical",
                violation_error_message="A vertical guide must name its vertical.",
            ),
            models.CheckConstraint(
                condition=Q(reading_level__isnull=True)
                | Q(reading_level__gte=READING_LEVEL_RANGE[0], reading_level__lte=READING_LEVEL_RANGE[1]),
                name="styleguide_reading_level_range",
            ),
            models.CheckConstraint(
                condition=~Q(parent=models.F("id")),
                name="styleguide_not_own_parent",
                violation_error_message="A guide cannot inherit from itself.",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "kind", "status"], name="styleguide_org_kind_idx"),
        ]

    def clean(self):
        super().clean()
        for name in GUIDE_TERM_FIELDS:
            # The limits of a rule's term list: these lists are checked as rules too.
            setattr(self, name, term_list(getattr(self, name), name=name, field=name))
        if self.status == StyleGuideStatus.PUBLISHED and (
            self.pk is None or not StyleGuideVersion.objects.filter(guide_id=self.pk).exists()
        ):
            raise ValidationError({"status": "Publish the guide to make it 'published'."})
        if self.parent_id is None:
            return
        # Who inherits from whom changes one guide at a time per organization (global guides
        # among themselves: they build only on each other), until the change commits: two
        # concurrent edits (A under B, B under A) would each pass the circle check below against
        # the other's old parent, and together make a circle (or a chain past the limit).
        lock_until_commit(f"styleguide-inheritance:{self.organization_id or 'global'}")
        parent = StyleGuide.all_objects.get(pk=self.parent_id)  # as committed now, not as cached
        if parent.organization_id is not None and parent.organization_id != self.organization_id:
            raise ValidationError(
                {"parent": "A guide can only build on a global guide or one of its own organization."}
            )
        seen, ancestor = {self.pk}, parent
        while ancestor is not None:
            if ancestor.pk in seen:
                raise ValidationError({"parent": "This parent would make the guides inherit in a circle."})
            seen.add(ancestor.pk)
            ancestor = ancestor.parent
        # The guides built on this one inherit the new chain too: the deepest of them is the
        # longest chain this parent makes.
        above, below = len(seen) - 1, self.descendant_generations()
        if above + 1 + below > MAX_INHERITANCE_DEPTH:
            # A merge reads this many guides: the ones above would be left out without a word.
            raise ValidationError(
                {
                    "parent": f"A chain of guides may be at most {MAX_INHERITANCE_DEPTH} long: with this "
                    f"parent it would be {above + 1 + below} ({above} above this guide, {below} "
                    "generation(s) built on it below)."
                }
            )

    def descendant_generations(self) -> int:
        """How many generations of guides build on this one (0 when none does), counted up to
        one past ``MAX_INHERITANCE_DEPTH``: one query per generation.

        Soft-deleted guides count (a restore brings one back without validating its chain), and
        so do other organizations' (a global guide's children are tenants'; only the platform,
        which sees every row, edits a global guide).
        """
        if self.pk is None:
            return 0  # being created: nothing builds on it yet
        generations, frontier = 0, [self.pk]
        while generations <= MAX_INHERITANCE_DEPTH:
            frontier = list(
                StyleGuide.all_objects.filter(parent_id__in=frontier).values_list("pk", flat=True)
            )
            if not frontier:
                break
            generations += 1
        return generations


class StyleGuideVersion(ImmutableVersionModel):
    """An immutable snapshot of a guide as published: its content, its rules, who and when.

    ``version`` counts 1, 2, 3 … per guide. ``rules`` holds the guide's brand rules as they were
    (a list of ``{"id", "name", "rule_type", "parameters", "severity", "message", "is_active"}``),
    so later rule edits never change what a version enforced.
    """

    # CASCADE: a version is part of its guide; guides are soft-deleted, so this only runs when
    # retention or a purge hard-deletes the guide (and anything still citing a version blocks it).
    guide = models.ForeignKey(StyleGuide, on_delete=models.CASCADE, related_name="versions")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=StyleGuideKind.choices)
    # PROTECT: history must keep resolving its vertical and parent.
    vertical = models.ForeignKey(Vertical, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    parent = models.ForeignKey(StyleGuide, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    body = models.TextField(blank=True)
    tone = models.CharField(max_length=200, blank=True)
    audience = models.CharField(max_length=300, blank=True)
    reading_level = models.PositiveSmallIntegerField(null=True, blank=True)
    banned_terms = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    required_terms = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    rules = models.JSONField(default=list, blank=True)
    content_hash = models.CharField(
        max_length=64, help_text="SHA-256 of the snapshot, to spot unpublished edits."
    )
    notes = models.TextField(blank=True, help_text="What changed in this version.")
    # SET_NULL: the label below keeps who published after the user is gone (the trigger allows it).
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    published_by_label = models.CharField(max_length=200, blank=True)
    published_at = models.DateTimeField(default=timezone.now)

    versioned = "guide"

    class Meta(ImmutableVersionModel.Meta):
        ordering = ["guide", "-version"]
        constraints = version_constraints("styleguideversion", "guide")

    def __str__(self):
        # The name as published, not the guide's current one.
        return f"{self.name} v{self.version}"


class BrandRuleManager(models.Manager):
    def get_by_natural_key(self, organization_slug, guide_slug, name):
        return self.get(guide=StyleGuide.objects.get_by_natural_key(organization_slug, guide_slug), name=name)


class BrandRule(OwnedChildModel, TimeStampedModel):
    """One machine-checkable rule of a guide; ``styleguides.compliance`` documents each type's
    ``parameters`` and validates them on save (a bad regex is refused here, not at check time).

    A child guide's rule with the same ``name`` as an inherited rule replaces it; an inactive
    child rule switches the inherited one off.
    """

    # CASCADE: a rule belongs to its guide; published versions keep their own copy of it.
    guide = models.ForeignKey(StyleGuide, on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(max_length=100, help_text="A short name shown with each violation.")
    # Callable: the registry of rule types (styleguides.rules) decides, so a new type is one module.
    rule_type = models.CharField(max_length=30, choices=rule_type_choices)
    parameters = models.JSONField(default=dict, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.ERROR)
    message = models.CharField(
        max_length=300, blank=True, help_text="What the writer sees; a sensible default is used when empty."
    )
    is_active = models.BooleanField(default=True)

    objects = BrandRuleManager()

    class Meta:
        ordering = ["guide", "id"]
        constraints = [unique_per_owner("guide", "name", name="brandrule_unique_name_per_guide")]

    def __str__(self):
        return self.name

    def natural_key(self):
        return (*self.guide.natural_key(), self.name)

    natural_key.dependencies = ["styleguides.styleguide"]

    def clean(self):
        from styleguides.compliance import validate_rule_parameters

        super().clean()
        if rule_kind(self.rule_type) is not None:
            self.parameters = validate_rule_parameters(self.rule_type, self.parameters)


# --- Prompt templates and snippets ----------------------------------------------------------


class PromptTemplate(OwnedSlugModel):
    """A named prompt for one kind of content; its Jinja2 bodies live in numbered versions.

    Labels (``production``, ``staging`` …) point at a version, so services ask for
    ``?label=production`` and editors move the label when a new version is ready.
    """

    organization = owner_field("Empty for a global template every organization can use.")
    content_type = models.CharField(
        max_length=20, choices=TemplateContentType.choices, default=TemplateContentType.OTHER
    )
    description = models.TextField(blank=True)


class PromptTemplateVersion(AuthoredVersionModel):
    """An immutable version of a template: Jinja2 system and user bodies and declared variables.

    ``variables`` is a list of ``{"name", "required", "description", "default"}``. Rendering
    refuses undeclared and missing required variables; saving refuses a syntax error or a body
    that uses a variable it does not declare (``styleguides.prompt_rendering``).
    """

    # CASCADE: a version is part of its template (templates are soft-deleted in normal use).
    template = models.ForeignKey(PromptTemplate, on_delete=models.CASCADE, related_name="versions")
    system_template = models.TextField(blank=True, help_text="Jinja2 body of the system message.")
    user_template = models.TextField(help_text="Jinja2 body of the user message.")
    variables = models.JSONField(default=list, blank=True)
    notes = models.TextField(blank=True, help_text="What changed in this version.")

    versioned = "template"

    class Meta(ImmutableVersionModel.Meta):
        ordering = ["template", "-version"]
        constraints = version_constraints("prompttemplateversion", "template")

    def clean(self):
        from styleguides.prompt_rendering import validate_template_version

        super().clean()
        self.variables = validate_template_version(
            system_template=self.system_template, user_template=self.user_template, variables=self.variables
        )


class PromptTemplateLabel(OwnedChildModel, TimeStampedModel):
    """A movable name (``production``, ``staging``) pointing at one version of a template."""

    # CASCADE: a label means nothing without its template.
    template = models.ForeignKey(PromptTemplate, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=50, validators=[label_name_validator])
    # PROTECT: a version a label points at cannot disappear under it.
    version = models.ForeignKey(PromptTemplateVersion, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["template", "name"]
        constraints = [unique_per_owner("template", "name", name="prompttemplatelabel_unique_name")]

    def __str__(self):
        return f"{self.name} → v{self.version.version}"

    def clean(self):
        super().clean()
        if self.version_id and self.template_id and self.version.template_id != self.template_id:
            raise ValidationError({"version": "A label must point at a version of its own template."})


class ContextSnippet(OwnedSlugModel):
    """A reusable block of context (a brand boilerplate, a product fact sheet) that templates
    include with ``{% include "<slug>" %}``. Each change of ``body`` writes a new immutable
    :class:`ContextSnippetVersion`; rendering uses the latest one and reports its id.
    """

    organization = owner_field("Empty for a global snippet every organization can include.")
    slug = models.SlugField(max_length=100, help_text='Templates include it with {% include "slug" %}.')
    description = models.CharField(max_length=300, blank=True)
    body = models.TextField(help_text="Text (Jinja2 allowed) inserted where a template includes it.")

    def clean(self):
        from styleguides.prompt_rendering import validate_snippet_body

        super().clean()
        validate_snippet_body(self.body)


class ContextSnippetVersion(AuthoredVersionModel):
    """An immutable version of a snippet's body."""

    # CASCADE: a version is part of its snippet (snippets are soft-deleted in normal use).
    snippet = models.ForeignKey(ContextSnippet, on_delete=models.CASCADE, related_name="versions")
    body = models.TextField()

    versioned = "snippet"

    class Meta(ImmutableVersionModel.Meta):
        ordering = ["snippet", "-version"]
        constraints = version_constraints("contextsnippetversion", "snippet")


# --- Content pillars and series -------------------------------------------------------------


class ContentPillar(SoftDeleteModel, TenantModel):
    """A theme an organization's content keeps returning to (for example "Local experiences")."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [unique_while_alive("organization", "slug", name="contentpillar_unique_slug_per_org")]

    def __str__(self):
        return self.name


class ContentSeries(SoftDeleteModel, TenantModel):
    """A recurring run of content within a pillar (for example "Chef's table, every Friday")."""

    # PROTECT: a pillar with series is soft-deleted, never removed from under them.
    pillar = models.ForeignKey(
        ContentPillar, on_delete=models.PROTECT, null=True, blank=True, related_name="series"
    )
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "content series"
        constraints = [unique_while_alive("organization", "slug", name="contentseries_unique_slug_per_org")]

    def __str__(self):
        return self.name
