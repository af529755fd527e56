"""``analytics.0011``: the per-key rollup is filled from the per-user provider-call rollup, and
the migration reverses (the table goes, and comes back with the same figures)."""

from __future__ import annotations

import random

import pytest
from django.db import connection

from analytics.models import ProviderCallKeyDailyRollup
from tenancy import rls
from tests.analytics.random_ingestion import ingest_random
from tests.analytics.test_rollups import (
    raw_call_key_groups,
    rollup_call_key_groups,
)
from tests.factories import OrganizationFactory
from tests.migrations_support import migrate

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("analytics", "0010_performance_metric_recorded_by_key")]
AFTER = [("analytics", "0011_rollups_per_key")]


def test_the_per_key_rollup_is_filled_from_the_per_user_one(back_to_the_latest_afterwards, priced_models, at):
    organizations = [OrganizationFactory(slug=f"org-{n}") for n in range(2)]
    ingest_random(organizations, random.Random(3), at, generations=20, calls=120)
    with rls.rls_bypass(reason="test: check"):
        written = rollup_call_key_groups()
        assert written == raw_call_key_groups()

    migrate(BEFORE)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('analytics_providercallkeydailyrollup')")
        assert cursor.fetchone()[0] is None
    migrate(AFTER)

    with rls.rls_bypass(reason="test: check"):
        assert rollup_call_key_groups() == written
        # Filled: one row per group, whatever the per-user rows were.
        assert ProviderCallKeyDailyRollup.objects.count() == len(written)
