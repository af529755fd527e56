"""``manage.py weekly_summaries``: one row per organization and week from the rollups, with the
change against the week before; rewriting is idempotent; listed in the API, scoped."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from analytics.models import WeeklySummary
from analytics.rollups import rollup_rebuild
from generations.models import Generation
from tenancy.models import AuditEvent

pytestmark = pytest.mark.django_db
WEEK = datetime.date(2026, 2, 2)  # a Monday
BEFORE = WEEK - datetime.timedelta(days=7)


def generations(organization, week_start, plan):
    """``plan``: (model, status, cost) per generation, spread over the week."""
    rows = [
        Generation(
            organization=organization,
            request_id=f"{organization.slug}-{week_start}-{n}",
            created_at=datetime.datetime.combine(
                week_start + datetime.timedelta(days=n % 7), datetime.time(12), tzinfo=datetime.UTC
            ),
            model_name=model,
            provider_name="openai",
            status=status,
            total_tokens=100,
            cost_usd=cost,
            cost_status="priced" if cost is not None else "unpriced",
        )
        for n, (model, status, cost) in enumerate(plan)
    ]
    Generation.all_objects.bulk_create(rows)


@pytest.fixture
def two_weeks(organization, other_organization):
    generations(
        organization, BEFORE, [("gpt-4o", "success", Decimal("1"))] * 8 + [("gpt-4o", "failed", None)] * 2
    )
    generations(
        organization,
        WEEK,
        [("gpt-4o", "success", Decimal("2"))] * 6
        + [("claude-sonnet-4-0", "success", Decimal("3"))] * 5
        + [("gpt-4o-mini", "failed", Decimal("0.5"))] * 3
        + [("homegrown", "success", None)],
    )
    generations(other_organization, WEEK, [("gpt-4o", "success", Decimal("100"))])
    rollup_rebuild(date_from=BEFORE, date_to=WEEK + datetime.timedelta(days=6))


def test_a_week_is_summed_up_with_its_change_against_the_week_before(two_weeks, organization):
    out = io.StringIO()

    call_command("weekly_summaries", "--week", "2026-02-04", stdout=out, stderr=io.StringIO())

    summary = WeeklySummary.objects.get(organization=organization, week_start=WEEK)
    assert (summary.requests, summary.successes, summary.failures) == (15, 12, 3)
    assert summary.failure_rate == Decimal("0.2000")
    assert summary.cost_usd == Decimal("28.5") and summary.unpriced_requests == 1
    assert summary.top_models[:3] == [
        {"model": "claude-sonnet-4-0", "provider": "openai", "requests": 5, "cost_usd": "15.0000000000"},
        {"model": "gpt-4o", "provider": "openai", "requests": 6, "cost_usd": "12.0000000000"},
        {"model": "gpt-4o-mini", "provider": "openai", "requests": 3, "cost_usd": "1.5000000000"},
    ]
    assert (summary.previous_requests, summary.previous_cost_usd) == (10, Decimal("8"))
    assert summary.requests_change_pct == Decimal("0.5000")
    assert summary.cost_change_pct == Decimal("2.5625")
    assert summary.failure_rate_change == Decimal("0.0000")
    assert WeeklySummary.objects.filter(week_start=WEEK).count() == 2  # one per organization
    assert "Wrote 2 weekly summaries" in out.getvalue()


def test_writing_a_week_again_replaces_its_row(two_weeks, organization):
    call_command("weekly_summaries", "--week", "2026-02-02", stdout=io.StringIO(), stderr=io.StringIO())
    first = WeeklySummary.objects.get(organization=organization, week_start=WEEK)

    call_command("weekly_summaries", "--week", "2026-02-08", stdout=io.StringIO(), stderr=io.StringIO())

    again = WeeklySummary.objects.get(organization=organization, week_start=WEEK)
    assert again.pk == first.pk and again.cost_usd == first.cost_usd
    assert WeeklySummary.objects.count() == 2
    assert AuditEvent.objects.for_object(again).filter(action="create").count() == 1


def test_several_weeks_and_a_first_week_without_history(two_weeks, organization):
    call_command(
        "weekly_summaries", "--week", "2026-02-02", "--weeks", "2", stdout=io.StringIO(), stderr=io.StringIO()
    )

    earlier = WeeklySummary.objects.get(organization=organization, week_start=BEFORE)
    assert earlier.requests == 10 and earlier.failure_rate == Decimal("0.2000")
    assert earlier.requests_change_pct is None and earlier.cost_change_pct is None
    assert WeeklySummary.objects.filter(organization=organization).count() == 2


def test_a_dry_run_writes_nothing(two_weeks):
    out = io.StringIO()

    call_command("weekly_summaries", "--week", "2026-02-02", "--dry-run", stdout=out)

    assert not WeeklySummary.objects.exists()
    assert "Would write 2 summaries" in out.getvalue()


@pytest.mark.parametrize(
    "arguments", [["--week", "last tuesday"], ["--weeks", "0"], ["--organization", "nope"]]
)
def test_bad_arguments_are_refused(arguments):
    with pytest.raises(CommandError):
        call_command("weekly_summaries", *arguments)
    assert not WeeklySummary.objects.exists()


def test_the_api_lists_only_the_callers_summaries(two_weeks, api_client, other_api_client, organization):
    call_command("weekly_summaries", "--week", "2026-02-02", stdout=io.StringIO(), stderr=io.StringIO())

    mine = api_client.get("/api/v1/weekly-summaries/").json()["results"]
    theirs = other_api_client.get("/api/v1/weekly-summaries/").json()["results"]

    assert [row["requests"] for row in mine] == [15]
    assert [row["cost_usd"] for row in theirs] == ["100.0000000000"]
    assert mine[0]["top_models"][0]["model"] == "claude-sonnet-4-0"
