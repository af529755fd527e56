"""Admin of the generations app: generations are read-only history except their status and
soft delete; every change goes through ``generations.services`` (audited, signalled)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from generations import selectors, services
from generations.choices import GenerationStatus
from generations.models import (
    SEARCH_TEXT_MAX_LENGTH,
    CacheDailyStats,
    CacheEntry,
    Campaign,
    Generation,
    GenerationRun,
    content_matches,
)
from tenancy.admin_mixins import InkwellModelAdmin, ReadOnlyModelAdmin, admin_actor
from tenancy.admin_walls import staff_organization_ids


class GenerationAdminForm(forms.ModelForm):
    """Only ``status`` is editable, and only forward (pending → processing → finished)."""

    class Meta:
        model = Generation
        fields = ["status"]

    def clean_status(self):
        status = self.cleaned_data["status"]
        current = Generation.all_objects.filter(pk=self.instance.pk).values_list("status", flat=True).first()
        if current is not None and not GenerationStatus.can_move(current, status):
            raise forms.ValidationError(f"Status moves forward only: {current} cannot become {status}.")
        return status


def _change_url(generation_id: int) -> str:
    return reverse("admin:generations_generation_change", args=[generation_id])


def _version_link(version, owner: str, label: str):
    """A guide's or template's version, linked to its ``owner``'s page (versions are shown
    there, read-only), named by its ``label`` attribute; "—" for none."""
    if version is None:
        return "—"
    opts = version._meta.get_field(owner).related_model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[getattr(version, f"{owner}_id")])
    return format_html('<a href="{}">{} v{}</a>', url, getattr(version, label), version.version)


def _tree_html(node: dict, current_id: int) -> SafeString:
    label = format_html(
        "v{} · {} · {}{}{}",
        node["version"],
        node["kind"],
        node["status"],
        f" · {node['vertical']}" if node["vertical"] else "",
        f" · “{node['branch_name']}”" if node["branch_name"] else "",
    )
    if node["id"] == current_id:
        item = format_html("<strong>{} (this one)</strong>", label)
    else:
        item = format_html('<a href="{}">{}</a>', _change_url(node["id"]), label)
    if node["is_deleted"]:
        item = format_html("<del>{}</del>", item)
    children = format_html_join("", "{}", ((_tree_html(child, current_id),) for child in node["children"]))
    return format_html(
        "<li>{}{}</li>", item, format_html("<ul>{}</ul>", children) if node["children"] else ""
    )


@admin.register(Generation)
class GenerationAdmin(InkwellModelAdmin):
    form = GenerationAdminForm
    list_display = [
        "id",
        "request_id",
        "organization",
        "content_type",
        "status",
        "model_name",
        "cost_usd",
        "cost_status",
        "total_tokens",
        "version",
        "kind",
        "created_at",
    ]
    list_filter = [
        "status",
        "content_type",
        "cost_status",
        "kind",
        "target_channel",
        "content_format",
        "provider",
        "vertical",
        ("created_at", admin.DateFieldListFilter),
        "organization",
    ]
    list_select_related = ["organization"]
    search_fields = ["request_id", "model_name", "user_ref", "agent_name"]
    search_help_text = (
        "Words in the content (full text: 'hotels' finds 'hotel'), or a request id, model, user or agent."
    )
    show_full_result_count = False  # no COUNT(*) over millions of rows per page
    fieldsets = [
        (None, {"fields": ["organization", "request_id", "status", "user_ref", "campaign", "run"]}),
        (
            "What was asked",
            {
                "fields": [
                    "content_type",
                    "target_channel",
                    "agent_name",
                    "vertical",
                    "style_guide_version_link",
                    "template_version_link",
                    "provider_name",
                    "model_name",
                    "provider",
                    "model",
                    "prompt",
                    "parameters",
                ]
            },
        ),
        ("What came back", {"fields": ["content", "content_format", "error_message", "error_details"]}),
        (
            "Usage and cost",
            {
                "fields": [
                    "usage_and_cost",
                    "price",
                    "client_usage",
                    "client_cost_usd",
                    "generation_time_ms",
                    "completed_at",
                ]
            },
        ),
        ("Tree", {"fields": ["tree"]}),
        (
            "Raw",
            {
                "classes": ["collapse"],
                "fields": [
                    "metadata",
                    "raw_request",
                    "raw_response",
                    "created_at",
                    "updated_at",
                    "deleted_at",
                ],
            },
        ),
    ]
    # Everything on the page is read-only but what the form edits (the status).
    readonly_fields = [
        name
        for _, options in fieldsets
        for name in options["fields"]
        if name not in GenerationAdminForm.Meta.fields
    ]

    def get_search_results(self, request, queryset, search_term):
        """The field search, or the content's full text through its GIN index (``content_matches``)."""
        by_fields, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        search_term = search_term.strip()
        if not search_term or len(search_term) > SEARCH_TEXT_MAX_LENGTH:
            return by_fields, may_have_duplicates
        # A superuser searches every organization (None); other staff their own, named to the index.
        organization_ids = staff_organization_ids(request, self.model)
        by_content = queryset.filter(content_matches(search_term, organization_ids=organization_ids))
        return by_fields | by_content, may_have_duplicates

    def has_add_permission(self, request):
        return False  # generations are recorded by services through the API

    @admin.display(description="Usage and cost")
    def usage_and_cost(self, obj: Generation):
        cost = f"${obj.cost_usd:.6f}" if obj.cost_usd is not None else "unpriced (model or price unknown)"
        return format_html(
            "<table><tr><th>input</th><td>{}</td></tr><tr><th>output</th><td>{}</td></tr>"
            "<tr><th>cache read</th><td>{}</td></tr><tr><th>cache write</th><td>{}</td></tr>"
            "<tr><th>total</th><td>{}</td></tr><tr><th>cost</th><td>{}</td></tr></table>",
            obj.input_tokens,
            obj.output_tokens,
            obj.cache_read_tokens,
            obj.cache_write_tokens,
            obj.total_tokens,
            cost,
        )

    @admin.display(description="Style guide version")
    def style_guide_version_link(self, obj: Generation):
        return _version_link(obj.style_guide_version, "guide", "name")

    @admin.display(description="Template version")
    def template_version_link(self, obj: Generation):
        return _version_link(obj.template_version, "template", "template")

    @admin.display(description="Generation tree")
    def tree(self, obj: Generation):
        root = selectors.generation_tree(organization=obj.organization, generation=obj)
        if not root:
            return "—"
        return format_html('<ul class="generation-tree">{}</ul>', _tree_html(root, obj.pk))

    def save_model(self, request, obj, form, change):
        services.generation_update(
            organization=obj.organization,
            actor=admin_actor(request),
            generation=obj,
            values={"status": form.cleaned_data["status"]},
        )

    def delete_model(self, request, obj):
        services.generation_delete(organization=obj.organization, actor=admin_actor(request), generation=obj)

    def restore_one(self, obj, actor):
        services.generation_restore(organization=obj.organization, actor=actor, generation=obj)


