"""Admin of the styleguides app, written for editors rather than engineers.

A style guide's page has its rules inline (plain fields per rule type, no JSON to type), its
published versions read-only, a "Save and publish" button, a "Check a text" tool that highlights
what breaks the rules, and a comparison of any two versions (or a version and the draft).
Every write goes through the audited services; deleted guides wait in the trash ("deleted"
filter) to be restored.
"""

from __future__ import annotations

import copy
import difflib
import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from styleguides import models, rules, selectors, services
from styleguides.choices import StyleGuideStatus
from styleguides.compliance import highlight_segments, validate_rule_parameters
from styleguides.prompt_rendering import validate_template_version
from styleguides.versioning import (
    guide_as_text,
    guide_has_unpublished_changes,
    guide_snapshot,
    version_snapshot,
)
from tenancy.admin_mixins import (
    AdminPagesMixin,
    InkwellModelAdmin,
    StorableJSONField,
    admin_actor,
    adopt_created,
    field_values,
)


class OwnerListFilter(admin.SimpleListFilter):
    """Global rows, or one organization's."""

    title = "organization"
    parameter_name = "owner"

    def lookups(self, request, model_admin):
        organizations = model_admin.staff_organizations(request).order_by("name")
        return [("global", "Global (shared)"), *[(str(org.pk), org.name) for org in organizations]]

    def queryset(self, request, queryset):
        if self.value() == "global":
            return queryset.filter(organization__isnull=True)
        if self.value():
            return queryset.filter(organization_id=self.value())
        return queryset


def _owner(obj) -> str:
    return obj.organization.name if obj.organization_id else "Global"


@admin.register(models.Vertical)
class VerticalAdmin(InkwellModelAdmin):
    list_display = ["name", "slug", "default_tone", "audience"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}


# --- Brand rules: friendly fields instead of JSON -------------------------------------------


