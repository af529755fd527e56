"""Budgets read whole UTC days of spend from the rollups and only the partial days at a window's
ends from raw rows: the answer equals the raw aggregate for any window and scope, and a check
costs the same number of queries however many rows the period holds."""

from __future__ import annotations

import datetime
import random
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Count, Q, Sum
from django.test.utils import CaptureQueriesContext

from analytics import rollups, services
from analytics.models import CleanupPreferences, GenerationDailyRollup, ProviderCall
from analytics.retention import retention_apply
from generations import services as generation_services
from generations.models import Generation
from providers import spending
from providers.budgets import budget_check
from providers.credentials import fingerprint_of_digest
from providers.models import ProviderCredential
from providers.spending import SpendTotals, registered_spend_sources, spend_between
from tests.analytics.factories import fingerprint_of
from tests.analytics.random_ingestion import DAY, KEYS, ingest_random, random_moment
from tests.factories import OrganizationFactory
from tests.providers.factories import BudgetFactory, make_credential

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
# Data from mid-January to "now", mid-March: two month boundaries, and today's rows.
FIRST = datetime.datetime(2026, 1, 20, tzinfo=UTC)
NOW = datetime.datetime(2026, 3, 12, 13, 47, 5, 250_000, tzinfo=UTC)


def ingest(organization, rng: random.Random, at, *, generations: int, calls: int, keys=KEYS) -> None:
    """Random ingestion of ``organization``'s rows from ``FIRST`` to ``NOW`` (today's too), then
    part of the history folded: budgets read folded and unfolded rollups alike."""
    ingest_random(
        [organization], rng, at, generations=generations, calls=calls, start=FIRST, end=NOW, keys=keys
    )
    rollups.rollups_fold(
        organization=organization, date_from=FIRST.date(), date_to=datetime.date(2026, 2, 20)
    )


def credential_and_key(organization) -> tuple[ProviderCredential, str]:
    """A credential of ``organization`` and what its calls send as ``key_fingerprint``: the
    SHA-256 of its key (stored as the keyed fingerprint the credential carries)."""
    api_key = "sk-test-budgets-9f3c2a7b1e5d4c6a"
    credential = make_credential(organization, api_key=api_key)
    assert fingerprint_of_digest(fingerprint_of(api_key)) == credential.fingerprint
    return credential, fingerprint_of(api_key)


def raw_spend(organization, since, until, *, user_ref=None, credential_fingerprint=None) -> SpendTotals:
    """The raw aggregate budgets must equal: every generation created in the window (deleted or
    not) and the calls not linked to one; for a credential, its calls only."""
    totals = SpendTotals()
    sums = {"cost_usd": Sum("cost_usd", default=Decimal(0)), "requests": Count("id")}
    user = Q(user_ref=user_ref) if user_ref else Q()
    if not credential_fingerprint:
        generations = Generation.all_objects.filter(
            user, organization=organization, created_at__gte=since, created_at__lt=until
        )
        totals += SpendTotals(**generations.aggregate(**sums))
        calls = Q(recorded_with_generation=False)
    else:
        calls = Q(key_fingerprint=credential_fingerprint)
    provider_calls = ProviderCall.objects.filter(
        calls, user, organization=organization, occurred_at__gte=since, occurred_at__lt=until
    )
    return totals + SpendTotals(**provider_calls.aggregate(**sums))


SCOPES = [
    {},
    {"user_ref": "ana"},
    {"user_ref": "ben"},
    # Clients send the key's SHA-256; calls store (and credentials carry) its keyed fingerprint.
    {"credential_fingerprint": fingerprint_of_digest(KEYS[1])},
    {"credential_fingerprint": fingerprint_of_digest(KEYS[2]), "user_ref": "ana"},
]


