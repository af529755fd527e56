"""``manage.py purge_user``: one user's content and personal fields are erased across apps, their
costs stay as anonymous totals, other users and organizations are untouched, and the purge is
audited without naming the user."""

from __future__ import annotations

import datetime
import io
import threading
import time
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from analytics import retention, rollups, services
from analytics.models import (
    ArchivedRecord,
    GenerationDailyRollup,
    GenerationDayRollup,
    GenerationUserDailyRollup,
    PerformanceMetric,
    ProviderCall,
    ProviderCallDailyRollup,
    ProviderCallUserDailyRollup,
    UserDailyRollup,
    UserHourlyRollup,
)
from analytics.purge import user_purge_organization, user_ref_digest
from generations import services as generation_services
from generations.models import Generation, GenerationRun
from providers.models import AIPreference, Budget
from tenancy import services as tenancy_services
from tenancy.models import AuditEvent
from tenancy.rls import rls_bypass
from tests.concurrency import at_once

pytestmark = pytest.mark.django_db
ANA = "ana@example.com"


def record(organization, request_id, user_ref, **values):
    return generation_services.generation_record(
        organization=organization,
        values={
            "request_id": request_id,
            "model_name": "gpt-4o",
            "provider_name": "openai",
            "status": "success",
            "user_ref": user_ref,
            "prompt": f"Write about {user_ref}'s holiday",
            "content": f"Dear {user_ref}, here is your post.",
            "input_tokens": 1000,
            "output_tokens": 200,
            **values,
        },
        fingerprint=request_id,
    ).instance


@pytest.fixture
def people(organization, other_organization, priced_models):
    """Ana and Ben in one organization (generations, a run, calls, metrics, a budget, a
    preference, an archived generation), and another Ana elsewhere."""
    run = GenerationRun.objects.create(organization=organization, user_ref=ANA, prompt="Ana's idea")
    ana = [record(organization, f"ana-{n}", ANA, run=run if n == 0 else None) for n in range(3)]
    ben = record(organization, "ben-0", "ben")
    services.performance_metric_record(
        organization=organization,
        generation=ana[0],
        values={"validation_errors": [f"mentions {ANA}"], "cache_key": f"prompt:{ANA}", "cache_hit": True},
        fingerprint="m",
    )
    for n, user in enumerate([ANA, ANA, "ben"]):
        services.provider_call_record(
            organization=organization,
            values={
                "request_id": f"call-{n}",
                "endpoint": "/v1/chat/completions",
                "model_name": "gpt-4o",
                "provider_name": "openai",
                "input_tokens": 500,
                "output_tokens": 50,
                "status_code": 500,
                "error_message": f"upstream failed for {user}",
                "user_ref": user,
            },
            fingerprint=f"call-{n}",
        )
    tenancy_services.audited_save(
        organization=organization,
        actor=tenancy_services.SYSTEM,
        instance=Budget(organization=organization, name="Ana's budget", user_ref=ANA, limit_usd=Decimal("5")),
    )
    AIPreference.objects.create(organization=organization, user_ref=ANA)
    old = record(organization, "ana-old", ANA)
    Generation.all_objects.filter(pk=old.pk).update(status="failed", created_at="2020-01-01T00:00:00Z")
    retention.retention_apply(organizations=[organization])  # archives the old failed one
    elsewhere = record(other_organization, "ana-elsewhere", ANA)
    return {"ana": ana, "ben": ben, "elsewhere": elsewhere, "run": run}


def money() -> tuple:
    return (
        GenerationDailyRollup.objects.aggregate(c=Sum("cost_usd"), n=Sum("requests"), t=Sum("total_tokens")),
        GenerationDayRollup.objects.aggregate(c=Sum("cost_usd"), n=Sum("requests"), t=Sum("total_tokens")),
        GenerationUserDailyRollup.objects.aggregate(
            c=Sum("cost_usd"), n=Sum("requests"), t=Sum("total_tokens")
        ),
        ProviderCallUserDailyRollup.objects.aggregate(c=Sum("cost_usd"), n=Sum("requests")),
        ProviderCallDailyRollup.objects.aggregate(c=Sum("cost_usd"), n=Sum("requests")),
        Generation.all_objects.aggregate(c=Sum("cost_usd"))["c"],
        ProviderCall.objects.aggregate(c=Sum("cost_usd"))["c"],
    )


def test_a_dry_run_counts_and_changes_nothing(people, organization):
    before = (list(Generation.all_objects.values()), list(GenerationDailyRollup.objects.values()))
    out = io.StringIO()

    call_command(
        "purge_user", "--user-ref", ANA, "--organization", organization.slug, "--dry-run", stdout=out
    )

    assert (list(Generation.all_objects.values()), list(GenerationDailyRollup.objects.values())) == before
    assert (
        "generations 3, performance_metrics 1, runs 1, provider_calls 2, budgets 1, ai_preferences 1"
        in out.getvalue()
    )
    assert not AuditEvent.objects.filter(action="purge").exists()


