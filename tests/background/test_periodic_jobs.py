"""Periodic jobs run from the queue by a real worker, and a job already running elsewhere is
skipped, not doubled; operators see each job and its last run in the admin."""

from __future__ import annotations

import datetime
import io
import threading

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob
from procrastinate.exceptions import AlreadyEnqueued

from background.commands import command_lock_name
from background.locks import is_locked, run_exclusively
from background.periodic import PERIODIC_COMMANDS
from background.queue import defer_in_transaction
from generations.models import CacheEntry
from providers.models import AIModel
from tests.background.harness import wait_until
from tests.generations.factories import CacheEntryFactory

pytestmark = pytest.mark.django_db(transaction=True)

COMMANDS = [
    "sync_model_prices",
    "purge_expired_cache",
    "rollup",
    "fold_rollups",
    "weekly_summaries",
    "apply_retention",
]


def _expired_cache_entry(organization):
    return CacheEntryFactory(
        organization=organization, expires_at=timezone.now() - datetime.timedelta(hours=2)
    )


def _queue(command: str) -> int:
    return defer_in_transaction(
        PERIODIC_COMMANDS[command].task_name, timestamp=int(timezone.now().timestamp())
    )


def _finished(job_id: int):
    return lambda: ProcrastinateJob.objects.filter(pk=job_id, status__in=["succeeded", "failed"]).first()


def _last_jobs() -> dict[str, int]:
    last = {}
    for task_name, job_id in ProcrastinateJob.objects.order_by("id").values_list("task_name", "id"):
        last[task_name] = job_id
    return last


def _periodic_page_with_its_last_jobs(client) -> tuple[str, dict[str, int]]:
    """The periodic jobs page and, per task, the id of the latest job when it was drawn (drawn
    again if the worker deferred a job meanwhile, so the ids match what the page saw)."""
    for _attempt in range(5):
        before = _last_jobs()
        page = client.get("/admin/procrastinate/procrastinatejob/periodic/")
        assert page.status_code == 200
        if _last_jobs() == before:
            return page.content.decode(), before
    raise AssertionError("the worker kept deferring jobs while the page was drawn")


def test_every_operator_command_is_a_periodic_job_with_a_schedule():
    assert sorted(PERIODIC_COMMANDS) == sorted(COMMANDS)
    schedules = {name: spec.cron for name, spec in PERIODIC_COMMANDS.items()}
    assert schedules["purge_expired_cache"].split()[1] == "*"  # hourly
    assert schedules["weekly_summaries"].split()[4] == "1"  # Mondays
    assert schedules["fold_rollups"].split()[0] == "*/5"  # every 5 minutes


def test_each_periodic_job_runs_from_the_queue_and_shows_in_the_admin(organization, client, start_worker):
    expired = _expired_cache_entry(organization)
    jobs = {command: _queue(command) for command in COMMANDS}
    worker = start_worker(queues="maintenance,analytics")

    for command, job_id in jobs.items():
        job = wait_until(_finished(job_id), timeout=120, what=f"the {command} job")
        assert job.status == "succeeded", worker.log
        assert f"periodic job {command} done" in worker.log
    assert not CacheEntry.objects.filter(pk=expired.pk).exists()  # the purge ran
    assert AIModel.objects.exists()  # the price sync ran

    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    html, shown = _periodic_page_with_its_last_jobs(client)
    for command, job_id in jobs.items():
        assert f"periodic.{command}" in html
        last = shown[PERIODIC_COMMANDS[command].task_name]
        # The running worker may itself have deferred a newer run of a frequent job (its cron
        # slot fell inside the test); the page shows whichever run is the latest.
        assert last >= job_id and f'/{last}/change/">#{last} ' in html
        if last == job_id:
            assert f"#{job_id} succeeded" in html
    assert "background.retry_stalled_jobs" in html
    # The queues' health: the running worker is listed alive.
    assert 'id="queue-health"' in html and "<td>publishing</td>" in html
    assert "No worker is running" not in html and "<td>yes</td>" in html
    assert "Periodic jobs" in client.get("/admin/procrastinate/procrastinatejob/").content.decode()


def test_a_periodic_job_already_running_is_skipped_not_doubled(organization, start_worker):
    expired = _expired_cache_entry(organization)
    worker = start_worker(queues="maintenance")
    lock = command_lock_name("purge_expired_cache")

    # Another run (here: this test's database session) holds the command's lock.
    with run_exclusively(lock) as acquired:
        assert acquired and is_locked(lock)
        job = wait_until(_finished(_queue("purge_expired_cache")), what="the skipped job")
        assert job.status == "succeeded"
        assert "periodic job purge_expired_cache skipped: already running" in worker.log
        assert CacheEntry.objects.filter(pk=expired.pk).exists()
    assert not is_locked(lock)

    job = wait_until(_finished(_queue("purge_expired_cache")), what="the second job")
    assert job.status == "succeeded"
    assert not CacheEntry.objects.filter(pk=expired.pk).exists()


def test_a_command_run_by_hand_while_the_job_runs_is_skipped(organization):
    expired = _expired_cache_entry(organization)
    holding, release = threading.Event(), threading.Event()

    def hold_lock():
        try:
            with run_exclusively(command_lock_name("purge_expired_cache")):
                holding.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert holding.wait(timeout=30)
        out, err = io.StringIO(), io.StringIO()
        call_command("purge_expired_cache", stdout=out, stderr=err)
        assert "already running elsewhere; this run is skipped" in err.getvalue()
        assert CacheEntry.objects.filter(pk=expired.pk).exists()
    finally:
        release.set()
        holder.join(timeout=30)
    call_command("purge_expired_cache", stdout=io.StringIO(), verbosity=0)
    assert not CacheEntry.objects.filter(pk=expired.pk).exists()


def test_at_most_one_job_of_a_periodic_command_waits_in_the_queue(empty_queue):
    _queue("rollup")
    with pytest.raises(AlreadyEnqueued):
        _queue("rollup")
