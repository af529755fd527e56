"""Writes of the publishing queue: accounts (secrets encrypted), posts, and each delivery attempt.

Every change of a post's status is audited (the worker acts as ``system``). A post's jobs are
queued in the same transaction as the change that needs them (``background.queue``), and a
delivery runs under the post's advisory lock, so:

- two workers never deliver the same post at once (the second skips);
- a worker killed mid-delivery leaves the post ``publishing`` and its lock released with its
  session; the retried job claims the post again and delivers with the same ``Idempotency-Key``;
- stale jobs (for a post cancelled, published or rescheduled since) find nothing due and stop.
"""

from __future__ import annotations

import datetime
import logging
import random

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from background.locks import lock_until_commit, run_exclusively
from background.queue import defer_in_transaction
from generations.publishing.choices import PostStatus
from generations.publishing.models import ScheduledPost, SocialAccount
from generations.publishing.publishers import AccountSecrets, Delivery, Outcome, publisher_for
from providers.crypto import decrypt_secret, store_secret
from tenancy import services as audit
from tenancy.actors import SYSTEM, Actor
from tenancy.choices import AuditAction
from tenancy.errors import Conflict, DomainError
from tenancy.models import Organization

logger = logging.getLogger(__name__)

PUBLISH_TASK = "generations.publishing.publish_scheduled_post"
MAX_SECRET_LENGTH = 8192
# A post may be scheduled this far in the past (clock skew, a slow client); earlier is a mistake.
PAST_TOLERANCE = datetime.timedelta(minutes=5)
SECRET_FIELDS = ("access_token", "refresh_token", "signing_secret")


class UnsupportedPlatform(DomainError):
    code = "unsupported_platform"


class InvalidPostTransition(Conflict):
    code = "invalid_transition"


# --- Accounts -----------------------------------------------------------------------------------


def secret_clean(name: str, value: str) -> str:
    """A token or secret as stored: stripped, not empty, no whitespace, bounded."""
    if not isinstance(value, str) or not value.strip():
        raise DomainError(f"The {name.replace('_', ' ')} may not be empty.", code="blank", attr=name)
    value = value.strip()
    if len(value) > MAX_SECRET_LENGTH or any(character.isspace() for character in value):
        raise DomainError(
            f"The {name.replace('_', ' ')} must be at most {MAX_SECRET_LENGTH} characters without spaces.",
            attr=name,
        )
    return value


def set_secret(account: SocialAccount, name: str, value: str | None) -> None:
    """Store secret ``name`` (cleaned; None clears it) on the account; only the access token is
    fingerprinted (deliveries are traced by it)."""
    store_secret(
        account,
        f"{name}_encrypted",
        None if value is None else secret_clean(name, value),
        last4_field=f"{name}_last4",
        fingerprint_field="access_token_fingerprint" if name == "access_token" else "",
    )


def account_secrets(*, account: SocialAccount) -> AccountSecrets:
    """The account's secrets in clear: the one place they are decrypted. Call right before a
    delivery; do not keep, log or return the result."""
    values = {}
    for name in SECRET_FIELDS:
        token = getattr(account, f"{name}_encrypted")
        values[name] = decrypt_secret(token) if token else None
    return AccountSecrets(**values)


def platform_errors(account: SocialAccount) -> dict[str, str]:
    """Field → message for what ``account`` lacks to publish on its platform (its publisher's
    rule; none for a platform without one). The admin form asks the same question before saving."""
    publisher = publisher_for(account.platform)
    return publisher.account_errors(account) if publisher else {}


def _check_account(account: SocialAccount) -> None:
    # The model's errors keep their codes (a duplicate handle is ``unique``, as every other
    # duplicate); a platform's own rule replaces the model's message for its field.
    errors: dict[str, list[ValidationError]] = {}
    try:
        account.full_clean()
    except ValidationError as exc:
        errors = dict(exc.error_dict)
    for field, message in platform_errors(account).items():
        errors[field] = [ValidationError(message, code="invalid")]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def social_account_create(
    *,
    organization: Organization,
    actor: Actor = SYSTEM,
    secrets: dict[str, str | None] | None = None,
    **fields,
) -> SocialAccount:
    """Add an account; ``secrets`` (access_token, refresh_token, signing_secret) are encrypted.
    A platform without a publisher may hold accounts (connected ahead of time) but takes no posts."""
    account = SocialAccount(organization=organization, **fields)
    for name, value in (secrets or {}).items():
        set_secret(account, name, value)
    _check_account(account)
    return audit.audited_save(organization=organization, actor=actor, instance=account)