def test_the_user_is_erased_and_their_costs_stay_anonymous(people, organization):
    totals = money()
    out = io.StringIO()

    call_command("purge_user", "--user-ref", ANA, "--organization", organization.slug, stdout=out)

    assert money() == totals
    for generation in Generation.all_objects.filter(pk__in=[g.pk for g in people["ana"]]):
        assert generation.user_ref is None
        assert generation.content == generation.prompt == ""
        assert generation.cost_usd > 0 and generation.input_tokens == 1000
    run = GenerationRun.all_objects.get(pk=people["run"].pk)
    assert run.user_ref is None and run.prompt == ""
    assert not ProviderCall.objects.filter(user_ref=ANA).exists()
    assert not ProviderCall.objects.filter(error_message__contains=ANA).exists()
    metric = PerformanceMetric.objects.get()
    assert metric.validation_errors == [] and metric.cache_key == "" and metric.cache_hit
    assert not Budget.all_objects.filter(user_ref=ANA).exists()
    assert not AIPreference.all_objects.filter(user_ref=ANA).exists()
    assert not GenerationDailyRollup.objects.filter(organization=organization, user_ref=ANA).exists()
    assert not ProviderCallDailyRollup.objects.filter(organization=organization, user_ref=ANA).exists()
    assert not GenerationUserDailyRollup.objects.filter(organization=organization, user_ref=ANA).exists()
    assert not ProviderCallUserDailyRollup.objects.filter(organization=organization, user_ref=ANA).exists()
    # Relabelled, not deleted: their figures join the anonymous groups (money() holds the totals).
    assert GenerationUserDailyRollup.objects.filter(organization=organization, user_ref="").exists()
    assert ProviderCallUserDailyRollup.objects.filter(organization=organization, user_ref="").exists()
    assert not UserHourlyRollup.objects.filter(organization=organization, user_ref=ANA).exists()
    assert not UserDailyRollup.objects.filter(organization=organization, user_ref=ANA).exists()
    archived = ArchivedRecord.objects.get(model_label="generations.generation")
    assert archived.data["fields"]["user_ref"] is None and archived.data["fields"]["content"] == ""
    scope = AuditEvent.objects.filter(organization=organization).exclude(action="purge")
    assert not [event.changes for event in scope if ANA in str(event.changes) or ANA in event.object_repr]
    event = AuditEvent.objects.get(action="purge")
    assert event.object_id == user_ref_digest(ANA) and ANA not in str(event.changes)
    assert event.changes["generations"] == [None, 3]
    assert "acme: " in out.getvalue()


def _until_waiting(pid: int) -> None:
    """Return once backend ``pid`` waits for a lock (pg_locks is live, not a snapshot)."""
    deadline = time.monotonic() + 30
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = %s AND NOT granted)", [pid])
            if cursor.fetchone()[0]:
                return
    raise AssertionError("the purge never waited for the fold")


@pytest.mark.django_db(transaction=True)
def test_a_fold_running_meanwhile_does_not_bring_the_purged_user_back(people, organization):
    """Given a fold that has replaced the rollup rows but not committed, when a purge starts,
    then it waits for the fold, and its statements see the folded rows: none of the user's is
    left (its statements' snapshots, taken before the fold committed, did not hold them)."""
    totals = money()
    today = timezone.now().date()
    purger: dict[str, int] = {}
    folded, connected = threading.Event(), threading.Event()

    def run(index):
        with rls_bypass(reason="test: a fold and a purge at once"):
            if index == 0:
                with transaction.atomic():
                    rollups.rollups_fold(
                        organization=None,
                        date_from=today - datetime.timedelta(days=1),
                        date_to=today + datetime.timedelta(days=1),
                    )
                    folded.set()
                    assert connected.wait(timeout=30)
                    _until_waiting(purger["pid"])  # commits only once the purge waits
                return "folded"
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                purger["pid"] = cursor.fetchone()[0]
            connected.set()
            assert folded.wait(timeout=30)
            user_purge_organization(organization=organization, user_ref=ANA)
            return "purged"

    assert at_once(2, run) == ["folded", "purged"]

    assert money() == totals
    for model in (
        GenerationDailyRollup,
        GenerationUserDailyRollup,
        ProviderCallDailyRollup,
        ProviderCallUserDailyRollup,
        UserHourlyRollup,
        UserDailyRollup,
    ):
        assert not model.objects.filter(organization=organization, user_ref=ANA).exists(), model


def test_other_users_and_organizations_are_untouched(people, organization):
    ben_before = Generation.objects.filter(pk=people["ben"].pk).values().get()
    elsewhere_before = Generation.objects.filter(pk=people["elsewhere"].pk).values().get()

    call_command("purge_user", "--user-ref", ANA, "--organization", organization.slug, stdout=io.StringIO())

    assert Generation.objects.filter(pk=people["ben"].pk).values().get() == ben_before
    assert Generation.objects.filter(pk=people["elsewhere"].pk).values().get() == elsewhere_before
    assert GenerationDailyRollup.objects.filter(user_ref="ben").exists()
    assert ProviderCall.objects.filter(user_ref="ben", error_message="upstream failed for ben").exists()


def test_without_an_organization_every_organization_is_purged(people):
    call_command("purge_user", "--user-ref", ANA, stdout=io.StringIO())

    assert not Generation.all_objects.filter(user_ref=ANA).exists()
    assert AuditEvent.objects.filter(action="purge").count() == 2


def test_an_unknown_user_erases_nothing(people):
    out = io.StringIO()

    call_command("purge_user", "--user-ref", "nobody", stdout=out)

    assert "nothing to erase" in out.getvalue()
    assert not AuditEvent.objects.filter(action="purge").exists()
