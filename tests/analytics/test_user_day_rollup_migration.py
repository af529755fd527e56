"""``analytics.0027``: the per-day-and-user rollups (generations', calls') are filled from the full
per-user rollups (the same figures summed over providers, models, content types and keys), and
the migration reverses (the tables go, and come back with the same figures)."""

from __future__ import annotations

import random

import pytest
from django.db import connection

from analytics.models import GenerationUserDailyRollup, ProviderCallUserDailyRollup
from tenancy import rls
from tests.analytics.random_ingestion import ingest_random
from tests.analytics.test_rollups import full_user_day_groups, rollup_user_day_groups
from tests.factories import OrganizationFactory
from tests.migrations_support import migrate

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("analytics", "0026_report_rollups_read_row_scope_once")]
AFTER = [("analytics", "0027_rollups_per_user_day")]


def test_the_per_user_day_rollups_are_filled_from_the_full_ones(
    back_to_the_latest_afterwards, priced_models, at
):
    organizations = [OrganizationFactory(slug=f"org-{n}") for n in range(2)]
    ingest_random(organizations, random.Random(11), at, generations=150, calls=150)
    with rls.rls_bypass(reason="test: check"):
        written = rollup_user_day_groups()
        assert written == full_user_day_groups()
        assert all(written), "both hold groups"
        assert GenerationUserDailyRollup.objects.count() > len(written[0]), "unfolded: delta rows"

    migrate(BEFORE)
    with connection.cursor() as cursor:
        for table in ("analytics_generationuserdailyrollup", "analytics_providercalluserdailyrollup"):
            cursor.execute("SELECT to_regclass(%s)", [table])
            assert cursor.fetchone()[0] is None
    migrate(AFTER)

    with rls.rls_bypass(reason="test: check"):
        assert rollup_user_day_groups() == written
        # Filled: one row per organization, day and user, whatever the delta rows were.
        assert GenerationUserDailyRollup.objects.count() == len(written[0])
        assert ProviderCallUserDailyRollup.objects.count() == len(written[1])