@transaction.atomic
def social_account_update(
    *,
    organization: Organization,
    actor: Actor = SYSTEM,
    account: SocialAccount,
    secrets: dict[str, str | None] | None = None,
    **fields,
) -> SocialAccount:
    """Change an account; a secret given replaces the stored one (None removes it). A change of
    secrets is audited as a rotation, naming the fields only."""
    if "platform" in fields and fields["platform"] != account.platform:
        raise DomainError("The platform of an account cannot change; add another account.", attr="platform")
    before = audit.audit_snapshot(account)
    for name, value in fields.items():
        setattr(account, name, value)
    for name, value in (secrets or {}).items():
        set_secret(account, name, value)
    _check_account(account)
    return audit.audited_save(
        organization=organization,
        actor=actor,
        instance=account,
        before=before,
        action=AuditAction.ROTATE if secrets else None,
    )


# --- Posts --------------------------------------------------------------------------------------


def _same_request(post: ScheduledPost, fields: dict) -> bool:
    return all(getattr(post, name) == value for name, value in fields.items())


def _queue_delivery(post: ScheduledPost, at: datetime.datetime) -> None:
    """Queue the post's delivery job in the current transaction (see the module docstring)."""
    defer_in_transaction(PUBLISH_TASK, schedule_at=at, post_id=post.pk)


def _audit_change(post: ScheduledPost, before: dict, actor: Actor, action: str = AuditAction.UPDATE) -> None:
    audit.audit_record(
        organization=post.organization,
        actor=actor,
        action=action,
        instance=post,
        changes=audit.audit_diff(before, audit.audit_snapshot(post)),
    )


@transaction.atomic
def scheduled_post_create(
    *,
    organization: Organization,
    actor: Actor = SYSTEM,
    account: SocialAccount,
    publish_at: datetime.datetime | None = None,
    text: str = "",
    generation=None,
    max_attempts: int = 5,
    idempotency_key: str | None = None,
) -> tuple[ScheduledPost, bool]:
    """Schedule a post on ``account`` at ``publish_at`` (default now); returns ``(post, created)``.

    Refused (400, nothing written): another tenant's account or generation, a deleted or
    inactive account, a platform with no publisher, no text and no generation, a time in the
    past. Repeating a create with the same ``idempotency_key`` and body returns the first post
    (``created`` False); the same key with another body is a 409.
    """
    now = timezone.now()
    # Left out, it is "now", which a retry of the same request cannot repeat: not compared.
    compared_at = publish_at is not None
    publish_at = publish_at or now
    if account.organization_id != organization.pk or account.is_deleted:
        raise DomainError("No such account.", code="does_not_exist", attr="account")
    if generation is not None and generation.organization_id != organization.pk:
        raise DomainError("No such generation.", code="does_not_exist", attr="generation")
    if publisher_for(account.platform) is None:
        raise UnsupportedPlatform(
            f"Publishing to {account.get_platform_display()} is not supported yet; "
            "only webhook accounts take posts for now.",
            attr="account",
        )
    if not account.is_active:
        raise DomainError("This account is inactive; activate it first.", code="inactive", attr="account")
    if not text and generation is None:
        raise DomainError("Give the post its text or a generation to publish.", code="required", attr="text")
    if generation is not None and not text and not generation.content:
        raise DomainError("That generation has no content to publish.", code="empty", attr="generation")
    if publish_at < now - PAST_TOLERANCE:
        raise DomainError(
            "publish_at is in the past; leave it out to publish now.", code="in_past", attr="publish_at"
        )
    fields = {"account": account, "publish_at": publish_at, "text": text, "generation": generation}
    if idempotency_key:
        # Creators of one key wait for each other until commit, so the look-up below always
        # sees a concurrent winner's post: a race is a replay (200) or a conflict (409), never
        # the constraint's or full_clean's unique error.
        lock_until_commit(f"scheduled-post-key:{organization.pk}:{idempotency_key}")
        existing = ScheduledPost.objects.filter(
            organization=organization, idempotency_key=idempotency_key
        ).first()
        if existing is not None:
            sent = {**fields, "max_attempts": max_attempts}
            if not compared_at:
                del sent["publish_at"]
            if _same_request(existing, sent):
                return existing, False
            raise Conflict(
                f"idempotency_key {idempotency_key!r} was used for post {existing.pk} with another body.",
                code="conflicting_replay",
                attr="idempotency_key",
            )
    post = ScheduledPost(
        organization=organization, max_attempts=max_attempts, next_attempt_at=publish_at, **fields
    )
    if idempotency_key:
        post.idempotency_key = idempotency_key
    audit.audited_save(organization=organization, actor=actor, instance=post)
    _queue_delivery(post, publish_at)
    return post, True


