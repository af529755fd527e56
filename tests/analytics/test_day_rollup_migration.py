"""``analytics.0019``: the per-day rollup of generations is filled from the per-model one (the same
figures summed over providers, models and content types), and the migration reverses (the table
goes, and comes back with the same figures)."""

from __future__ import annotations

import random

import pytest
from django.db import connection

from analytics.models import GenerationDayRollup
from tenancy import rls
from tests.analytics.random_ingestion import ingest_random
from tests.analytics.test_rollups import raw_day_groups, rollup_day_groups
from tests.factories import OrganizationFactory
from tests.migrations_support import migrate

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("analytics", "0018_rollup_cost_sums_wider")]
AFTER = [("analytics", "0019_rollups_per_day")]


def test_the_per_day_rollup_is_filled_from_the_per_model_one(
    back_to_the_latest_afterwards, priced_models, at
):
    organizations = [OrganizationFactory(slug=f"org-{n}") for n in range(2)]
    ingest_random(organizations, random.Random(9), at, generations=150, calls=10)
    with rls.rls_bypass(reason="test: check"):
        written = rollup_day_groups()
        assert written == raw_day_groups()
        assert GenerationDayRollup.objects.count() > len(written), "unfolded: delta rows"

    migrate(BEFORE)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('analytics_generationdayrollup')")
        assert cursor.fetchone()[0] is None
    migrate(AFTER)

    with rls.rls_bypass(reason="test: check"):
        assert rollup_day_groups() == written
        # Filled: one row per organization and day, whatever the delta rows were.
        assert GenerationDayRollup.objects.count() == len(written)
