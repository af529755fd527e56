"""Reads of the analytics app: scoped to one organization and optimised, so serializers never
query. Reports live in ``analytics.reports``."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, QuerySet, Sum

from analytics import models
from analytics.choices import GroupBy
from analytics.reports import report_run
from providers.spending import SpendScope, SpendTotals
from tenancy.models import Organization


def provider_call_list(*, organization: Organization) -> QuerySet[models.ProviderCall]:
    """The organization's provider calls, newest first, with their resolved provider and model."""
    return models.ProviderCall.objects.filter(organization=organization).select_related("provider", "model")


def performance_metric_list(*, organization: Organization) -> QuerySet[models.PerformanceMetric]:
    """The organization's performance metrics, newest first."""
    return models.PerformanceMetric.objects.filter(organization=organization)


def model_performance_list(*, organization: Organization) -> QuerySet[models.ModelPerformance]:
    """How each model did in each of the organization's runs, newest run first."""
    return models.ModelPerformance.objects.filter(organization=organization).order_by(
        "-run_id", "model_name", "id"
    )


def weekly_summary_list(*, organization: Organization) -> QuerySet[models.WeeklySummary]:
    """The organization's weekly summaries, latest week first."""
    return models.WeeklySummary.objects.filter(organization=organization)


def provider_call_spend(
    scope: SpendScope, *, since: datetime.datetime, until: datetime.datetime
) -> SpendTotals:
    """What the scope's provider calls in ``[since, until)`` cost and how many there were: the
    spend source budgets count (registered in ``AnalyticsConfig.ready``).

    Without a credential, calls recorded with a generation are left out, linked still or not
    (retention and purges delete generations): the generations source counts that generation's
    cost, and a call must not be counted twice. A budget narrowed to a
    credential counts every call made with its key (the generations source counts none, having
    no fingerprint). One aggregate over raw rows, which budgets ask only for the partial days at a
    window's ends: whole days come from the rollups (:func:`provider_call_whole_day_spend`), which
    keep counting the calls retention archives.
    """
    calls = models.ProviderCall.objects.filter(
        organization=scope.organization, occurred_at__gte=since, occurred_at__lt=until
    )
    if scope.credential_fingerprint:
        calls = calls.filter(key_fingerprint=scope.credential_fingerprint)
    else:
        calls = calls.filter(recorded_with_generation=False)
    if scope.user_ref:
        calls = calls.filter(user_ref=scope.user_ref)
    totals = calls.aggregate(cost_usd=Sum("cost_usd", default=Decimal(0)), requests=Count("id"))
    return SpendTotals(cost_usd=totals["cost_usd"], requests=totals["requests"])


def _rollup_spend(rows: QuerySet, *, cost: str = "cost_usd", requests: str = "requests") -> SpendTotals:
    """The rollup rows' summed ``cost`` and ``requests`` measures."""
    totals = rows.aggregate(cost_usd=Sum(cost, default=Decimal(0)), requests=Sum(requests, default=0))
    return SpendTotals(cost_usd=totals["cost_usd"], requests=totals["requests"])


def generation_whole_day_spend(
    scope: SpendScope, *, date_from: datetime.date, date_to: datetime.date
) -> SpendTotals:
    """The generations spend source (``generations.selectors.generation_spend``) over the whole UTC
    days ``[date_from, date_to)``, from the daily rollups: registered as its whole-day counterpart
    in ``AnalyticsConfig.ready`` (generations may not import analytics).

    Exact: the rollups bucket generations by the UTC day of ``created_at``, the column the source
    filters on, and count every generation (soft-deleted ones too) with its current cost, written
    in the transaction that writes or edits the row. The organization's figures come from the
    per-day rollup (a row a day once folded), a user's from the per-day-and-user one (a row per
    day and user: the per-user-and-model one held ~10 per user-day for the 10M bench's biggest
    tenant); a credential gets nothing, as from the source.
    """
    if scope.credential_fingerprint:
        return SpendTotals()
    days = {"organization": scope.organization, "day__gte": date_from, "day__lt": date_to}
    if scope.user_ref:
        return _rollup_spend(models.GenerationUserDailyRollup.objects.filter(user_ref=scope.user_ref, **days))
    return _rollup_spend(models.GenerationDayRollup.objects.filter(**days))


def provider_call_whole_day_spend(
    scope: SpendScope, *, date_from: datetime.date, date_to: datetime.date
) -> SpendTotals:
    """:func:`provider_call_spend` over the whole UTC days ``[date_from, date_to)``, from the daily
    rollups (bucketed by the UTC day of ``occurred_at``, as the source filters).

    A credential's budget counts every call made with its key: the per-key rollup (the per-user
    one with a user). Otherwise only the calls recorded without a generation count (a linked
    call's cost is its generation's): the rollups' ``standalone_*`` measures, fixed when the call
    was recorded. So whole days stay counted after retention archives the raw calls, and a call
    retention unlinks from its deleted generation is not counted a second time (spent stays
    spent); the organization's figures come from the per-model rollup, a user's from the
    per-day-and-user one.
    """
    days = {"organization": scope.organization, "day__gte": date_from, "day__lt": date_to}
    if scope.user_ref:
        days["user_ref"] = scope.user_ref
    if not scope.credential_fingerprint:
        rollup = models.ProviderCallUserDailyRollup if scope.user_ref else models.ProviderCallModelDailyRollup
        return _rollup_spend(
            rollup.objects.filter(**days), cost="standalone_cost_usd", requests="standalone_requests"
        )
    days["key_fingerprint"] = scope.credential_fingerprint
    if scope.user_ref:
        return _rollup_spend(models.ProviderCallDailyRollup.objects.filter(**days))
    # Per key only: the narrow rollup (a row per day and key) has the same figures.
    return _rollup_spend(models.ProviderCallKeyDailyRollup.objects.filter(**days))


def dashboard_figures(
    *, organization: Organization, date_from: datetime.date, date_to: datetime.date, top: int = 10
) -> dict[str, Any]:
    """What the staff dashboard shows, all from the rollups: cost per day per model, top users by
    cost, failure rate and cache hit rate over the period."""
    cost = report_run(
        organization=organization,
        report="cost",
        date_from=date_from,
        date_to=date_to,
        group_by=[GroupBy.DAY, GroupBy.MODEL],
    )
    users = report_run(
        organization=organization,
        report="cost",
        date_from=date_from,
        date_to=date_to,
        group_by=[GroupBy.USER],
        limit=top,
    )
    failures = report_run(
        organization=organization, report="failures", date_from=date_from, date_to=date_to, group_by=[]
    )
    cache = report_run(
        organization=organization, report="cache", date_from=date_from, date_to=date_to, group_by=[]
    )
    return {
        "cost_rows": cost.rows,
        "cost_totals": cost.totals,
        "top_users": users.rows,
        "failures": failures.totals,
        "cache": cache.totals,
    }