def _locked(post: ScheduledPost) -> ScheduledPost:
    return ScheduledPost.objects.select_for_update().select_related("account").get(pk=post.pk)


@transaction.atomic
def scheduled_post_cancel(*, organization: Organization, actor: Actor = SYSTEM, post: ScheduledPost):
    """Cancel a scheduled post (its queued job will find nothing to do). A post being published,
    published or failed cannot be cancelled (409); cancelling a cancelled post changes nothing."""
    locked = _locked(post)
    if locked.status == PostStatus.CANCELLED:
        return locked
    if locked.status not in PostStatus.cancellable():
        raise InvalidPostTransition(f"A {locked.status} post cannot be cancelled.", attr="status")
    before = audit.audit_snapshot(locked)
    locked.status = PostStatus.CANCELLED
    locked.next_attempt_at = None
    locked.save(update_fields=["status", "next_attempt_at", "updated_at"])
    _audit_change(locked, before, actor)
    return locked


@transaction.atomic
def scheduled_post_retry(*, organization: Organization, actor: Actor = SYSTEM, post: ScheduledPost):
    """Schedule a failed or cancelled post again, now, with a fresh set of attempts (409 for
    any other status)."""
    locked = _locked(post)
    if locked.status not in PostStatus.retryable():
        raise InvalidPostTransition(f"A {locked.status} post cannot be retried.", attr="status")
    if publisher_for(locked.account.platform) is None or locked.account.is_deleted:
        raise DomainError("This post's account cannot take posts any more.", attr="account")
    if not locked.account.is_active:  # as a new post on it would be: it could only fail again
        raise DomainError("This account is inactive; activate it first.", code="inactive", attr="account")
    before = audit.audit_snapshot(locked)
    now = timezone.now()
    locked.status = PostStatus.SCHEDULED
    locked.attempts = 0
    locked.next_attempt_at = now
    locked.save(update_fields=["status", "attempts", "next_attempt_at", "updated_at"])
    _audit_change(locked, before, actor)
    _queue_delivery(locked, now)
    return locked


# --- Delivery (the worker) ----------------------------------------------------------------------


def retry_delay_seconds(attempt: int) -> float:
    """Exponential backoff with jitter after failed attempt ``attempt`` (1, 2, …):
    ``base * 2**(attempt-1)`` capped at the maximum, plus up to ``JITTER`` of it at random, so
    posts that failed together do not come back together."""
    delay = min(
        settings.PUBLISHING_BACKOFF_MAX_SECONDS, settings.PUBLISHING_BACKOFF_BASE_SECONDS * 2 ** (attempt - 1)
    )
    return delay * (1 + settings.PUBLISHING_BACKOFF_JITTER * random.random())  # noqa: S311 - jitter, not secrecy


