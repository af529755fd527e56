"""May an organization (a user, a credential) spend now? Budget checks over recorded spending.

Spending comes from ``providers.spending`` (the sources generations and analytics register),
so a check counts every recorded generation and provider call of the organization, and only
the organization's own. Spent stays spent: soft-deleted rows count, and rows retention archived
still count through the daily rollups (``providers.spending``'s module docstring).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from providers.choices import BudgetCheckReason, BudgetPeriod
from providers.errors import BudgetExceeded
from providers.models import Budget, ProviderCredential
from providers.spending import spend_between
from tenancy.models import Organization


def period_start(period: str, at: datetime.datetime) -> datetime.datetime:
    """Start (UTC) of the calendar day, week (Monday) or month containing ``at``."""
    at = at.astimezone(datetime.UTC)
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == BudgetPeriod.DAY:
        return day
    if period == BudgetPeriod.WEEK:
        return day - datetime.timedelta(days=day.weekday())
    if period == BudgetPeriod.MONTH:
        return day.replace(day=1)
    raise ValueError(f"Unknown budget period {period!r}")


@dataclass(frozen=True)
class BudgetStatus:
    """One budget's state at the moment of a check."""

    budget: Budget
    allowed: bool
    reason: str
    period_start: datetime.datetime
    spent_usd: Decimal
    remaining_usd: Decimal | None
    requests_last_minute: int | None
    requests_last_hour: int | None


@dataclass(frozen=True)
class BudgetCheck:
    """The answer to "may we spend now?": refused as soon as one applicable budget refuses.

    ``binding`` is the budget that decided: the first refusing one, else the one with the least
    USD left. Its numbers are the check's ``spent_usd`` / ``remaining_usd`` / ``limit_usd``.
    """

    allowed: bool
    reason: str
    detail: str
    checked_at: datetime.datetime
    binding: BudgetStatus | None = None
    statuses: list[BudgetStatus] = field(default_factory=list)


def _applicable(
    organization: Organization, user_ref: str | None, credential: ProviderCredential | None
) -> list[Budget]:
    budgets = Budget.objects.filter(organization=organization, is_active=True).select_related("credential")
    applicable = []
    for budget in budgets.order_by("id"):
        if budget.user_ref is not None and budget.user_ref != user_ref:
            continue
        if budget.credential_id is not None and (credential is None or budget.credential_id != credential.pk):
            continue
        applicable.append(budget)
    return applicable


def _status(organization: Organization, budget: Budget, at: datetime.datetime) -> BudgetStatus:
    scope = {
        "organization": organization,
        "user_ref": budget.user_ref,
        "credential_fingerprint": budget.credential.fingerprint if budget.credential_id else None,
    }
    start = period_start(budget.period, at)
    spent = spend_between(since=start, until=at, **scope).cost_usd
    allowed, reason = True, BudgetCheckReason.WITHIN_BUDGET
    remaining = None
    if budget.limit_usd is not None:
        remaining = max(budget.limit_usd - spent, Decimal(0))
        if spent >= budget.limit_usd:  # at the limit nothing more may be spent
            allowed, reason = False, BudgetCheckReason.BUDGET_EXHAUSTED
    last_minute = last_hour = None
    if budget.max_requests_per_minute is not None:
        last_minute = spend_between(since=at - datetime.timedelta(minutes=1), until=at, **scope).requests
        if allowed and last_minute >= budget.max_requests_per_minute:
            allowed, reason = False, BudgetCheckReason.RATE_LIMIT_MINUTE
    if budget.max_requests_per_hour is not None:
        last_hour = spend_between(since=at - datetime.timedelta(hours=1), until=at, **scope).requests
        if allowed and last_hour >= budget.max_requests_per_hour:
            allowed, reason = False, BudgetCheckReason.RATE_LIMIT_HOUR
    return BudgetStatus(
        budget=budget,
        allowed=allowed,
        reason=reason,
        period_start=start,
        spent_usd=spent,
        remaining_usd=remaining,
        requests_last_minute=last_minute,
        requests_last_hour=last_hour,
    )


def budget_check(
    *,
    organization: Organization,
    user_ref: str | None = None,
    credential: ProviderCredential | None = None,
    at: datetime.datetime | None = None,
) -> BudgetCheck:
    """Check every active budget that applies to ``user_ref`` and ``credential``.

    A budget applies when its user reference is empty or equal to ``user_ref`` and its
    credential is empty or equal to ``credential``. No applicable budget: allowed.
    """
    at = at or timezone.now()
    if credential is not None and credential.organization_id != organization.pk:
        raise ValueError("The credential belongs to another organization.")
    statuses = [
        _status(organization, budget, at) for budget in _applicable(organization, user_ref, credential)
    ]
    if not statuses:
        return BudgetCheck(True, BudgetCheckReason.NO_BUDGET, "No budget applies.", at)
    refused = [status for status in statuses if not status.allowed]
    if refused:
        binding = refused[0]
        detail = f"Budget {binding.budget.name!r}: {BudgetCheckReason(binding.reason).label}."
        return BudgetCheck(False, binding.reason, detail, at, binding, statuses)
    priced = [status for status in statuses if status.remaining_usd is not None]
    binding = min(priced, key=lambda status: status.remaining_usd) if priced else statuses[0]
    return BudgetCheck(True, BudgetCheckReason.WITHIN_BUDGET, "Within every budget.", at, binding, statuses)


def budget_enforce(
    *, organization: Organization, user_ref: str | None = None, credential: ProviderCredential | None = None
) -> BudgetCheck:
    """:func:`budget_check`, raising ``BudgetExceeded`` (429) when spending is refused."""
    check = budget_check(organization=organization, user_ref=user_ref, credential=credential)
    if not check.allowed:
        raise BudgetExceeded(check.detail, attr="budget")
    return check
