"""Append-only rollups: two writers of one organization, day and model do not wait on each
other's rollup row; folding changes no report; a lowered latency brings the maximum down."""

from __future__ import annotations

import datetime
import random
import threading
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from analytics import reports, rollups
from analytics.models import (
    GenerationDailyRollup,
    GenerationDayRollup,
    GenerationModelDailyRollup,
    GenerationUserDailyRollup,
    ProviderCallDailyRollup,
    ProviderCallKeyDailyRollup,
    ProviderCallUserDailyRollup,
    UserHourlyRollup,
)
from generations import services as generation_services
from generations.models import CacheDailyStats, Generation
from tenancy.rls import rls_bypass
from tenancy.statements import Statement
from tests.analytics.random_ingestion import START, ingest_random
from tests.analytics.test_rollups import (
    full_user_day_groups,
    raw_call_groups,
    raw_call_key_groups,
    raw_call_model_groups,
    raw_day_groups,
    raw_generation_groups,
    raw_model_groups,
    raw_user_hours,
    rollup_call_groups,
    rollup_call_key_groups,
    rollup_call_model_groups,
    rollup_day_groups,
    rollup_generation_groups,
    rollup_model_groups,
    rollup_user_day_groups,
    rollup_user_hours,
)
from tests.concurrency import at_once
from tests.factories import OrganizationFactory

GROUP = {"model_name": "gpt-4o", "provider_name": "openai", "content_type": "blog", "user_ref": "ana"}


def _record(organization, name: str, **values):
    return generation_services.generation_record(
        organization=organization,
        values={"request_id": name, "status": "success", "input_tokens": 100, **GROUP, **values},
        fingerprint=name,
    ).instance


@pytest.mark.django_db(transaction=True)
def test_a_second_writer_of_the_same_group_does_not_wait_for_the_first_to_commit(organization, priced_models):
    """The first writer holds its transaction open until the second has committed; the second
    runs with a lock timeout, so a wait on the first's rollup row (the old upsert) fails it."""
    first_wrote, second_done = threading.Event(), threading.Event()

    def writer(index):
        with rls_bypass(reason="test: concurrent ingestion"):
            if index == 0:
                with transaction.atomic():
                    _record(organization, "first")
                    first_wrote.set()
                    assert second_done.wait(timeout=30), "the second writer never finished"
                return "first"
            try:
                assert first_wrote.wait(timeout=30)
                with transaction.atomic():
                    with connection.cursor() as cursor:
                        cursor.execute("SET LOCAL lock_timeout = '2s'")
                    _record(organization, "second")
                return "second"
            finally:
                second_done.set()

    assert at_once(2, writer) == ["first", "second"]

    with rls_bypass(reason="test: check"):
        assert GenerationDailyRollup.objects.count() == 2  # one delta row per writer, same group
        assert GenerationModelDailyRollup.objects.count() == GenerationDayRollup.objects.count() == 2
        assert rollup_generation_groups() == raw_generation_groups()
        assert rollup_model_groups() == raw_model_groups()
        assert rollup_day_groups() == raw_day_groups()
        assert sum(GenerationDailyRollup.objects.values_list("requests", flat=True)) == 2


QUESTIONS = [
    ("cost", None, "generations"),
    ("cost", ["user"], "generations"),
    ("volume", ["user", "month"], "generations"),
    ("failures", ["user"], "provider_calls"),
    ("cost", ["day", "user"], "provider_calls"),
    ("volume", ["day"], "provider_calls"),
    ("failures", ["model", "content_type"], "provider_calls"),
    ("retries", ["user", "content_type"], "generations"),
    ("keys", ["model"], "provider_calls"),
    ("keys", None, "provider_calls"),
    ("keys", ["day"], "provider_calls"),
    ("models", None, "generations"),
    ("cache", ["day"], "generations"),
    ("failures", None, "generations"),
    ("volume", ["month"], "generations"),
    ("retries", [], "generations"),
]