@transaction.atomic
def _claim(post_id: int) -> ScheduledPost | None:
    """Mark a due post ``publishing`` and count the attempt; None when nothing is due."""
    post = ScheduledPost.objects.select_for_update().select_related("account").filter(pk=post_id).first()
    if post is None or post.status not in (PostStatus.SCHEDULED, PostStatus.PUBLISHING):
        return None
    if post.next_attempt_at is not None and post.next_attempt_at > timezone.now():
        return None  # rescheduled since this job was queued: a later job owns it
    # ``publishing`` here means the attempt before died mid-flight (its lock was released with
    # its session): deliver again, with the same Idempotency-Key.
    before = audit.audit_snapshot(post)
    post.status = PostStatus.PUBLISHING
    post.attempts += 1
    post.save(update_fields=["status", "attempts", "updated_at"])
    _audit_change(post, before, SYSTEM)
    return post


def _deliver(post: ScheduledPost) -> Delivery:
    account = post.account
    if account.is_deleted or not account.is_active:
        return Delivery(Outcome.FAIL, error="The account was deleted or deactivated.")
    if account.token_expired:
        return Delivery(
            Outcome.FAIL,
            error=(
                f"The account's OAuth access token expired at {account.token_expires_at.isoformat()}; "
                "reconnect the account with a new token, then retry the post."
            ),
        )
    publisher = publisher_for(account.platform)
    if publisher is None:
        return Delivery(Outcome.FAIL, error=f"No publisher for {account.platform}.")
    try:
        return publisher.publish(post, secrets=account_secrets(account=account), attempt=post.attempts)
    except Exception as exc:  # a bug or an unreadable secret: retried, and visible in last_error
        logger.exception("publisher of %s failed on post %s", account.platform, post.pk)
        return Delivery(Outcome.RETRY, error=f"Internal error while publishing ({type(exc).__name__}).")


@transaction.atomic
def _record(post_id: int, delivery: Delivery) -> ScheduledPost:
    post = ScheduledPost.objects.select_for_update().get(pk=post_id)
    before = audit.audit_snapshot(post)
    now = timezone.now()
    action = AuditAction.UPDATE
    post.last_error = delivery.error
    if delivery.outcome is Outcome.PUBLISHED:
        post.status = PostStatus.PUBLISHED
        post.published_at = now
        post.external_id = delivery.external_id
        post.next_attempt_at = None
        action = AuditAction.PUBLISH
    elif delivery.outcome is Outcome.RETRY and post.attempts < post.max_attempts:
        delay = max(retry_delay_seconds(post.attempts), delivery.retry_after_seconds or 0)
        delay = min(delay, settings.PUBLISHING_BACKOFF_MAX_SECONDS)
        post.status = PostStatus.SCHEDULED
        post.next_attempt_at = now + datetime.timedelta(seconds=delay)
        _queue_delivery(post, post.next_attempt_at)
    else:
        if delivery.outcome is Outcome.RETRY:
            post.last_error = f"Gave up after {post.attempts} attempt(s). Last error: {delivery.error}"
        post.status = PostStatus.FAILED
        post.next_attempt_at = None
    post.save()
    _audit_change(post, before, SYSTEM, action)
    return post


def scheduled_post_publish(*, post_id: int) -> ScheduledPost | None:
    """Make one delivery attempt of a due post (the worker's job). Returns the post after the
    attempt, or None when there was nothing to do (not due, finished, or being delivered by
    another worker). Safe to run any number of times (see the module docstring)."""
    with run_exclusively(f"scheduled-post:{post_id}") as acquired:
        if not acquired:
            return None
        post = _claim(post_id)
        if post is None:
            return None
        # Outside any transaction: no row lock is held while the platform answers.
        delivery = _deliver(post)
        post = _record(post_id, delivery)
        logger.info("post %s attempt %s: %s", post_id, post.attempts, post.status)
        return post


def scheduled_posts_requeue_overdue(*, grace: datetime.timedelta) -> int:
    """Queue a delivery for every post overdue by more than ``grace`` (a job lost with a dropped
    queue, or a publishing attempt whose job was aborted); returns how many. Duplicates are
    harmless: an extra job finds nothing due, or skips while another delivers."""
    cutoff = timezone.now() - grace
    count = 0
    with transaction.atomic():
        for post in ScheduledPost.objects.filter(
            status__in=(PostStatus.SCHEDULED, PostStatus.PUBLISHING), next_attempt_at__lte=cutoff
        ).only("pk"):
            _queue_delivery(post, timezone.now())
            count += 1
    return count
