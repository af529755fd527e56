"""Each report question reads the narrowest rollup that answers it: the per-day rollup of
generations (migration 0019) for every question grouped by day or month alone (or not at all)
that needs no latency maximum, the per-key rollup (migration 0011) for the keys report unless it
is grouped by user or model, the per-model rollups (migration 0009) for every other question not
grouped by user or key. A measure added to a
report but not to its narrow rollup would still answer right, from the wide per-user rollup,
only much slower; these tests catch that."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.choices import ReportSource
from analytics.reports import REPORTS, report_run
from tenancy.rls import rls_bypass

DAY = datetime.date(2026, 1, 1)


def _tables_read(organization, report, source, group_by):
    with rls_bypass(reason="test: which rollup a report reads"), CaptureQueriesContext(connection) as queries:
        report_run(
            organization=organization,
            report=report,
            date_from=DAY,
            date_to=DAY,
            group_by=group_by,
            source=source,
            limit=10,
        )
    # The first statement answers the question; when it finds no group (as here, no rows) or is
    # cut at the limit, a second one reads the totals from the narrowest rollup holding the
    # measures (tests/analytics/test_reports.py).
    first = queries.captured_queries[0]["sql"]
    return {table for table in _ROLLUP_TABLES if f'"{table}"' in first}


_ROLLUP_TABLES = (
    "analytics_generationdayrollup",
    "analytics_providercallkeydailyrollup",
    "analytics_providercallmodeldailyrollup",
    "analytics_providercalldailyrollup",
    "analytics_generationmodeldailyrollup",
    "analytics_generationdailyrollup",
)


@pytest.mark.parametrize("group_by", [[], ["day"], ["month"]])
def test_the_keys_report_reads_the_per_key_rollup(organization, group_by):
    assert _tables_read(organization, "keys", ReportSource.PROVIDER_CALLS, group_by) == {
        "analytics_providercallkeydailyrollup"
    }


@pytest.mark.parametrize("group_by", [["user"], ["model", "month"]])
def test_the_keys_report_by_user_or_model_reads_the_per_user_rollup(organization, group_by):
    assert _tables_read(organization, "keys", ReportSource.PROVIDER_CALLS, group_by) == {
        "analytics_providercalldailyrollup"
    }


PER_MODEL = {
    ReportSource.GENERATIONS: "analytics_generationmodeldailyrollup",
    ReportSource.PROVIDER_CALLS: "analytics_providercallmodeldailyrollup",
}


@pytest.mark.parametrize(
    ("report", "source"),
    [(spec.name, source) for spec in REPORTS.values() if spec.anchor is None for source in spec.sources],
)
def test_a_report_not_grouped_by_user_or_key_reads_the_per_model_rollup(organization, report, source):
    assert _tables_read(organization, report, source, ["model", "provider", "content_type", "day"]) == {
        PER_MODEL[source]
    }


@pytest.mark.parametrize("group_by", [[], ["day"], ["month"]])
@pytest.mark.parametrize(
    "report",
    [spec.name for spec in REPORTS.values() if ReportSource.GENERATIONS in spec.sources and not spec.maxima],
)
def test_a_generations_report_by_time_alone_reads_the_per_day_rollup(organization, report, group_by):
    assert _tables_read(organization, report, ReportSource.GENERATIONS, group_by) == {
        "analytics_generationdayrollup"
    }


def test_the_models_report_by_day_reads_the_per_model_rollup_for_its_latency_maximum(organization):
    assert _tables_read(organization, "models", ReportSource.GENERATIONS, ["day"]) == {
        PER_MODEL[ReportSource.GENERATIONS]
    }
