"""Admin of the analytics app: read-only logs and rollups, weekly summaries, the organizations'
cleanup preferences (editable, audited) and the staff cost dashboard."""

from __future__ import annotations

import datetime

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from analytics import models, repricing, selectors
from analytics.charts import cost_per_day_chart
from analytics.errors import InvalidReportQuery
from analytics.reports import DEFAULT_RANGE_DAYS, MAX_RANGE_DAYS, check_range
from tenancy.admin_mixins import AdminPagesMixin, InkwellModelAdmin, ReadOnlyModelAdmin, admin_actor
from tenancy.api.fields import date_out_of_bounds
from tenancy.models import Organization


@admin.register(models.ProviderCall)
class ProviderCallAdmin(ReadOnlyModelAdmin):
    list_display = [
        "occurred_at",
        "organization",
        "provider_name",
        "model_name",
        "endpoint",
        "status_code",
        "success",
        "error_type",
        "api_latency_ms",
        "total_tokens",
        "cost_usd",
        "cost_status",
    ]
    list_filter = ["success", "error_type", "cost_status", "method", "organization"]
    search_fields = ["request_id", "model_name", "user_ref", "endpoint"]
    date_hierarchy = "occurred_at"
    raw_id_fields = ["generation"]
    actions = ["reprice_models"]

    @admin.action(
        description="Re-price generations and calls of the selected rows' models (prices known now)"
    )
    def reprice_models(self, request, queryset):
        """For each organization and model among the selected calls, price that organization's
        generations and provider calls of the model again (``analytics.repricing``), audited."""
        total = repricing.RepriceReport()
        pairs = sorted(set(queryset.values_list("organization_id", "model_name")))
        organizations = Organization.objects.in_bulk([organization_id for organization_id, _ in pairs])
        for organization_id, model_name in pairs:
            report = repricing.reprice_run(
                organization=organizations[organization_id],
                model_name=model_name or None,
                actor=admin_actor(request),
            )
            total.examined += report.examined
            total.changed += report.changed
            total.newly_priced += report.newly_priced
            total.cost_delta_usd += report.cost_delta_usd
        self.message_user(
            request,
            f"Re-priced {total.changed} of {total.examined} rows ({total.newly_priced} newly priced, "
            f"cost {total.cost_delta_usd:+f} USD).",
            messages.SUCCESS,
        )


@admin.register(models.PerformanceMetric)
class PerformanceMetricAdmin(ReadOnlyModelAdmin):
    list_display = [
        "generation",
        "organization",
        "total_duration_ms",
        "api_call_ms",
        "cache_hit",
        "retry_count",
        "validation_passed",
        "created_at",
    ]
    list_filter = ["cache_hit", "validation_passed", "organization"]
    raw_id_fields = ["generation"]


@admin.register(models.ModelPerformance)
class ModelPerformanceAdmin(ReadOnlyModelAdmin):
    list_display = ["run", "organization", "provider_name", "model_name", "requests", "successes", "cost_usd"]
    list_filter = ["organization"]
    search_fields = ["model_name"]
    raw_id_fields = ["run"]


class DashboardForm(forms.Form):
    """The organization and period the dashboard shows."""

    organization = forms.ModelChoiceField(queryset=None, empty_label=None)
    date_from = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, organizations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations

    def clean(self):
        cleaned = super().clean()
        for name in ("date_from", "date_to"):
            # The API's window: a dashboard of year 1 or 9999 shows nothing true.
            message = date_out_of_bounds(cleaned[name]) if cleaned.get(name) else None
            if message:
                self.add_error(name, message)
        if cleaned.get("date_from") and cleaned.get("date_to"):
            try:
                check_range(cleaned["date_from"], cleaned["date_to"])
            except InvalidReportQuery as exc:
                raise forms.ValidationError(exc.detail) from exc
        return cleaned


# What a model rollup's list starts with: its period, owner, provider and model
# (``DailyModelGroup``'s group keys; the generations' rollups show the content type too).
MODEL_GROUP_COLUMNS = ("day", "organization", "provider_name", "model_name")


class RollupAdmin(ReadOnlyModelAdmin):
    """A rollup: one organization's figures per period (a day unless the rollup says otherwise),
    written only by the rollup jobs, so staff browse it by period and organization."""

    list_filter = ["organization"]
    date_hierarchy = "day"


