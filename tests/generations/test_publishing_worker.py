"""The publishing queue end to end: a real `manage.py procrastinate worker` subprocess on the test
database delivering to a real HTTP receiver on 127.0.0.1. Time is measured, never slept."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import signal
import threading
import time

import pytest
from django.utils import timezone

from generations.publishing.choices import PostStatus
from generations.publishing.models import ScheduledPost
from tenancy.choices import AuditAction
from tenancy.models import AuditEvent
from tests.background.harness import WORKER_ENV, wait_until
from tests.generations.publishing_factories import SIGNING_SECRET, webhook_account

pytestmark = pytest.mark.django_db(transaction=True)

BASE = float(WORKER_ENV["PUBLISHING_BACKOFF_BASE_SECONDS"])
JITTER = float(WORKER_ENV["PUBLISHING_BACKOFF_JITTER"])
ACCESS_TOKEN = "oauth-access-Worker7777LogCheck0000"


def _post(api_client, account, **fields):
    response = api_client.post(
        "/api/v1/scheduled-posts/", {"account": account.pk, "text": "Hello from Inkwell", **fields}
    )
    assert response.status_code == 201, response.json()
    return ScheduledPost.objects.get(pk=response.json()["id"])


def _finished(post_id, *statuses):
    def check():
        post = ScheduledPost.objects.get(pk=post_id)
        return post if post.status in statuses else None

    return check


def _valid_signature(delivery) -> bool:
    expected = "sha256=" + hmac.new(SIGNING_SECRET.encode(), delivery.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(delivery.headers["X-Inkwell-Signature"], expected)


def test_a_due_post_is_delivered_once_signed_and_published_within_seconds(
    organization, api_client, make_receiver, start_worker
):
    receiver = make_receiver()
    account = webhook_account(organization, receiver.url, secrets={"access_token": ACCESS_TOKEN})
    worker = start_worker()

    started = time.monotonic()
    post = _post(api_client, account)
    post = wait_until(_finished(post.pk, PostStatus.PUBLISHED, PostStatus.FAILED), what="publication")
    elapsed = time.monotonic() - started

    assert post.status == PostStatus.PUBLISHED
    assert elapsed < 5, f"published {elapsed:.1f}s after scheduling"
    assert len(receiver.deliveries) == 1
    delivery = receiver.deliveries[0]
    assert _valid_signature(delivery)
    assert delivery.headers["Idempotency-Key"] == str(post.pk)
    assert delivery.json == {
        "id": post.pk,
        "text": "Hello from Inkwell",
        "account": {"id": account.pk, "platform": "webhook", "handle": account.handle},
        "scheduled_for": post.publish_at.isoformat(),
        "generation": None,
    }
    assert post.external_id == f"ext-{post.pk}"
    assert post.attempts == 1 and post.published_at is not None and post.last_error == ""
    # Every state change is audited: created, publishing, published.
    actions = list(AuditEvent.objects.for_object(post).order_by("id").values_list("action", flat=True))
    assert actions == [AuditAction.CREATE, AuditAction.UPDATE, AuditAction.PUBLISH]
    assert delivery.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert SIGNING_SECRET not in worker.log and ACCESS_TOKEN not in worker.log


def test_a_stopping_worker_finishes_the_delivery_in_hand_then_exits(
    organization, api_client, make_receiver, start_worker
):
    hold = threading.Event()
    receiver = make_receiver(hold=hold)
    account = webhook_account(organization, receiver.url)
    worker = start_worker()

    post = _post(api_client, account)
    wait_until(lambda: receiver.deliveries, what="the delivery to start")
    worker.process.send_signal(signal.SIGTERM)  # Ctrl-C / a deploy: stop taking work
    wait_until(lambda: "Stop requested" in worker.log, what="the worker to hear the stop")
    assert worker.process.poll() is None  # still running: the delivery is in hand
    hold.set()

    assert worker.process.wait(timeout=30) == 0
    post.refresh_from_db()
    assert post.status == PostStatus.PUBLISHED and post.attempts == 1
    assert len(receiver.deliveries) == 1


def test_two_503s_then_200_are_three_attempts_spaced_by_the_backoff(
    organization, api_client, make_receiver, start_worker
):
    receiver = make_receiver(statuses=[503, 503, 200])
    account = webhook_account(organization, receiver.url)
    start_worker()

    post = _post(api_client, account)
    post = wait_until(_finished(post.pk, PostStatus.PUBLISHED, PostStatus.FAILED), what="publication")

    assert post.status == PostStatus.PUBLISHED
    assert post.attempts == 3
    times = [delivery.at for delivery in receiver.deliveries]
    assert len(times) == 3
    first_gap, second_gap = times[1] - times[0], times[2] - times[1]
    # Retry n waits base * 2**(n-1) plus up to JITTER of it (and the worker's pick-up time).
    assert BASE <= first_gap < BASE * (1 + JITTER) + 2
    assert 2 * BASE <= second_gap < 2 * BASE * (1 + JITTER) + 2
    assert [d.headers["X-Inkwell-Attempt"] for d in receiver.deliveries] == ["1", "2", "3"]
    assert {d.headers["Idempotency-Key"] for d in receiver.deliveries} == {str(post.pk)}


def test_a_400_fails_the_post_after_one_attempt_with_the_answer_kept(
    organization, api_client, make_receiver, start_worker
):
    receiver = make_receiver(statuses=[400])
    account = webhook_account(organization, receiver.url)
    start_worker()

    post = _post(api_client, account)
    post = wait_until(_finished(post.pk, PostStatus.PUBLISHED, PostStatus.FAILED), what="failure")

    assert post.status == PostStatus.FAILED
    assert post.attempts == 1
    assert post.last_error == 'HTTP 400: {"error": "status 400"}'
    assert len(receiver.deliveries) == 1


def test_always_503_fails_after_max_attempts_and_stays_visible(
    organization, api_client, make_receiver, start_worker
):
    receiver = make_receiver(statuses=[503])
    account = webhook_account(organization, receiver.url)
    start_worker()

    post = _post(api_client, account, max_attempts=3)
    post = wait_until(_finished(post.pk, PostStatus.FAILED), what="giving up")

    assert post.attempts == 3
    assert len(receiver.deliveries) == 3
    assert post.last_error.startswith("Gave up after 3 attempt(s). Last error: HTTP 503")
    listed = api_client.get("/api/v1/scheduled-posts/", {"status": "failed"}).json()["results"]
    assert [row["id"] for row in listed] == [post.pk]


def test_a_worker_killed_mid_delivery_is_replaced_and_the_post_published_exactly_once(
    organization, api_client, make_receiver, start_worker
):
    hold = threading.Event()
    receiver = make_receiver(hold=hold)
    account = webhook_account(organization, receiver.url)
    first = start_worker()

    post = _post(api_client, account)
    wait_until(lambda: receiver.deliveries, what="the first delivery to arrive")
    first.kill()  # SIGKILL while the receiver holds the request: no answer reaches the worker
    hold.set()
    assert ScheduledPost.objects.get(pk=post.pk).status == PostStatus.PUBLISHING

    second = start_worker()
    post = wait_until(
        _finished(post.pk, PostStatus.PUBLISHED, PostStatus.FAILED), timeout=30, what="recovery"
    )

    assert post.status == PostStatus.PUBLISHED
    assert post.attempts == 2
    assert len(receiver.deliveries) == 2
    first_delivery, second_delivery = receiver.deliveries
    # The same key on both: the receiver knows the second one for a repeat and publishes once.
    assert (
        first_delivery.headers["Idempotency-Key"]
        == second_delivery.headers["Idempotency-Key"]
        == str(post.pk)
    )
    assert [first_delivery.headers["X-Inkwell-Attempt"], second_delivery.headers["X-Inkwell-Attempt"]] == [
        "1",
        "2",
    ]
    assert receiver.published_keys == [str(post.pk)]
    assert AuditEvent.objects.for_object(post).filter(action=AuditAction.PUBLISH).count() == 1
    assert "retrying stalled job" in second.log


def test_a_post_cancelled_before_publish_at_is_never_delivered(
    organization, api_client, make_receiver, start_worker
):
    receiver = make_receiver()
    account = webhook_account(organization, receiver.url)
    start_worker()

    publish_at = timezone.now() + datetime.timedelta(seconds=2)
    post = _post(api_client, account, publish_at=publish_at.isoformat())
    response = api_client.post(f"/api/v1/scheduled-posts/{post.pk}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    # A control post due just after proves the worker was running past the cancelled one's time.
    control = _post(api_client, account, publish_at=(publish_at + datetime.timedelta(seconds=1)).isoformat())
    wait_until(_finished(control.pk, PostStatus.PUBLISHED), what="the control post")

    assert [d.headers["Idempotency-Key"] for d in receiver.deliveries] == [str(control.pk)]
    post.refresh_from_db()
    assert post.status == PostStatus.CANCELLED and post.attempts == 0


def test_two_workers_deliver_each_due_post_once(organization, api_client, make_receiver, start_worker):
    receiver = make_receiver()
    account = webhook_account(organization, receiver.url)
    start_worker()
    start_worker()

    posts = [_post(api_client, account, text=f"Post {n}") for n in range(12)]
    for post in posts:
        wait_until(_finished(post.pk, PostStatus.PUBLISHED, PostStatus.FAILED), what=f"post {post.pk}")

    keys = sorted(d.headers["Idempotency-Key"] for d in receiver.deliveries)
    assert keys == sorted(str(post.pk) for post in posts)
    assert set(ScheduledPost.objects.values_list("status", flat=True)) == {PostStatus.PUBLISHED}
    assert set(ScheduledPost.objects.values_list("attempts", flat=True)) == {1}
