"""``analytics.0017``: the per-user daily rollup is filled from the hourly one (each day's sums
and its busiest hour's exact count), and the migration reverses (the table goes, and comes back
with the same figures)."""

from __future__ import annotations

import random

import pytest
from django.db import connection

from analytics.models import UserDailyRollup
from tenancy import rls
from tests.analytics.random_ingestion import ingest_random
from tests.analytics.test_rollups import assert_user_days_bound_the_busiest_hours, rollup_user_days
from tests.factories import OrganizationFactory
from tests.migrations_support import migrate

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("analytics", "0016_archive_foreign_keys_without_index")]
AFTER = [("analytics", "0017_rollups_user_daily")]


def test_the_per_user_daily_rollup_is_filled_from_the_hourly_one(
    back_to_the_latest_afterwards,
    priced_models,
    at,
):
    organizations = [OrganizationFactory(slug=f"org-{n}") for n in range(2)]
    ingest_random(organizations, random.Random(5), at, generations=10, calls=150)
    with rls.rls_bypass(reason="test: check"):
        assert_user_days_bound_the_busiest_hours(exact=False)

    migrate(BEFORE)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('analytics_userdailyrollup')")
        assert cursor.fetchone()[0] is None
    migrate(AFTER)

    with rls.rls_bypass(reason="test: check"):
        # Filled as if folded: one row per user-day, each bound the busiest hour's exact count.
        assert_user_days_bound_the_busiest_hours(exact=True)
        assert UserDailyRollup.objects.count() == len(rollup_user_days())
