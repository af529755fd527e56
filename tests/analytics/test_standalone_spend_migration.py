"""``analytics.0014``/``0015``: provider calls remember whether they were recorded with a
generation, and the provider-call rollups count the others' spend (``standalone_*``), filled from
the raw calls range by range (one transaction each); both reverse (the backfill's deltas taken
away, the columns gone), and come back with the same figures."""

from __future__ import annotations

import importlib
import random

import pytest
from django.db import connection

from analytics.models import ProviderCall, ProviderCallModelDailyRollup
from tenancy import rls
from tests.analytics.random_ingestion import ingest_random
from tests.analytics.test_rollups import (
    raw_call_groups,
    raw_call_model_groups,
    rollup_call_groups,
    rollup_call_model_groups,
)
from tests.factories import OrganizationFactory
from tests.migrations_support import migrate

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("analytics", "0013_provider_call_recorded_by_key_not_editable")]
COLUMNS = [("analytics", "0014_provider_call_rollups_standalone_spend")]
AFTER = [("analytics", "0015_provider_call_standalone_spend_backfill")]
BACKFILL = importlib.import_module("analytics.migrations.0015_provider_call_standalone_spend_backfill")


def _columns(table: str) -> set[str]:
    with connection.cursor() as cursor:
        return {column.name for column in connection.introspection.get_table_description(cursor, table)}


def _standalone_sums() -> set[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sum(standalone_requests), sum(standalone_cost_usd) "
            "FROM analytics_providercalldailyrollup UNION "
            "SELECT sum(standalone_requests), sum(standalone_cost_usd) "
            "FROM analytics_providercallmodeldailyrollup"
        )
        return set(cursor.fetchall())


def test_the_flag_and_the_standalone_spend_are_filled_from_the_raw_calls(
    back_to_the_latest_afterwards, priced_models, at, monkeypatch
):
    # Ranges of 16 ids: the 150 calls take ten transactions, forward and back.
    monkeypatch.setattr(BACKFILL, "BATCH", 16)
    organizations = [OrganizationFactory(slug=f"org-{n}") for n in range(2)]
    ingest_random(organizations, random.Random(14), at, generations=40, calls=150)
    with rls.rls_bypass(reason="test: check"):
        written = rollup_call_groups(), rollup_call_model_groups()
        assert written == (raw_call_groups(), raw_call_model_groups())
        flags = dict(ProviderCall.objects.values_list("pk", "recorded_with_generation"))
        assert set(flags.values()) == {True, False}

    migrate(BEFORE)
    assert "recorded_with_generation" not in _columns("analytics_providercall")
    assert "standalone_cost_usd" not in _columns(ProviderCallModelDailyRollup._meta.db_table)
    migrate(AFTER)

    with rls.rls_bypass(reason="test: check"):
        assert dict(ProviderCall.objects.values_list("pk", "recorded_with_generation")) == flags
        assert (rollup_call_groups(), rollup_call_model_groups()) == written

    # The backfill alone reverses: flags false and no standalone spend, as the columns came.
    migrate(COLUMNS)
    with rls.rls_bypass(reason="test: check"):
        assert set(ProviderCall.objects.values_list("recorded_with_generation", flat=True)) == {False}
        assert _standalone_sums() == {(0, 0)}
    migrate(AFTER)
    with rls.rls_bypass(reason="test: check"):
        assert dict(ProviderCall.objects.values_list("pk", "recorded_with_generation")) == flags
        assert (rollup_call_groups(), rollup_call_model_groups()) == written
    with connection.cursor() as cursor:  # its resume markers are gone
        cursor.execute("SELECT to_regclass('analytics_0015_backfill'), to_regclass('analytics_0015_unfill')")
        assert cursor.fetchone() == (None, None)
