"""Reports sum integer measures with ``inkwell_int8_sum`` (``analytics`` 0025): a bigint
throughout, 0 over no rows, NULLs skipped, negative deltas counted, an overflow an error and
never a wrapped value; the reports' statements use it (the rate-limit report's too, past an
integer's range per row) and a grouping by time alone is ordered by time only. The migration
reverses (the aggregate is gone) and comes back."""

from __future__ import annotations

import datetime

import pytest
from django.db import DataError, connection, transaction
from django.test.utils import CaptureQueriesContext

from analytics import reports
from analytics.models import (
    GenerationDayRollup,
    GenerationModelDailyRollup,
    UserDailyRollup,
    UserHourlyRollup,
)
from tenancy import rls
from tests.migrations_support import migrate

DAY = datetime.date(2026, 3, 1)
# More calls than an integer holds: the rate-limit report once cast each row to one to sum it.
BEYOND_INT4 = 3_000_000_000


def integer_sum(values_sql: str):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {reports.INTEGER_SUM}(x) FROM ({values_sql}) AS v(x)")
        return cursor.fetchone()[0]


def aggregate_exists() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_proc WHERE proname = %s AND prokind = 'a'", [reports.INTEGER_SUM]
        )
        return cursor.fetchone()[0] == 1


@pytest.mark.django_db
def test_the_integer_sum_is_a_bigint_sum_of_its_rows():
    total = integer_sum("VALUES (5::bigint), (-7::bigint), (NULL::bigint), (9000000000::bigint)")
    assert total == 8_999_999_998
    assert type(total) is int  # the driver's int, not a Decimal
    assert integer_sum("SELECT 1::bigint WHERE false") == 0  # no rows: 0, as COALESCE(sum, 0) said


@pytest.mark.django_db
def test_a_sum_beyond_a_bigint_is_an_error_never_a_wrapped_value():
    with pytest.raises(DataError, match="out of range"), transaction.atomic():
        integer_sum("VALUES (9223372036854775807::bigint), (1::bigint)")


@pytest.mark.django_db
def test_a_report_sums_integer_measures_with_it_over_unfolded_deltas(organization):
    with rls.rls_organizations([organization.pk]):
        for requests, failures in ((10, 3), (5, 1), (-2, -1)):  # an edit's delta is negative
            GenerationDayRollup.objects.create(
                organization=organization, day=DAY, requests=requests, failures=failures, successes=requests
            )
            GenerationModelDailyRollup.objects.create(
                organization=organization,
                day=DAY,
                provider_name="openai",
                model_name="gpt-4o",
                content_type="blog",
                requests=requests,
                failures=failures,
                successes=requests,
            )
        question = {"organization": organization, "report": "failures", "date_from": DAY, "date_to": DAY}
        with CaptureQueriesContext(connection) as queries:
            by_day = reports.report_run(**question)
        by_model = reports.report_run(**question, group_by=["model", "day"])

    (statement,) = [query["sql"] for query in queries.captured_queries if "GROUP BY" in query["sql"]]
    assert f"{reports.INTEGER_SUM}(requests)" in statement
    assert "COALESCE(sum(" not in statement and "::bigint" not in statement
    # Grouped by day alone, each day is one group: ordered by the day only, no measure to sort by.
    assert statement.endswith("ORDER BY day LIMIT 1001")
    assert by_day.rows == [
        {
            "day": "2026-03-01",
            "requests": 13,
            "successes": 13,
            "partials": 0,
            "failures": 3,
            "cancelled": 0,
            "failure_rate": "0.2308",
        }
    ]
    assert by_day.totals["requests"] == 13 and type(by_day.totals["requests"]) is int
    assert [(row["model"], row["requests"], row["failures"]) for row in by_model.rows] == [("gpt-4o", 13, 3)]


@pytest.mark.django_db
def test_the_rate_limit_report_sums_with_it_beyond_an_integer(organization):
    hour = datetime.datetime.combine(DAY, datetime.time(14), tzinfo=datetime.UTC)
    with rls.rls_organizations([organization.pk]):
        for requests, limited in ((BEYOND_INT4, 7), (5, 0)):  # two unfolded deltas of one hour
            UserHourlyRollup.objects.create(
                organization=organization, hour=hour, user_ref="u-1", requests=requests, rate_limited=limited
            )
            UserDailyRollup.objects.create(
                organization=organization,
                day=DAY,
                user_ref="u-1",
                requests=requests,
                rate_limited=limited,
                busiest_hour_bound=requests,
            )
        start = datetime.datetime.combine(DAY, datetime.time(0), tzinfo=datetime.UTC)
        with CaptureQueriesContext(connection) as queries:  # the whole day: days, then its hours
            whole_day = reports.rate_limit_report(
                organization=organization, since=start, until=start + datetime.timedelta(hours=23)
            )
        one_hour = reports.rate_limit_report(organization=organization, since=hour, until=hour)  # the edges

    (statement,) = [query["sql"] for query in queries.captured_queries if "candidate_days" in query["sql"]]
    assert f"{reports.INTEGER_SUM}(" in statement and "::integer" not in statement
    for report in (whole_day, one_hour):
        assert report.rows == [
            {
                "user_ref": "u-1",
                "busiest_hour": hour.isoformat(),
                "busiest_hour_requests": BEYOND_INT4 + 5,
                "hours_over_threshold": 1,
                "requests": BEYOND_INT4 + 5,
                "rate_limited": 7,
            }
        ]
        assert report.totals == {"users_over_threshold": 1}


@pytest.mark.django_db(transaction=True)
def test_the_migration_reverses_and_comes_back(back_to_the_latest_afterwards):
    assert aggregate_exists()
    migrate([("analytics", "0024_retention_batch_organization_index_dropped")])
    assert not aggregate_exists()
    migrate([("analytics", "0025_integer_sum_aggregate")])
    assert aggregate_exists()