class BrandRuleForm(forms.ModelForm):
    """A rule edited with plain fields; they are turned into ``parameters`` and validated on save
    (an invalid pattern is refused here, with the reason next to the field).

    The plain fields are every registered rule type's ``admin_fields`` (``styleguides.rules``);
    :func:`brand_rule_form` builds the form class with them, and the rule type select carries the
    map of which fields each type shows, for ``brand_rules.js``.
    """

    parameters = StorableJSONField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = models.BrandRule
        fields = ["name", "rule_type", "severity", "is_active", "message", "parameters"]
        widgets = {"message": forms.TextInput(attrs={"size": 60})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rule_type"].widget.attrs["data-rule-fields"] = json.dumps(rules.admin_field_map())
        kind = rules.rule_kind(self.instance.rule_type) if self.instance.pk else None
        if kind is not None:
            self.initial.update(kind.form_initial(self.instance.parameters or {}))

    def clean(self):
        cleaned = super().clean()
        kind = rules.rule_kind(cleaned.get("rule_type") or "")
        if kind is None:
            return cleaned
        try:
            cleaned["parameters"] = validate_rule_parameters(kind.type, kind.parameters_from_form(cleaned))
        except ValidationError as exc:
            self.add_error(kind.error_field, exc.message_dict.get("parameters", exc.messages))
        return cleaned

    def _post_clean(self):
        if self._errors:
            return  # clean() reported the problem next to its field; nothing will be saved
        super()._post_clean()


def brand_rule_form() -> type[BrandRuleForm]:
    """The rule form with the plain fields of every rule type registered now."""
    fields = {name: copy.deepcopy(field) for name, field in rules.admin_fields().items()}
    return type("BrandRuleForm", (BrandRuleForm,), fields)


class BrandRuleInline(admin.StackedInline):
    model = models.BrandRule
    form = BrandRuleForm
    extra = 0

    def get_fieldsets(self, request, obj=None):
        return [
            (None, {"fields": [("name", "rule_type", "severity", "is_active"), "message"]}),
            ("Settings", {"fields": [*rules.admin_rows(), "parameters"], "classes": ["brand-rule-settings"]}),
        ]

    def get_formset(self, request, obj=None, **kwargs):
        return super().get_formset(request, obj, form=brand_rule_form(), **kwargs)

    class Media:
        js = ["styleguides/brand_rules.js"]


class StyleGuideVersionInline(admin.TabularInline):
    model = models.StyleGuideVersion
    fk_name = "guide"
    extra = 0
    can_delete = False
    show_change_link = False
    fields = ["version", "published_at", "publisher", "notes", "compare"]
    readonly_fields = fields
    ordering = ["-version"]
    verbose_name = "published version"
    verbose_name_plural = "Published versions (immutable)"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Published by")
    def publisher(self, version):
        return version.published_by_label.removeprefix("user:") or "—"

    @admin.display(description="Compare")
    def compare(self, version):
        url = reverse("admin:styleguides_styleguide_diff", args=[version.guide_id])
        return format_html(
            '<a href="{}?from={}&to={}">changes in v{}</a> · <a href="{}?from={}&to=draft">v{} → draft</a>',
            url,
            version.version - 1,
            version.version,
            version.version,
            url,
            version.version,
            version.version,
        )


@admin.register(models.StyleGuide)
class StyleGuideAdmin(AdminPagesMixin, InkwellModelAdmin):
    list_display = [
        "name",
        "kind",
        "vertical",
        "owner",
        "status_badge",
        "published_version",
        "pending_changes",
        "updated_at",
    ]
    list_filter = ["kind", "vertical", "status", OwnerListFilter]
    search_fields = ["name", "slug", "summary", "body"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["status", "publishing"]
    inlines = [BrandRuleInline, StyleGuideVersionInline]
    actions = ["publish_selected", "archive_selected"]
    list_select_related = ["vertical", "organization", "parent__organization"]
    change_form_template = "admin/styleguides/styleguide/change_form.html"
    fieldsets = [
        (None, {"fields": ["organization", ("kind", "vertical"), "parent", ("name", "slug"), "summary"]}),
        ("Voice", {"fields": ["tone", "audience", "reading_level"]}),
        (
            "Guidance",
            {"fields": ["body"], "description": "Write in Markdown: # headings, - lists, **bold**."},
        ),
        ("Words", {"fields": ["banned_terms", "required_terms"]}),
        ("Publishing", {"fields": ["status", "publishing"]}),
    ]

    def get_queryset(self, request):
        return selectors.with_latest_version(super().get_queryset(request)).prefetch_related("rules")

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["widgets"] = {
            "body": forms.Textarea(attrs={"rows": 24, "cols": 100, "class": "vLargeTextField"})
        }
        return super().get_form(request, obj, change, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "parent":
            kwargs["queryset"] = models.StyleGuide.objects.filter(
                Q(organization__isnull=True) | Q(organization__in=self.staff_organizations(request))
            ).order_by("name")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="Owner", ordering="organization__name")
    def owner(self, guide):
        return _owner(guide)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, guide):
        colours = {"draft": "#8a6d00", "published": "#1e7e34", "archived": "#666"}
        return format_html(
            '<span style="color:{};font-weight:600">{}</span>',
            colours.get(guide.status, "#333"),
            guide.get_status_display(),
        )

    @admin.display(description="Live version")
    def published_version(self, guide):
        return f"v{guide.latest_version}" if guide.latest_version else "—"

    @admin.display(description="Unpublished edits", boolean=True)
    def pending_changes(self, guide):
        return guide_has_unpublished_changes(guide, latest_hash=guide.latest_version_hash)

    @admin.display(description="Publishing")
    def publishing(self, guide):
        if guide.pk is None:
            return "Save the guide first; then publish it to make it available to services."
        latest = getattr(guide, "latest_version", None)
        if latest is None:
            return "Never published. Services cannot use this guide until you publish it."
        if guide_has_unpublished_changes(guide, latest_hash=guide.latest_version_hash):
            return f"Version {latest} is live. You have edits since then: publish to release them."
        return f"Version {latest} is live and matches what you see here."

    # --- URLs -----------------------------------------------------------------------------
    admin_pages = [
        ("<int:object_id>/publish/", "publish_view", "styleguides_styleguide_publish"),
        ("<int:object_id>/check/", "check_view", "styleguides_styleguide_check"),
        ("<int:object_id>/diff/", "diff_view", "styleguides_styleguide_diff"),
    ]

    def _guide_or_404(self, request, object_id) -> models.StyleGuide:
        return get_object_or_404(self.get_queryset(request), pk=object_id)

    def _context(self, request, guide, title, **extra):
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": guide,
            "title": title,
            "has_view_permission": self.has_view_permission(request, guide),
            **extra,
        }

    # --- publish --------------------------------------------------------------------------
    def _publish(self, request, guide, notes: str = "") -> models.StyleGuideVersion | None:
        try:
            version = services.style_guide_publish(
                organization=guide.organization, actor=admin_actor(request), guide=guide, notes=notes
            )
        except services.NothingToPublish as exc:
            self.message_user(request, f"“{guide}”: {exc.detail}", messages.WARNING)
            return None
        self.message_user(request, f"Published “{guide}” as version {version.version}.", messages.SUCCESS)
        return version

    def publish_view(self, request, object_id):
        """GET: what would be published (a diff against the live version). POST: publish it."""
        guide = self._guide_or_404(request, object_id)
        if not self.has_change_permission(request, guide):
            raise PermissionDenied
        change_url = reverse("admin:styleguides_styleguide_change", args=[guide.pk])
        if request.method == "POST":
            try:
                # A form field's own checks (no NUL, which PostgreSQL cannot store), as the API's.
                notes = forms.CharField(required=False).clean(request.POST.get("notes", ""))
            except ValidationError as exc:
                message = f"Not published: the notes {' '.join(exc.messages)}"
                self.message_user(request, message, messages.ERROR)
            else:
                self._publish(request, guide, notes=notes)
            return HttpResponseRedirect(change_url)
        latest = selectors.style_guide_versions(guide=guide).first()
        before = guide_as_text(version_snapshot(latest)) if latest else ""
        after = guide_as_text(guide_snapshot(guide, guide.rules.all()))
        context = self._context(
            request,
            guide,
            f"Publish “{guide}”",
            next_version=(latest.version if latest else 0) + 1,
            latest=latest,
            unchanged=latest is not None and before == after,
            diff_table=_diff_table(
                before, after, f"v{latest.version}" if latest else "(nothing yet)", "Draft"
            ),
            change_url=change_url,
        )
        return TemplateResponse(request, "admin/styleguides/styleguide/publish.html", context)

    def response_change(self, request, obj):
        if "_publish" in request.POST:
            return HttpResponseRedirect(reverse("admin:styleguides_styleguide_publish", args=[obj.pk]))
        return super().response_change(request, obj)

    def response_add(self, request, obj, post_url_continue=None):
        if "_publish" in request.POST:
            return HttpResponseRedirect(reverse("admin:styleguides_styleguide_publish", args=[obj.pk]))
        return super().response_add(request, obj, post_url_continue)

    @admin.action(description="Publish selected guides (new version of each)")
    def publish_selected(self, request, queryset):
        for guide in queryset.filter(deleted_at__isnull=True):
            if self.has_change_permission(request, guide):
                self._publish(request, guide, notes="Published from the list.")

    @admin.action(description="Archive selected guides")
    def archive_selected(self, request, queryset):
        archived = 0
        for guide in queryset.filter(deleted_at__isnull=True):
            if self.has_change_permission(request, guide):
                services.owned_row_update(
                    organization=guide.organization,
                    actor=admin_actor(request),
                    instance=guide,
                    status=StyleGuideStatus.ARCHIVED,
                )
                archived += 1
        self.message_user(request, f"Archived {archived} guide(s).", messages.SUCCESS)

    # --- check ----------------------------------------------------------------------------
    def check_view(self, request, object_id):
        """Paste a text, see what breaks the rules, highlighted in place."""
        guide = self._guide_or_404(request, object_id)
        if not self.has_view_permission(request, guide):
            raise PermissionDenied
        form = CheckTextForm(request.POST or None)
        result = segments = None
        if request.method == "POST" and form.is_valid():
            result = services.style_guide_check(
                organization=guide.organization,
                guide=guide,
                text=form.cleaned_data["text"],
                version=form.cleaned_data["against"] or None,
            )
            segments = highlight_segments(form.cleaned_data["text"], result.violations)
        context = self._context(
            request, guide, f"Check a text against “{guide}”", form=form, result=result, segments=segments
        )
        return TemplateResponse(request, "admin/styleguides/styleguide/check.html", context)

    # --- diff -----------------------------------------------------------------------------
    def diff_view(self, request, object_id):
        """Compare two versions, or a version and the draft, side by side."""
        guide = self._guide_or_404(request, object_id)
        if not self.has_view_permission(request, guide):
            raise PermissionDenied
        versions = list(
            selectors.style_guide_versions(guide=guide).select_related("vertical", "parent__organization")
        )
        by_number = {version.version: version for version in versions}
        default_to = "draft"
        default_from = str(versions[0].version) if versions else "0"
        chosen_from = request.GET.get("from", default_from)
        chosen_to = request.GET.get("to", default_to)

        def text_of(choice: str) -> tuple[str, str]:
            if choice == "draft":
                return guide_as_text(guide_snapshot(guide, guide.rules.all())), "Draft"
            number = int(choice) if choice.isdigit() else 0
            if number in by_number:
                return guide_as_text(version_snapshot(by_number[number])), f"Version {number}"
            return "", "(empty)"

        before, before_label = text_of(chosen_from)
        after, after_label = text_of(chosen_to)
        context = self._context(
            request,
            guide,
            f"Compare versions of “{guide}”",
            versions=versions,
            chosen_from=chosen_from,
            chosen_to=chosen_to,
            diff_table=_diff_table(before, after, before_label, after_label),
            identical=before == after,
        )
        return TemplateResponse(request, "admin/styleguides/styleguide/diff.html", context)

    # --- inline rules go through the audited services -------------------------------------
    def save_formset(self, request, form, formset, change):
        if formset.model is not models.BrandRule:
            return super().save_formset(request, form, formset, change)
        guide = form.instance
        actor = admin_actor(request)
        instances = formset.save(commit=False)
        for rule in formset.deleted_objects:
            if rule.pk:
                services.brand_rule_delete(organization=guide.organization, actor=actor, instance=rule)
        for rule in instances:
            fields = {
                name: getattr(rule, name)
                for name in ("name", "rule_type", "parameters", "severity", "message", "is_active")
            }
            if rule.pk is None:
                services.brand_rule_create(
                    organization=guide.organization, actor=actor, guide=guide, **fields
                )
            else:
                services.brand_rule_update(
                    organization=guide.organization, actor=actor, instance=rule, **fields
                )