@admin.register(models.GenerationDailyRollup)
class GenerationDailyRollupAdmin(AdminPagesMixin, RollupAdmin):
    """Daily rollups of generations, and the cost dashboard built on them."""

    list_display = [
        *MODEL_GROUP_COLUMNS,
        "content_type",
        "user_ref",
        "requests",
        "failures",
        "cache_hits",
        "cost_usd",
    ]
    list_filter = ["organization", "content_type"]
    search_fields = ["model_name", "user_ref"]
    change_list_template = "admin/analytics/rollup_change_list.html"

    admin_pages = [("dashboard/", "dashboard_view", "analytics_dashboard")]

    def dashboard_view(self, request):
        """Cost per day per model, top users, failure and cache hit rates for one organization
        and period, from the rollups."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        organizations = self.staff_organizations(request).order_by("name")
        today = timezone.now().date()
        initial = {
            "organization": organizations.first(),
            "date_from": today - datetime.timedelta(days=DEFAULT_RANGE_DAYS - 1),
            "date_to": today,
        }
        # Whatever the link leaves out (only an organization, say) takes its default, so the
        # form never answers "This field is required" for a field nobody was asked to fill in.
        params = request.GET.copy()
        for name, value in initial.items():
            if value is not None and not params.get(name):
                params[name] = value.pk if name == "organization" else value.isoformat()
        form = DashboardForm(params if request.GET else None, initial=initial, organizations=organizations)
        context = {
            **self.admin_site.each_context(request),
            "title": "Cost dashboard",
            "opts": self.model._meta,
            "form": form,
            "max_range_days": MAX_RANGE_DAYS,
        }
        chosen = (
            form.cleaned_data if form.is_bound and form.is_valid() else (None if form.is_bound else initial)
        )
        if chosen and chosen["organization"] is not None:
            figures = selectors.dashboard_figures(
                organization=chosen["organization"], date_from=chosen["date_from"], date_to=chosen["date_to"]
            )
            context.update(
                organization=chosen["organization"],
                date_from=chosen["date_from"],
                date_to=chosen["date_to"],
                figures=figures,
                chart=cost_per_day_chart(
                    figures["cost_rows"], date_from=chosen["date_from"], date_to=chosen["date_to"]
                ),
            )
        return TemplateResponse(request, "admin/analytics/dashboard.html", context)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "dashboard_url": reverse("admin:analytics_dashboard")}
        return super().changelist_view(request, extra_context)


@admin.register(models.ProviderCallDailyRollup)
class ProviderCallDailyRollupAdmin(RollupAdmin):
    list_display = [
        *MODEL_GROUP_COLUMNS,
        "user_ref",
        "key_fingerprint",
        "requests",
        "failures",
        "rate_limited",
        "cost_usd",
    ]
    search_fields = ["model_name", "user_ref", "key_fingerprint"]


@admin.register(models.GenerationModelDailyRollup)
class GenerationModelDailyRollupAdmin(RollupAdmin):
    list_display = [
        *MODEL_GROUP_COLUMNS,
        "content_type",
        "requests",
        "cost_usd",
    ]
    list_filter = ["organization", "content_type"]
    search_fields = ["model_name"]


@admin.register(models.GenerationDayRollup)
class GenerationDayRollupAdmin(RollupAdmin):
    list_display = ["day", "organization", "requests", "failures", "cost_usd"]


@admin.register(models.GenerationUserDailyRollup)
class GenerationUserDailyRollupAdmin(RollupAdmin):
    list_display = ["day", "organization", "user_ref", "requests", "failures", "cost_usd"]
    search_fields = ["user_ref"]


@admin.register(models.ProviderCallUserDailyRollup)
class ProviderCallUserDailyRollupAdmin(RollupAdmin):
    list_display = ["day", "organization", "user_ref", "requests", "failures", "cost_usd"]
    search_fields = ["user_ref"]


@admin.register(models.ProviderCallModelDailyRollup)
class ProviderCallModelDailyRollupAdmin(RollupAdmin):
    list_display = [*MODEL_GROUP_COLUMNS, "requests", "failures", "cost_usd"]
    search_fields = ["model_name"]


@admin.register(models.ProviderCallKeyDailyRollup)
class ProviderCallKeyDailyRollupAdmin(RollupAdmin):
    list_display = [
        "day",
        "organization",
        "key_fingerprint",
        "requests",
        "failures",
        "rate_limited",
        "cost_usd",
    ]
    search_fields = ["key_fingerprint"]


@admin.register(models.UserHourlyRollup)
class UserHourlyRollupAdmin(RollupAdmin):
    list_display = ["hour", "organization", "user_ref", "requests", "rate_limited"]
    search_fields = ["user_ref"]
    date_hierarchy = "hour"


@admin.register(models.UserDailyRollup)
class UserDailyRollupAdmin(RollupAdmin):
    list_display = ["day", "organization", "user_ref", "requests", "rate_limited", "busiest_hour_bound"]
    search_fields = ["user_ref"]
    date_hierarchy = "day"


@admin.register(models.WeeklySummary)
class WeeklySummaryAdmin(RollupAdmin):
    list_display = [
        "week_start",
        "organization",
        "requests",
        "failure_rate",
        "cost_usd",
        "requests_change_pct",
        "cost_change_pct",
        "failure_rate_change",
    ]
    date_hierarchy = "week_start"


@admin.register(models.CleanupPreferences)
class CleanupPreferencesAdmin(InkwellModelAdmin):
    """An organization's retention: each field may only shorten the platform's default; every
    save is validated and audited."""

    list_display = [
        "organization",
        "generations_days",
        "failed_generations_days",
        "provider_calls_days",
        "performance_metrics_days",
        "empty_runs_days",
        "updated_at",
    ]
    list_select_related = ["organization"]


@admin.register(models.RetentionBatch)
class RetentionBatchAdmin(ReadOnlyModelAdmin):
    list_display = ["created_at", "organization", "target", "primary_rows", "archived_rows", "cutoff"]
    list_filter = ["target", "organization"]


@admin.register(models.ArchivedRecord)
class ArchivedRecordAdmin(ReadOnlyModelAdmin):
    list_display = ["archived_at", "organization", "model_label", "object_id", "occurred_at"]
    list_filter = ["model_label", "organization"]
    search_fields = ["object_id"]
    raw_id_fields = ["batch"]