def _answers(organizations):
    answers = {}
    for organization in organizations:
        for report, group_by, source in QUESTIONS:
            answers[organization.pk, report, str(group_by), source] = reports.report_run(
                organization=organization,
                report=report,
                date_from=START.date(),
                date_to=START.date() + datetime.timedelta(days=30),
                group_by=group_by,
                source=source,
            ).as_dict()
        answers[organization.pk, "rate-limits"] = reports.rate_limit_report(
            organization=organization,
            since=START,
            until=START + datetime.timedelta(days=30),
            threshold=1,
        ).as_dict()
    return answers


@pytest.mark.django_db
def test_reports_are_the_same_before_and_after_folding(priced_models, at):
    organizations = [OrganizationFactory(slug=f"org-{n}") for n in range(2)]
    ingest_random(organizations, random.Random(5), at, generations=150, calls=150)
    # Deltas of the same groups: ingest the same shape again (finished, priced, with users).
    before = _answers(organizations)
    rows_before = GenerationDailyRollup.objects.count() + ProviderCallDailyRollup.objects.count()
    assert len(rollup_model_groups()) < len(rollup_generation_groups()), "the users fold away"

    result = rollups.rollups_fold(
        organization=None, date_from=START.date(), date_to=START.date() + datetime.timedelta(days=30)
    )

    assert _answers(organizations) == before
    assert rollup_generation_groups() == raw_generation_groups()
    assert rollup_call_groups() == raw_call_groups()
    assert rollup_call_model_groups() == raw_call_model_groups()
    assert rollup_call_key_groups() == raw_call_key_groups()
    assert rollup_model_groups() == raw_model_groups()
    assert rollup_day_groups() == raw_day_groups()
    assert rollup_user_day_groups() == full_user_day_groups()
    assert rollup_user_hours() == raw_user_hours()
    rows_after = GenerationDailyRollup.objects.count() + ProviderCallDailyRollup.objects.count()
    assert rows_after < rows_before
    assert result[GenerationDailyRollup._meta.db_table][1] == GenerationDailyRollup.objects.count()
    # Folded: one row per group, and folding again changes nothing.
    assert GenerationDailyRollup.objects.count() == len(rollup_generation_groups())
    assert UserHourlyRollup.objects.count() == len(rollup_user_hours())
    assert ProviderCallKeyDailyRollup.objects.count() == len(rollup_call_key_groups())
    assert GenerationDayRollup.objects.count() == len(rollup_day_groups())
    assert GenerationUserDailyRollup.objects.count() == len(rollup_user_day_groups()[0])
    assert ProviderCallUserDailyRollup.objects.count() == len(rollup_user_day_groups()[1])
    rollups.rollups_fold(organization=organizations[0], date_from=START.date(), date_to=START.date())
    assert _answers(organizations) == before


@pytest.mark.django_db
def test_an_edit_that_lowers_a_time_lowers_the_maximum(organization, priced_models, at):
    at(START)
    # Still running: a finished generation's usage is final, a running one's time may change.
    slow = _record(organization, "slow", status="processing", generation_time_ms=5000)
    middle = _record(organization, "middle", status="processing", generation_time_ms=3000)

    generation_services.generation_update(
        organization=organization, generation=slow, values={"generation_time_ms": 1000}
    )
    assert rollup_generation_groups() == raw_generation_groups()
    assert max(GenerationDailyRollup.objects.values_list("latency_ms_max", flat=True)) == 3000
    assert max(GenerationModelDailyRollup.objects.values_list("latency_ms_max", flat=True)) == 3000

    generation_services.generation_update(
        organization=organization,
        generation=Generation.objects.get(pk=middle.pk),
        values={"generation_time_ms": 2000},
    )
    rollups.rollups_fold(organization=organization, date_from=START.date(), date_to=START.date())
    folded = GenerationDailyRollup.objects.get()
    assert (folded.requests, folded.latency_ms_max, folded.latency_ms_sum) == (2, 2000, 3000)
    per_model = GenerationModelDailyRollup.objects.get()
    assert (per_model.requests, per_model.latency_ms_max, per_model.latency_ms_sum) == (2, 2000, 3000)
    assert rollup_generation_groups() == raw_generation_groups()
    assert rollup_model_groups() == raw_model_groups()
    assert rollup_day_groups() == raw_day_groups()


