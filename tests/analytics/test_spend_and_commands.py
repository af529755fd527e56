"""Budgets count provider calls through analytics' spend source (never twice with generations),
and ``manage.py rollup`` rebuilds a range of days."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from analytics.models import GenerationDailyRollup, ProviderCallDailyRollup
from providers.spending import registered_spend_sources, spend_between
from tests.analytics.factories import ProviderCallFactory, fingerprint_of, rollup_sums
from tests.generations.factories import GenerationFactory

pytestmark = pytest.mark.django_db
KEY = fingerprint_of("sk-budgeted")


@pytest.fixture
def spending(organization, other_organization):
    now = timezone.now()
    generation = GenerationFactory(organization=organization, cost_usd=Decimal("1.00"), cost_status="priced")
    ProviderCallFactory(
        organization=organization, cost_usd=Decimal("0.50"), cost_status="priced", occurred_at=now
    )
    ProviderCallFactory(
        organization=organization,
        cost_usd=Decimal("0.25"),
        cost_status="priced",
        user_ref="ana",
        key_fingerprint=KEY,
        occurred_at=now,
    )
    ProviderCallFactory(  # part of the generation's cost: counted by the generations source
        organization=organization,
        cost_usd=Decimal("0.75"),
        cost_status="priced",
        generation=generation,
        key_fingerprint=KEY,
        occurred_at=now,
    )
    ProviderCallFactory(
        organization=organization,
        cost_usd=Decimal("9"),
        cost_status="priced",
        occurred_at=now - datetime.timedelta(days=40),
    )
    ProviderCallFactory(
        organization=other_organization, cost_usd=Decimal("7"), cost_status="priced", occurred_at=now
    )
    return now


@pytest.fixture
def spent(spending):
    """``spending``'s rows with their rollups: factories write raw rows only, and budgets read
    whole days, today's too, from the rollups the services would have written with them."""
    days = [
        "--from",
        (spending - datetime.timedelta(days=40)).date().isoformat(),
        "--to",
        spending.date().isoformat(),
    ]
    call_command("rollup", *days, stdout=io.StringIO(), stderr=io.StringIO())
    return spending


def test_the_source_is_registered():
    assert "analytics.provider_calls" in registered_spend_sources()


def test_budgets_count_unlinked_calls_and_generations_once(organization, spent):
    since, until = spent - datetime.timedelta(days=1), spent + datetime.timedelta(seconds=1)

    total = spend_between(organization=organization, since=since, until=until)

    # generation 1.00 (generations' source) + unlinked calls 0.50 + 0.25; the linked call is in the 1.00.
    assert total.cost_usd == Decimal("1.75")
    assert total.requests == 3


def test_a_credential_budget_counts_every_call_of_its_key(organization, spent):
    since, until = spent - datetime.timedelta(days=1), spent + datetime.timedelta(seconds=1)

    total = spend_between(organization=organization, since=since, until=until, credential_fingerprint=KEY)

    assert (total.cost_usd, total.requests) == (Decimal("1.00"), 2)


def test_a_user_budget_counts_that_users_calls(organization, spent):
    since, until = spent - datetime.timedelta(days=1), spent + datetime.timedelta(seconds=1)

    total = spend_between(organization=organization, since=since, until=until, user_ref="ana")

    assert (total.cost_usd, total.requests) == (Decimal("0.25"), 1)


def test_the_rollup_command_rebuilds_a_range(organization, spending):
    out = io.StringIO()
    today = spending.date().isoformat()

    call_command("rollup", "--from", today, "--to", today, stdout=out, stderr=io.StringIO())

    assert rollup_sums(GenerationDailyRollup, organization=organization).requests == 1
    assert ProviderCallDailyRollup.objects.filter(organization=organization).count() >= 1
    assert "Rebuilt" in out.getvalue()
    call_command("rollup", "--from", today, "--to", today, stdout=io.StringIO(), stderr=io.StringIO())
    assert rollup_sums(GenerationDailyRollup, organization=organization).requests == 1


@pytest.mark.parametrize(
    "arguments",
    [
        ["--from", "2026-02-01", "--to", "2026-01-01"],
        ["--from", "yesterday", "--to", "2026-01-01"],
        ["--from", "2026-01-01", "--to", "2026-01-02", "--organization", "nope"],
    ],
)
def test_the_rollup_command_refuses_bad_arguments(arguments):
    with pytest.raises(CommandError):
        call_command("rollup", *arguments)
    assert not GenerationDailyRollup.objects.exists()


def test_the_rollup_dry_run_writes_nothing(organization, spending):
    out = io.StringIO()

    call_command("rollup", "--from", "2026-01-01", "--to", "2026-12-31", "--dry-run", stdout=out)

    assert not GenerationDailyRollup.objects.exists()
    assert "Would rebuild" in out.getvalue()