def test_spend_equals_the_raw_aggregate_for_random_windows_and_scopes(catalogue, at):
    organization, other = OrganizationFactory(slug="acme"), OrganizationFactory(slug="globex")
    rng = random.Random(20260312)
    ingest(organization, rng, at, generations=260, calls=160)
    ingest(other, random.Random(5), at, generations=40, calls=20)  # never counted for acme
    assert Generation.deleted_objects.filter(organization=organization).exists()
    assert Generation.all_objects.filter(organization=organization, cost_usd__gt=0).exists()
    assert ProviderCall.objects.filter(organization=organization, generation__isnull=False).exists()
    assert GenerationDailyRollup.objects.filter(organization=organization, cost_usd__lt=0).exists(), (
        "edits wrote deltas"
    )

    windows = [
        (FIRST, NOW),  # everything
        (datetime.datetime(2026, 3, 1, tzinfo=UTC), NOW),  # this month: whole days and today
        (datetime.datetime(2026, 2, 1, tzinfo=UTC), datetime.datetime(2026, 3, 1, tzinfo=UTC)),  # one month
        (NOW.replace(hour=0, minute=0, second=0, microsecond=0), NOW),  # today only
        (NOW - datetime.timedelta(hours=1), NOW),  # an hour
    ]
    for _ in range(60):  # random windows: mid-day starts and ends, across month boundaries
        since = random_moment(rng, FIRST - 3 * DAY, NOW)
        windows.append((since, random_moment(rng, since, NOW + DAY) + datetime.timedelta(microseconds=1)))
    nonzero = [0] * len(SCOPES)
    for since, until in windows:
        for n, scope in enumerate(SCOPES):
            expected = raw_spend(organization, since, until, **scope)
            assert spend_between(organization=organization, since=since, until=until, **scope) == expected, (
                since,
                until,
                scope,
            )
            nonzero[n] += expected.cost_usd > 0
    # Most windows of every scope spent something: the equalities say something.
    assert all(count > len(windows) // 2 for count in nonzero), nonzero


@pytest.mark.parametrize("period", ["day", "week", "month"])
def test_the_budget_check_spends_what_the_raw_rows_say(catalogue, at, period):
    organization = OrganizationFactory(slug="acme")
    credential, key = credential_and_key(organization)
    ingest(organization, random.Random(period), at, generations=150, calls=80, keys=["", key])
    budgets = [
        BudgetFactory(organization=organization, period=period, limit_usd=Decimal("1000")),
        BudgetFactory(organization=organization, period=period, limit_usd=Decimal("1000"), user_ref="ana"),
        BudgetFactory(
            organization=organization, period=period, limit_usd=Decimal("1000"), credential=credential
        ),
    ]

    check = budget_check(organization=organization, user_ref="ana", credential=credential, at=NOW)

    spent = {status.budget.pk: status.spent_usd for status in check.statuses}
    start = check.statuses[0].period_start
    assert spent == {
        budgets[0].pk: raw_spend(organization, start, NOW).cost_usd,
        budgets[1].pk: raw_spend(organization, start, NOW, user_ref="ana").cost_usd,
        budgets[2].pk: raw_spend(
            organization, start, NOW, credential_fingerprint=credential.fingerprint
        ).cost_usd,
    }
    assert all(spent.values()), spent  # every scope has spent something: the equality says something


def _check_queries(organization, credential) -> int:
    with CaptureQueriesContext(connection) as queries:
        budget_check(organization=organization, user_ref="ana", credential=credential, at=NOW)
    return len(queries)


def test_a_check_costs_the_same_queries_however_many_rows_the_month_holds(catalogue, at):
    organization = OrganizationFactory(slug="acme")
    credential, key = credential_and_key(organization)
    for user_ref, limit in ((None, "1000"), ("ana", "1000")):
        BudgetFactory(organization=organization, period="month", limit_usd=Decimal(limit), user_ref=user_ref)
    BudgetFactory(
        organization=organization,
        period="month",
        limit_usd=Decimal("1000"),
        credential=credential,
        max_requests_per_minute=100,
    )
    ingest(organization, random.Random(1), at, generations=10, calls=5, keys=[key])
    few = _check_queries(organization, credential)

    more = random.Random(3)
    for n in range(300):  # thirty times the rows, on many more days
        at(random_moment(more, datetime.datetime(2026, 3, 1, tzinfo=UTC), NOW))
        generation_services.generation_record(
            organization=organization,
            values={
                "request_id": f"more-{n}",
                "model_name": "gpt-4o",
                "provider_name": "openai",
                "status": "success",
                "input_tokens": 500,
                "user_ref": "ana",
            },
            fingerprint=f"more-{n}",
        )
    many = _check_queries(organization, credential)

    assert many == few
    # The budgets (1); the organization's and the user's months: generations' and calls
    # recorded without one, each their whole days and today (4 each); the credential's month:
    # its calls' whole days and today (2, generations answer nothing for a credential); its last
    # minute (1 raw query).
    assert many <= 12


def _spent(organization, credential) -> dict[int, Decimal]:
    check = budget_check(organization=organization, user_ref="ana", credential=credential, at=NOW)
    return {status.budget.pk: status.spent_usd for status in check.statuses}


def test_spent_stays_spent_when_retention_archives_the_rows_and_unlinks_calls(catalogue, at):
    """Given a month of generations and provider calls (some linked, some of a credential) and
    budgets of every period and scope, when retention archives the old generations (their calls
    lose their link), then the old calls too, the budgets' spent does not move."""
    organization = OrganizationFactory(slug="acme")
    credential, key = credential_and_key(organization)
    ingest(organization, random.Random(29), at, generations=160, calls=140, keys=["", key])
    for period in ("day", "week", "month"):
        BudgetFactory(organization=organization, period=period, limit_usd=Decimal("1000"))
    BudgetFactory(organization=organization, period="month", limit_usd=Decimal("1000"), user_ref="ana")
    BudgetFactory(organization=organization, period="month", limit_usd=Decimal("1000"), credential=credential)
    before = _spent(organization, credential)
    linked = set(
        ProviderCall.objects.filter(organization=organization, generation__isnull=False).values_list(
            "pk", flat=True
        )
    )
    generations = Generation.all_objects.filter(organization=organization).count()
    old_days = {"generations_days": 3, "failed_generations_days": 3, "performance_metrics_days": 3}

    # The generations go first, the calls stay (a longer retention): linked calls lose the link.
    CleanupPreferences.objects.create(organization=organization, provider_calls_days=30, **old_days)
    retention_apply(organizations=[organization], now=NOW)
    unlinked = ProviderCall.objects.filter(pk__in=linked, generation__isnull=True)
    assert Generation.all_objects.filter(organization=organization).count() < generations / 2
    assert unlinked.filter(occurred_at__gte=datetime.datetime(2026, 3, 1, tzinfo=UTC)).exists()
    assert _spent(organization, credential) == before

    # Then the calls: this month's old calls are archived too.
    CleanupPreferences.objects.filter(organization=organization).update(provider_calls_days=3)
    retention_apply(organizations=[organization], now=NOW)
    assert not ProviderCall.objects.filter(organization=organization, occurred_at__lt=NOW - 3 * DAY).exists()
    assert _spent(organization, credential) == before
    assert all(spent > 0 for spent in before.values()), before


def test_today_is_its_rollup_less_what_was_recorded_after_the_window(catalogue, at, monkeypatch):
    """Given rows all over today (and a call stamped minutes ahead, within the clock skew), a
    window ending late today reads today whole from the rollups and asks the raw sources only
    for what lies after its end; one ending early today, or on a past day, reads that day's
    raw rows up to its end. Every answer equals the raw aggregate, for every scope."""
    organization = OrganizationFactory(slug="acme")
    ingest(organization, random.Random(41), at, generations=200, calls=120)
    at(NOW)
    services.provider_call_record(
        organization=organization,
        values={
            "request_id": "ahead",
            "endpoint": "/v1/chat/completions",
            "provider_name": "openai",
            "model_name": "gpt-4o",
            "input_tokens": 4_000,
            "output_tokens": 400,
            "status_code": 200,
            "occurred_at": NOW + datetime.timedelta(minutes=4),
            "key_fingerprint": KEYS[1],
        },
        fingerprint="ahead",
    )
    asked: list[tuple[datetime.datetime, datetime.datetime]] = []
    for name, source in registered_spend_sources().items():

        def spy(scope, *, since, until, source=source):
            asked.append((since, until))
            return source(scope, since=since, until=until)

        monkeypatch.setitem(spending._sources, name, spy)

    midnight = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
    tomorrow = midnight + DAY
    month = midnight.replace(day=1)
    windows = {
        # late today, now included: today from its rollup, less [until, tomorrow)
        (month, NOW): {(NOW, tomorrow)},
        (month, NOW - datetime.timedelta(hours=3)): {(NOW - datetime.timedelta(hours=3), tomorrow)},
        (midnight, NOW - datetime.timedelta(minutes=1)): {(NOW - datetime.timedelta(minutes=1), tomorrow)},
        # early today: fewer raw rows before the end than after it
        (month, midnight + datetime.timedelta(hours=2)): {(midnight, midnight + datetime.timedelta(hours=2))},
        # a past day: its raw rows up to the end (retention may have begun to archive that day)
        (month, midnight - datetime.timedelta(hours=2)): {
            (midnight - DAY, midnight - datetime.timedelta(hours=2))
        },
    }
    for (since, until), raw_windows in windows.items():
        for scope in SCOPES:
            asked.clear()
            expected = raw_spend(organization, since, until, **scope)
            assert spend_between(organization=organization, since=since, until=until, **scope) == expected, (
                since,
                until,
                scope,
            )
            assert set(asked) == raw_windows, (since, until, scope, asked)
    # Half an hour into the day: the day's budget still reads today from its rollup, less what
    # came after; the last hour's request rate, across midnight, reads its raw rows only.
    early = midnight + datetime.timedelta(minutes=30)
    at(early)
    for since, raw_windows in (
        (midnight, {(early, tomorrow)}),
        (early - datetime.timedelta(hours=1), {(early - datetime.timedelta(hours=1), early)}),
    ):
        for scope in SCOPES:
            asked.clear()
            expected = raw_spend(organization, since, early, **scope)
            assert spend_between(organization=organization, since=since, until=early, **scope) == expected
            assert set(asked) == raw_windows, (since, scope, asked)
    # The call stamped ahead is in today's rollup, and was taken off with what came after NOW.
    key = fingerprint_of_digest(KEYS[1])
    assert raw_spend(organization, NOW, tomorrow, credential_fingerprint=key).requests == 1