@pytest.mark.django_db
def test_cache_gets_write_a_delta_row_each_and_fold_into_one(api_client, organization):
    stored = api_client.put(
        "/api/v1/cache/k-1/", {"response": {"text": "hi"}, "ttl_seconds": 60}, format="json"
    )
    assert stored.status_code in (200, 201), stored.content
    codes = [api_client.get(f"/api/v1/cache/{key}/").status_code for key in ("k-1", "missing", "k-1")]
    assert codes == [200, 404, 200]
    assert CacheDailyStats.objects.count() == 3  # one delta row per GET, no shared row
    today = CacheDailyStats.objects.first().day

    rollups.rollups_fold(organization=organization, date_from=today, date_to=today)

    stats = CacheDailyStats.objects.get()
    assert (stats.hits, stats.misses) == (2, 1)
    assert api_client.get("/api/v1/cache/stats/").json()["hits"] == 2


@pytest.mark.django_db
def test_the_fold_command_counts_in_a_dry_run_then_folds(organization, priced_models, at):
    at(START)
    for name in ("a", "b", "c"):
        _record(organization, name)
    day = START.date().isoformat()

    dry = StringIO()
    call_command("fold_rollups", "--from", day, "--to", day, "--dry-run", stdout=dry)
    assert "analytics_generationdailyrollup: would fold away 2 row(s) (dry run)." in dry.getvalue()
    assert "analytics_generationdayrollup: would fold away 2 row(s) (dry run)." in dry.getvalue()
    assert GenerationDailyRollup.objects.count() == 3

    out = StringIO()
    call_command("fold_rollups", "--from", day, "--to", day, "--per-organization", stdout=out, verbosity=0)
    assert "Folded" in out.getvalue()
    assert (
        GenerationDailyRollup.objects.count()
        == GenerationModelDailyRollup.objects.count()
        == GenerationDayRollup.objects.count()
        == 1
    )
    assert rollup_generation_groups() == raw_generation_groups()
    assert rollup_day_groups() == raw_day_groups()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--from", "2026-03-02", "--to", "2026-03-01"], "--to is before --from."),
        (["--from", "yesterday"], "Not a date"),
        (["--organization", "nobody"], "No organization 'nobody'."),
    ],
)
def test_the_fold_command_refuses_bad_input_and_writes_nothing(
    organization, priced_models, at, arguments, message
):
    at(START)
    _record(organization, "a")
    _record(organization, "b")

    with pytest.raises(CommandError, match=message):
        call_command("fold_rollups", *arguments)

    assert GenerationDailyRollup.objects.count() == 2


@pytest.mark.django_db
def test_a_generation_in_a_run_is_counted_by_one_statement(organization, priced_models):
    from generations.models import GenerationRun

    run = GenerationRun.objects.create(organization=organization)
    with CaptureQueriesContext(connection) as queries:
        _record(organization, "in-a-run", run=run)

    writes = [
        q["sql"] for q in queries.captured_queries if "rollup" in q["sql"] or "modelperformance" in q["sql"]
    ]
    assert len(writes) == 1, writes  # per-user, per-model, per-day deltas and the run's upsert, together
    assert "ON CONFLICT" in writes[0] and writes[0].startswith("WITH ")
    assert "analytics_generationdayrollup" in writes[0]
    assert rollup_model_groups() == raw_model_groups()
    assert rollup_day_groups() == raw_day_groups()