class CheckTextForm(forms.Form):
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 10, "cols": 100, "class": "vLargeTextField"}),
        max_length=100_000,
        strip=False,
        label="Text to check",
    )
    against = forms.ChoiceField(
        choices=[("", "What services get (the published guide)"), ("draft", "What I am editing (the draft)")],
        required=False,
        label="Check against",
    )


def _diff_table(before: str, after: str, before_label: str, after_label: str) -> str:
    return difflib.HtmlDiff(wrapcolumn=80).make_table(
        before.splitlines(), after.splitlines(), before_label, after_label, context=False
    )


# --- Prompt templates -----------------------------------------------------------------------


class PromptTemplateAdminForm(forms.ModelForm):
    """Edit a template like a document: the bodies and variables of its latest version are shown,
    and saving changed ones writes the next version (earlier versions never change)."""

    system_template = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 8, "cols": 100, "class": "vLargeTextField"})
    )
    user_template = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 12, "cols": 100, "class": "vLargeTextField"})
    )
    variables = StorableJSONField(
        required=False,
        initial=list,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 100}),
        help_text='A list like [{"name": "topic", "required": true, "description": "What to write about"}].',
    )
    version_notes = forms.CharField(required=False, help_text="What changed (saved with the new version).")

    class Meta:
        model = models.PromptTemplate
        fields = ["organization", "name", "slug", "content_type", "description"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        latest = (
            selectors.prompt_template_versions(template=self.instance).first() if self.instance.pk else None
        )
        self.latest_version = latest
        if latest is not None:
            self.initial.update(
                system_template=latest.system_template,
                user_template=latest.user_template,
                variables=latest.variables,
            )

    def clean(self):
        cleaned = super().clean()
        try:
            cleaned["variables"] = validate_template_version(
                system_template=cleaned.get("system_template") or "",
                user_template=cleaned.get("user_template") or "",
                variables=cleaned.get("variables") or [],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        if self.instance.pk and cleaned.get("version_notes") and not self.errors and not self.body_changed():
            # Notes are kept on the version a changed prompt writes: with none written they
            # would be dropped while the page says the template was saved.
            self.add_error(
                "version_notes",
                "Notes are saved with a new version: change the prompt too, or leave them empty.",
            )
        return cleaned

    def version_body(self) -> dict:
        """The bodies, variables and notes of the version a save writes, as the services take them."""
        return {
            "system_template": self.cleaned_data.get("system_template", ""),
            "user_template": self.cleaned_data["user_template"],
            "variables": self.cleaned_data.get("variables", []),
            "notes": self.cleaned_data.get("version_notes", ""),
        }

    def body_changed(self) -> bool:
        latest = self.latest_version
        if latest is None:
            return True
        return (
            self.cleaned_data.get("system_template", "") != latest.system_template
            or self.cleaned_data.get("user_template", "") != latest.user_template
            or self.cleaned_data.get("variables", []) != latest.variables
        )


class PromptTemplateVersionInline(admin.TabularInline):
    model = models.PromptTemplateVersion
    extra = 0
    can_delete = False
    fields = ["version", "created_at", "author", "notes"]
    readonly_fields = fields
    ordering = ["-version"]
    verbose_name_plural = "Versions (immutable)"

    @admin.display(description="Written by")
    def author(self, version):
        return version.created_by_label.removeprefix("user:") or "—"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class PromptTemplateLabelInline(admin.TabularInline):
    model = models.PromptTemplateLabel
    extra = 0
    fields = ["name", "version"]
    verbose_name_plural = "Labels (services ask for ?label=production)"

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "version":
            template_id = request.resolver_match.kwargs.get("object_id")
            kwargs["queryset"] = models.PromptTemplateVersion.objects.filter(template_id=template_id or 0)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(models.PromptTemplate)
class PromptTemplateAdmin(InkwellModelAdmin):
    form = PromptTemplateAdminForm
    list_display = ["name", "slug", "content_type", "owner", "latest", "label_list", "updated_at"]
    list_filter = ["content_type", OwnerListFilter]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [PromptTemplateLabelInline, PromptTemplateVersionInline]
    fieldsets = [
        (None, {"fields": ["organization", ("name", "slug"), "content_type", "description"]}),
        (
            "Prompt (Jinja2)",
            {
                "fields": ["system_template", "user_template", "variables", "version_notes"],
                "description": 'Use {{ variable }}, {% include "snippet-slug" %}, '
                '{% include "inkwell/style-guide" %} and {% if style_guide is defined %}.',
            },
        ),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related("labels__version")
            .annotate(latest_version=selectors.latest_template_version_number())
        )

    @admin.display(description="Owner", ordering="organization__name")
    def owner(self, template):
        return _owner(template)

    @admin.display(description="Latest")
    def latest(self, template):
        return f"v{template.latest_version}" if template.latest_version else "—"

    @admin.display(description="Labels")
    def label_list(self, template):
        return ", ".join(f"{label.name} → v{label.version.version}" for label in template.labels.all()) or "—"

    def save_model(self, request, obj, form, change):
        actor = admin_actor(request)
        if not change:
            template = services.prompt_template_create(
                organization=obj.organization,
                actor=actor,
                **field_values(obj, "name", "slug", "content_type", "description"),
                **form.version_body(),
            )
            adopt_created(obj, template)
            return
        super().save_model(request, obj, form, change)
        if form.body_changed():
            services.prompt_template_version_create(
                organization=obj.organization,
                actor=actor,
                template=obj,
                **form.version_body(),
            )

    def save_formset(self, request, form, formset, change):
        if formset.model is not models.PromptTemplateLabel:
            return super().save_formset(request, form, formset, change)
        template = form.instance
        for label in formset.save(commit=False):
            services.prompt_template_label_set(
                organization=template.organization,
                actor=admin_actor(request),
                template=template,
                name=label.name,
                version=label.version,
            )
        for label in formset.deleted_objects:
            label.delete()


@admin.register(models.ContextSnippet)
class ContextSnippetAdmin(InkwellModelAdmin):
    list_display = ["name", "slug", "owner", "description", "updated_at"]
    list_filter = [OwnerListFilter]
    search_fields = ["name", "slug", "description", "body"]
    prepopulated_fields = {"slug": ["name"]}
    fields = ["organization", "name", "slug", "description", "body"]

    @admin.display(description="Owner", ordering="organization__name")
    def owner(self, snippet):
        return _owner(snippet)

    def save_model(self, request, obj, form, change):
        fields = field_values(obj, "name", "slug", "description", "body")
        if change:
            current = models.ContextSnippet.all_objects.get(pk=obj.pk)
            services.context_snippet_update(
                organization=obj.organization, actor=admin_actor(request), instance=current, **fields
            )
        else:
            created = services.context_snippet_create(
                organization=obj.organization, actor=admin_actor(request), **fields
            )
            adopt_created(obj, created)


@admin.register(models.ContentPillar)
class ContentPillarAdmin(InkwellModelAdmin):
    list_display = ["name", "slug", "organization", "updated_at"]
    list_filter = ["organization"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(models.ContentSeries)
class ContentSeriesAdmin(InkwellModelAdmin):
    list_display = ["name", "slug", "pillar", "organization", "updated_at"]
    list_filter = ["organization", "pillar"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    list_select_related = ["pillar", "organization"]
