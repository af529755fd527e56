"""The report rollups' walls read the row scope once per statement (``tenancy.rls.policy_clauses``,
``analytics`` 0026, and 0027 for the two per-day-and-user rollups): those eight tables in that
form and every other wall per row, a tenant's report query filtering by an array made once (an
InitPlan) with the same rows admitted and the same writes refused, and the migration both ways."""

from __future__ import annotations

import datetime

import pytest
from django.db import ProgrammingError, connection, transaction

from analytics.models import GenerationDayRollup, ProviderCallKeyDailyRollup
from analytics.reports import report_run
from tenancy import rls
from tests.migrations_support import migrate

pytestmark = pytest.mark.django_db

# 0027's two rollups, walled in the once form when they are created.
PER_USER_DAY = {"analytics_generationuserdailyrollup", "analytics_providercalluserdailyrollup"}
ONCE = {
    "analytics_generationdayrollup",
    "analytics_generationmodeldailyrollup",
    "analytics_generationdailyrollup",
    "analytics_providercallmodeldailyrollup",
    "analytics_providercalldailyrollup",
    "analytics_providercallkeydailyrollup",
    *PER_USER_DAY,
}
DAY = datetime.date(2026, 1, 5)


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


def read_per_row(condition: str) -> bool:
    return (
        "current_setting('app.rls_bypass'::text, true) = 'on'::text" in condition
        and "SELECT" not in condition
    )


def test_the_report_rollups_read_the_row_scope_once_and_every_other_wall_per_row():
    found = walls()
    assert len(found) >= 30
    assert {table for table, conditions in found.items() if all(map(read_once, conditions))} == ONCE
    per_row = {table for table, conditions in found.items() if all(map(read_per_row, conditions))}
    assert per_row == set(found) - ONCE
    # Their keys are kept, and the rollups have no global rows.
    assert all("(organization_id = ANY" in found[table][0] for table in ONCE)
    assert not any("IS NULL" in found[table][0] for table in ONCE)


def test_a_report_filters_by_an_array_made_once_and_sees_only_its_tenants_rows(
    organization, other_organization
):
    with rls.rls_bypass(reason="test set-up"):
        for org, requests in ((organization, 3), (other_organization, 40)):
            GenerationDayRollup.objects.create(organization=org, day=DAY, requests=requests, failures=1)
    query = GenerationDayRollup.objects.filter(day=DAY)
    with rls.rls_organizations([organization.pk]):
        assert list(query.values_list("organization_id", flat=True)) == [organization.pk]
        with connection.cursor() as cursor:
            sql, params = query.query.sql_with_params()
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        # The report the wall's form is for: the other tenant's 40 are not in it, even through
        # a query naming it.
        answer = report_run(organization=organization, report="failures", date_from=DAY, date_to=DAY)
        stolen = report_run(organization=other_organization, report="failures", date_from=DAY, date_to=DAY)
    assert "InitPlan" in plan
    assert "current_setting" not in plan.split("InitPlan")[0]  # not in the scan's own filter
    assert [row["requests"] for row in answer.rows] == [3]
    assert stolen.rows == []
    with rls.rls_organizations([]):
        assert not query.exists()
    with rls.rls_bypass(reason="test: both tenants"):
        assert query.count() == 2


def test_writes_into_another_tenants_rollup_rows_are_refused(organization, other_organization):
    with rls.rls_bypass(reason="test: a row of B"):
        theirs = ProviderCallKeyDailyRollup.objects.create(
            organization=other_organization, day=DAY, key_fingerprint="k", requests=5
        )
    with rls.rls_organizations([organization.pk]):
        with pytest.raises(ProgrammingError, match="row-level security"), transaction.atomic():
            ProviderCallKeyDailyRollup.objects.create(
                organization=other_organization, day=DAY, key_fingerprint="planted", requests=1
            )
        assert ProviderCallKeyDailyRollup.objects.filter(pk=theirs.pk).update(requests=0) == 0
        assert ProviderCallKeyDailyRollup.objects.filter(pk=theirs.pk).delete()[0] == 0
    theirs.refresh_from_db()
    assert theirs.requests == 5


def test_the_migration_rewrites_the_six_walls_and_reverse_puts_the_per_row_form_back(
    back_to_the_latest_afterwards,
):
    # Without the two rollups 0027 creates (walled in the same form).
    before = {table: conditions for table, conditions in walls().items() if table not in PER_USER_DAY}
    migrate([("analytics", "0025_integer_sum_aggregate")])
    old = walls()
    assert set(old) == set(before)
    assert all(read_per_row(using) and read_per_row(check) for using, check in old.values())
    migrate([("analytics", "0026_report_rollups_read_row_scope_once")])
    assert walls() == before
