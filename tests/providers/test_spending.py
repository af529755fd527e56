"""Spend sources registered by other apps are summed by providers.spending."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from providers.spending import SpendTotals, register_spend_source, spend_between, unregister_spend_source

pytestmark = pytest.mark.django_db


def test_spend_between_sums_every_registered_source(organization):
    calls = []

    def first(*, organization, since, until, user_ref=None, credential_fingerprint=None):
        calls.append((organization.pk, user_ref, credential_fingerprint))
        return SpendTotals(cost_usd=Decimal("1.25"), requests=2)

    def second(**kwargs):
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