@admin.register(Campaign)
class CampaignAdmin(InkwellModelAdmin):
    list_display = ["name", "organization", "pillar", "series", "starts_on", "ends_on", "created_at"]
    list_filter = ["organization"]
    list_select_related = ["organization", "pillar", "series"]
    search_fields = ["name"]
    fields = ["organization", "name", "description", "pillar", "series", "starts_on", "ends_on"]


@admin.register(GenerationRun)
class GenerationRunAdmin(InkwellModelAdmin):
    list_display = ["id", "organization", "mode", "deep_thinking", "content_type", "created_at"]
    list_filter = ["mode", "deep_thinking", "content_type", "organization"]
    list_select_related = ["organization"]
    search_fields = ["prompt", "user_ref"]
    fields = [
        "organization",
        "prompt",
        "content_type",
        "mode",
        "deep_thinking",
        "models_requested",
        "user_ref",
        "error_details",
    ]


@admin.register(CacheEntry)
class CacheEntryAdmin(InkwellModelAdmin):
    list_display = [
        "key",
        "organization",
        "model_name",
        "hit_count",
        "cost_saved_usd",
        "expires_at",
        "last_accessed_at",
    ]
    list_filter = ["organization", ("expires_at", admin.DateFieldListFilter)]
    list_select_related = ["organization"]
    search_fields = ["key", "model_name"]
    readonly_fields = ["hit_count", "last_accessed_at"]
    fields = [
        "organization",
        "key",
        "model_name",
        "response",
        "cost_saved_usd",
        "expires_at",
        "hit_count",
        "last_accessed_at",
    ]


@admin.register(CacheDailyStats)
class CacheDailyStatsAdmin(ReadOnlyModelAdmin):
    """The cache's per-day counts, written by cache reads and folded by the rollup jobs: a
    record like the analytics rollups, so nobody adds, edits or deletes one here."""

    list_display = ["day", "organization", "hits", "misses", "cost_saved_usd"]
    list_filter = ["organization"]
    date_hierarchy = "day"


# The publishing queue's admin lives with its models (generations.publishing).
from generations.publishing import admin as publishing_admin  # noqa: E402, F401
