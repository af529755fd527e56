"""Fixtures of the providers tests: the synced catalogue, credentials, a test spend source."""

from __future__ import annotations

import pytest

from providers.models import AIModel
from providers.price_sync import price_sync


@pytest.fixture
def catalogue(db):
    """Providers, text models and their price timelines from genai-prices' snapshot."""
    price_sync()
    return AIModel.objects.select_related("provider")


@pytest.fixture
def recorded_spend(db):
    """A test-only spend table (a temporary table of the test's transaction) registered as a spend source.

    ``recorded_spend(organization, cost, at, user_ref=None, fingerprint=None, requests=1)``
    records a row; budgets then read it through ``providers.spending`` like any app's source.
    """
    from django.db import connection

    from providers.spending import SpendTotals, register_spend_source, unregister_spend_source

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE test_spend_rows (organization_id bigint NOT NULL, at timestamptz NOT NULL, "
            "cost_usd numeric(20, 10) NOT NULL, requests integer NOT NULL, user_ref text, fingerprint text)"
        )

    def source(*, organization, since, until, user_ref=None, credential_fingerprint=None):
        sql = (
            "SELECT coalesce(sum(cost_usd), 0), coalesce(sum(requests), 0) FROM test_spend_rows "
            "WHERE organization_id = %s AND at >= %s AND at < %s"
        )
        params = [organization.pk, since, until]
        if user_ref is not None:
            sql += " AND user_ref = %s"
            params.append(user_ref)
        if credential_fingerprint is not None:
            sql += " AND fingerprint = %s"
            params.append(credential_fingerprint)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            cost, requests = cursor.fetchone()
        return SpendTotals(cost_usd=cost, requests=int(requests))

    def record(organization, cost, at, *, user_ref=None, fingerprint=None, requests=1):
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO test_spend_rows VALUES (%s, %s, %s, %s, %s, %s)",
                [organization.pk, at, cost, requests, user_ref, fingerprint],
            )

    register_spend_source(source, name="tests.recorded_spend")
    yield record
    unregister_spend_source("tests.recorded_spend")
