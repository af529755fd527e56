"""The tenant wall reads the row scope once per statement (``tenancy.rls.policy_clauses``,
``tenancy`` 0004): every table's policy in that form, a tenant's query filtering its rows by an
array made once (an InitPlan), the same rows admitted, and the migration both ways."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection

from analytics.models import GenerationDayRollup
from tenancy import rls
from tests.migrations_support import migrate

pytestmark = pytest.mark.django_db


def walls() -> dict[str, tuple[str, str]]:
    """Each walled table's ``USING`` and ``WITH CHECK`` as PostgreSQL prints them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid) "
            "FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE p.polname = %s",
            [rls.POLICY_NAME],
        )
        return {table: (using, check) for table, using, check in cursor.fetchall()}


def read_once(condition: str) -> bool:
    # Each setting read in a scalar subquery, and nowhere outside one.
    return (
        condition.count("current_setting(") == 2
        and "( SELECT current_setting('app.rls_bypass'" in condition
        and "( SELECT (string_to_array(NULLIF(current_setting('app.organization_ids'" in condition
    )


def test_every_wall_reads_the_row_scope_once_per_statement():
    found = walls()
    assert len(found) >= 30
    assert [table for table, conditions in found.items() if not all(map(read_once, conditions))] == []
    # The key and the global rows each table had are kept.
    assert "(id = ANY" in found["tenancy_organization"][0]
    assert "organization_id IS NULL" in found["styleguides_styleguide"][0]
    assert "IS NULL" not in found["styleguides_styleguide"][1]  # global rows are never written


def test_a_tenants_query_filters_by_an_array_made_once_and_sees_only_its_rows(
    organization, other_organization
):
    day = datetime.date(2026, 1, 5)
    with rls.rls_bypass(reason="test set-up"):
        for org in (organization, other_organization):
            GenerationDayRollup.objects.create(organization=org, day=day, requests=3)
    query = GenerationDayRollup.objects.filter(day=day)
    with rls.rls_organizations([organization.pk]):
        assert list(query.values_list("organization_id", flat=True)) == [organization.pk]
        with connection.cursor() as cursor:
            sql, params = query.query.sql_with_params()
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "InitPlan" in plan
    assert "current_setting" not in plan.split("InitPlan")[0]  # not in the scan's own filter
    with rls.rls_organizations([]):
        assert not query.exists()


def test_the_migration_rewrites_every_wall_and_reverse_puts_the_old_form_back(back_to_the_latest_afterwards):
    before = walls()
    migrate([("tenancy", "0003_row_level_security")])
    old = walls()
    assert set(old) == set(before)
    assert not any(read_once(using) or read_once(check) for using, check in old.values())
    assert "current_setting('app.rls_bypass'::text, true) = 'on'::text" in old["generations_generation"][0]
    assert "organization_id IS NULL" in old["styleguides_styleguide"][0]
    migrate([("tenancy", "0004_rls_row_scope_once_per_statement")])
    assert walls() == before