@pytest.mark.django_db
def test_a_batch_of_many_groups_counts_exactly(organization):
    from analytics.models import ProviderCall
    from tests.analytics.factories import ProviderCallFactory

    # 2,500 users: 2,500 groups in each per-user table, sent as one JSON parameter a table.
    calls = ProviderCallFactory.build_batch(2500, organization=organization, occurred_at=START)
    for n, call in enumerate(calls):
        call.user_ref = f"user-{n}"
    ProviderCall.objects.bulk_create(calls)

    rollups.rollups_count_provider_calls(calls=calls)

    assert rollup_call_groups() == raw_call_groups()
    assert rollup_call_model_groups() == raw_call_model_groups()
    assert rollup_user_hours() == raw_user_hours()


@pytest.mark.django_db
def test_statements_past_the_parameter_limit_go_out_in_several_chains_each_whole():
    """PostgreSQL takes at most 65,535 parameters a statement: a chain past it (a re-pricing's
    in-place updates of thousands of run/model rows, ~13 parameters each) is cut into several
    statements, between statements, never between one and the readers of its rows."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE split_rows (n integer, k integer)")
        cursor.execute("CREATE TEMPORARY TABLE split_read (n integer)")
    width, count = 60, 1100  # 66,000 parameters
    values = ", ".join(["%s"] * (width - 1))
    statements = [
        Statement(
            f"INSERT INTO split_rows SELECT %s, k FROM unnest(ARRAY[{values}]::integer[]) AS k RETURNING n",
            [n, *range(width - 1)],
            readers=("INSERT INTO split_read SELECT DISTINCT n FROM {rows}",),
        )
        for n in range(count)
    ]
    with CaptureQueriesContext(connection) as queries:
        rollups._execute(statements)

    assert len(queries.captured_queries) == 2
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), count(DISTINCT n) FROM split_rows")
        assert cursor.fetchone() == (count * (width - 1), count)
        cursor.execute("SELECT count(*), count(DISTINCT n) FROM split_read")
        assert cursor.fetchone() == (count, count)


@pytest.mark.django_db
def test_coarser_tables_get_the_written_rows_grouped_and_no_group_that_sums_to_nothing(organization):
    """The per-model, per-day and per-user deltas are the per-user-and-model rows the same
    statement wrote, grouped: a contribution moved from one user's group to another's (re-pricing
    moves one between models the same way) nets to nothing per model and per day, and writes no
    row there, as the finest table writes none for a group that nets to nothing."""
    day = START.date()
    key = (organization.pk, day, "openai", "gpt-4o", "blog")
    daily = rollups.Contributions(rollups.GENERATION_ROLLUP)
    measures = {"requests": 1, "successes": 1, "input_tokens": 40, "cost_usd": Decimal("0.25")}
    daily.add((*key, "ana"), measures)
    daily.add((*key, "bo"), measures, sign=-1)
    daily.add((*key, "cy"), measures)
    daily.add((*key, "cy"), measures, sign=-1)  # nets to nothing: no row anywhere
    with CaptureQueriesContext(connection) as queries:
        daily.write()

    assert len(queries.captured_queries) == 1
    with rls_bypass(reason="test: check"):
        assert sorted(GenerationDailyRollup.objects.values_list("user_ref", "requests", "cost_usd")) == [
            ("ana", 1, Decimal("0.25")),
            ("bo", -1, Decimal("-0.25")),
        ]
        per_user = GenerationUserDailyRollup.objects.values_list("user_ref", "requests", "input_tokens")
        assert sorted(per_user) == [("ana", 1, 40), ("bo", -1, -40)]
        assert not GenerationModelDailyRollup.objects.exists()
        assert not GenerationDayRollup.objects.exists()

    # A contribution that does not net to nothing reaches every table fed from it, summed.
    daily.add((*key, "ana"), measures)
    daily.add((*key, "bo"), {**measures, "requests": 2})
    daily.write()
    with rls_bypass(reason="test: check"):
        assert list(GenerationModelDailyRollup.objects.values_list("model_name", "requests", "cost_usd")) == [
            ("gpt-4o", 3, Decimal("0.50"))
        ]
        per_day = GenerationDayRollup.objects.values_list("day", "requests", "input_tokens")
        assert list(per_day) == [(day, 3, 80)]
