"""Budget checks: under, at and over the limit; rate limits; narrowing by user and credential;
another organization's spending never counts."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from providers.budgets import budget_check, budget_enforce, period_start
from providers.choices import BudgetCheckReason
from providers.errors import BudgetExceeded
from tests.providers.factories import BudgetFactory, make_credential

pytestmark = pytest.mark.django_db


def minutes_ago(n: float) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(minutes=n)


@pytest.mark.parametrize(
    ("spent", "allowed", "reason", "remaining"),
    [
        ("99.9999999999", True, BudgetCheckReason.WITHIN_BUDGET, "0.0000000001"),
        ("100", False, BudgetCheckReason.BUDGET_EXHAUSTED, "0"),
        ("100.0000000001", False, BudgetCheckReason.BUDGET_EXHAUSTED, "0"),
    ],
    ids=["under", "at", "over"],
)
def test_usd_limit_under_at_and_over(organization, recorded_spend, spent, allowed, reason, remaining):
    budget = BudgetFactory(organization=organization, period="day", limit_usd=Decimal("100"))
    recorded_spend(organization, Decimal(spent) - 1, minutes_ago(2))
    recorded_spend(organization, Decimal(1), minutes_ago(1))

    check = budget_check(organization=organization)

    assert check.allowed is allowed
    assert check.reason == reason
    assert check.binding.budget == budget
    assert check.binding.spent_usd == Decimal(spent)
    assert check.binding.remaining_usd == Decimal(remaining)


def test_another_organizations_spending_never_counts(organization, other_organization, recorded_spend):
    BudgetFactory(organization=organization, period="day", limit_usd=Decimal("10"))
    recorded_spend(other_organization, Decimal("1000"), minutes_ago(1), user_ref="u-1")
    recorded_spend(organization, Decimal("2.5"), minutes_ago(1))

    check = budget_check(organization=organization, user_ref="u-1")

    assert check.allowed
    assert check.binding.spent_usd == Decimal("2.5")


def test_spending_before_the_period_does_not_count(organization, recorded_spend):
    BudgetFactory(organization=organization, period="month", limit_usd=Decimal("10"))
    start = period_start("month", timezone.now())
    recorded_spend(organization, Decimal("50"), start - datetime.timedelta(seconds=1))
    recorded_spend(organization, Decimal("3"), start)

    assert budget_check(organization=organization).binding.spent_usd == Decimal("3")


def test_period_starts_are_utc_day_monday_and_first_of_month():
    at = datetime.datetime(2025, 10, 16, 15, 30, tzinfo=datetime.UTC)  # a Thursday
    assert period_start("day", at) == datetime.datetime(2025, 10, 16, tzinfo=datetime.UTC)
    assert period_start("week", at) == datetime.datetime(2025, 10, 13, tzinfo=datetime.UTC)
    assert period_start("month", at) == datetime.datetime(2025, 10, 1, tzinfo=datetime.UTC)


def test_user_budget_counts_only_that_users_spending_and_applies_only_to_them(organization, recorded_spend):
    BudgetFactory(organization=organization, name="alice", user_ref="alice", limit_usd=Decimal("5"))
    recorded_spend(organization, Decimal("6"), minutes_ago(1), user_ref="alice")
    recorded_spend(organization, Decimal("1"), minutes_ago(1), user_ref="bob")

    alice = budget_check(organization=organization, user_ref="alice")
    bob = budget_check(organization=organization, user_ref="bob")

    assert not alice.allowed
    assert alice.binding.spent_usd == Decimal("6")
    assert bob.allowed
    assert bob.reason == BudgetCheckReason.NO_BUDGET


def test_credential_budget_counts_spending_by_key_fingerprint(organization, recorded_spend):
    credential = make_credential(organization, api_key="sk-budgeted-key-0001")
    other = make_credential(organization, api_key="sk-other-key-0002")
    BudgetFactory(organization=organization, credential=credential, limit_usd=Decimal("1"))
    recorded_spend(organization, Decimal("0.75"), minutes_ago(1), fingerprint=credential.fingerprint)
    recorded_spend(organization, Decimal("9"), minutes_ago(1), fingerprint=other.fingerprint)

    check = budget_check(organization=organization, credential=credential)

    assert check.allowed
    assert check.binding.spent_usd == Decimal("0.75")
    assert budget_check(organization=organization, credential=other).reason == BudgetCheckReason.NO_BUDGET


@pytest.mark.parametrize(
    ("limits", "requests", "reason"),
    [
        ({"max_requests_per_minute": 3}, [0.5, 0.5, 0.5], BudgetCheckReason.RATE_LIMIT_MINUTE),
        ({"max_requests_per_minute": 3}, [0.5, 0.5, 2], BudgetCheckReason.WITHIN_BUDGET),
        ({"max_requests_per_hour": 2}, [10, 50], BudgetCheckReason.RATE_LIMIT_HOUR),
        ({"max_requests_per_hour": 2}, [10, 61], BudgetCheckReason.WITHIN_BUDGET),
    ],
)
def test_request_rate_limits(organization, recorded_spend, limits, requests, reason):
    BudgetFactory(organization=organization, limit_usd=None, **limits)
    for age in requests:
        recorded_spend(organization, Decimal("0.01"), minutes_ago(age))

    check = budget_check(organization=organization)

    assert check.reason == reason
    assert check.allowed is (reason == BudgetCheckReason.WITHIN_BUDGET)


def test_the_tightest_budget_binds_and_inactive_or_deleted_ones_do_not_count(organization, recorded_spend):
    BudgetFactory(organization=organization, name="roomy", limit_usd=Decimal("100"))
    tight = BudgetFactory(organization=organization, name="tight", limit_usd=Decimal("10"))
    BudgetFactory(organization=organization, name="off", limit_usd=Decimal("1"), is_active=False)
    BudgetFactory(organization=organization, name="gone", limit_usd=Decimal("1")).delete()
    recorded_spend(organization, Decimal("4"), minutes_ago(1))

    check = budget_check(organization=organization)

    assert check.allowed
    assert check.binding.budget == tight
    assert check.binding.remaining_usd == Decimal("6")
    assert len(check.statuses) == 2


def test_budget_enforce_raises_budget_exceeded(organization, recorded_spend):
    BudgetFactory(organization=organization, limit_usd=Decimal("1"))
    recorded_spend(organization, Decimal("1"), minutes_ago(1))
    with pytest.raises(BudgetExceeded) as error:
        budget_enforce(organization=organization)
    assert error.value.status_code == 429


def test_a_budget_cannot_point_at_another_organizations_credential(organization, other_organization):
    from providers.models import Budget
    from providers.services import budget_create
    from tenancy.errors import DomainError

    theirs = make_credential(other_organization)
    with pytest.raises(DomainError) as error:
        budget_create(organization=organization, name="x", limit_usd=Decimal("1"), credential=theirs)
    assert error.value.attr == "credential"
    # The model's own validation (admin forms) says the same.
    budget = Budget(organization=organization, name="y", limit_usd=Decimal("1"), credential=theirs)
    with pytest.raises(Exception, match="No such credential"):
        budget.full_clean()
    assert not Budget.objects.exists()
