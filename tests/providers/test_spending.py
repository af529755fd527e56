"""Spend sources registered by other apps are summed by providers.spending."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from providers.spending import SpendTotals, register_spend_source, spend_between, unregister_spend_source

pytestmark = pytest.mark.django_db


def test_spend_between_sums_every_registered_source(organization):
    calls = []

    def first(scope, *, since, until):
        calls.append((scope.organization.pk, scope.user_ref, scope.credential_fingerprint))
        return SpendTotals(cost_usd=Decimal("1.25"), requests=2)

    def second(scope, **window):
        return SpendTotals(cost_usd=Decimal("0.75"), requests=1)

    register_spend_source(first, name="test-first")
    register_spend_source(second, name="test-second")
    try:
        now = datetime.datetime.now(datetime.UTC)
        total = spend_between(
            organization=organization, since=now - datetime.timedelta(days=1), until=now, user_ref="u-1"
        )
    finally:
        unregister_spend_source("test-first")
        unregister_spend_source(second)
    assert total == SpendTotals(cost_usd=Decimal("2.00"), requests=3)
    assert calls == [(organization.pk, "u-1", None)]


def test_a_whole_day_counterpart_answers_the_whole_days_and_the_source_the_partial_ends(organization):
    from providers.spending import register_whole_day_spend, unregister_whole_day_spend

    utc = datetime.UTC
    raw, days = [], []

    def source(scope, *, since, until):
        raw.append((since, until))
        return SpendTotals(cost_usd=Decimal("1"), requests=1)

    def whole_days(scope, *, date_from, date_to):
        days.append((date_from, date_to, scope.credential_fingerprint))
        return None if scope.credential_fingerprint else SpendTotals(cost_usd=Decimal("10"), requests=10)

    register_spend_source(source, name="test-split")
    register_whole_day_spend("test-split", whole_days)
    since = datetime.datetime(2026, 1, 30, 15, 0, tzinfo=utc)
    until = datetime.datetime(2026, 2, 3, 9, 30, tzinfo=utc)
    try:
        total = spend_between(organization=organization, since=since, until=until)
        midnight = datetime.datetime(2026, 2, 1, tzinfo=utc)
        hour = spend_between(
            organization=organization, since=midnight, until=midnight + datetime.timedelta(hours=1)
        )
        from_midnight = spend_between(organization=organization, since=midnight, until=until)
        narrowed = spend_between(
            organization=organization, since=since, until=until, credential_fingerprint="f"
        )
    finally:
        unregister_spend_source("test-split")
        unregister_whole_day_spend("test-split")

    jan31, feb3 = datetime.date(2026, 1, 31), datetime.date(2026, 2, 3)
    # Whole days Jan 31 to Feb 2 from the counterpart, the first afternoon and the last morning raw.
    assert total == SpendTotals(cost_usd=Decimal("12"), requests=12)
    assert hour == SpendTotals(cost_usd=Decimal("1"), requests=1)  # under a day: never the counterpart
    assert from_midnight == SpendTotals(cost_usd=Decimal("11"), requests=11)  # no partial first day
    assert narrowed == SpendTotals(cost_usd=Decimal("1"), requests=1)  # None: the source, whole window
    assert days == [(jan31, feb3, None), (datetime.date(2026, 2, 1), feb3, None), (jan31, feb3, "f")]
    assert raw == [
        (since, datetime.datetime.combine(jan31, datetime.time(), tzinfo=utc)),
        (datetime.datetime.combine(feb3, datetime.time(), tzinfo=utc), until),
        (midnight, midnight + datetime.timedelta(hours=1)),
        (datetime.datetime.combine(feb3, datetime.time(), tzinfo=utc), until),
        (since, until),
    ]


@pytest.mark.parametrize("naive", ["since", "until"])
def test_a_naive_window_end_is_refused_rather_than_read_as_local_time(organization, naive):
    aware = {
        "since": datetime.datetime(2026, 1, 30, 15, 0, tzinfo=datetime.UTC),
        "until": datetime.datetime(2026, 2, 3, 9, 30, tzinfo=datetime.UTC),
    }
    aware[naive] = aware[naive].replace(tzinfo=None)

    with pytest.raises(ValueError, match=f"{naive} must be an aware datetime"):
        spend_between(organization=organization, **aware)


def test_a_window_in_another_zone_is_cut_at_utc_midnights(organization):
    from providers.spending import register_whole_day_spend, unregister_whole_day_spend

    raw, days = [], []

    def source(scope, *, since, until):
        raw.append((since, until))
        return SpendTotals()

    def whole_days(scope, *, date_from, date_to):
        days.append((date_from, date_to))
        return SpendTotals()

    register_spend_source(source, name="test-zones")
    register_whole_day_spend("test-zones", whole_days)
    plus_two = datetime.timezone(datetime.timedelta(hours=2))
    # 01:00 at UTC+2 on Feb 1 is 23:00 UTC on Jan 31; 01:00 at UTC+2 on Feb 4 is 23:00 UTC Feb 3.
    since = datetime.datetime(2026, 2, 1, 1, 0, tzinfo=plus_two)
    until = datetime.datetime(2026, 2, 4, 1, 0, tzinfo=plus_two)
    try:
        spend_between(organization=organization, since=since, until=until)
    finally:
        unregister_spend_source("test-zones")
        unregister_whole_day_spend("test-zones")

    utc = datetime.UTC
    assert days == [(datetime.date(2026, 2, 1), datetime.date(2026, 2, 3))]
    assert raw == [
        (since, datetime.datetime(2026, 2, 1, tzinfo=utc)),
        (datetime.datetime(2026, 2, 3, tzinfo=utc), until),
    ]
