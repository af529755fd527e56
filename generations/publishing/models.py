"""Social accounts and scheduled posts (app label ``generations``; imported by its models).

Secrets (OAuth access and refresh tokens, the webhook signing secret) are stored exactly like
provider credentials: ciphertext in an ``EncryptedSecretField`` with the key version beside it
(so ``rotate_encryption_key`` finds and rotates them), a fingerprint and last four characters
for people. Only ``generations.publishing.services.account_secret`` decrypts them.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from generations.publishing.choices import Platform, PostStatus
from providers.crypto import EncryptedSecretField
from tenancy.models import SoftDeleteModel, TenantModel, unique_while_alive

MAX_POST_TEXT = 10_000


class SocialAccount(SoftDeleteModel, TenantModel):
    """An organization's account on a platform, where its scheduled posts are published.

    ``webhook`` accounts deliver to ``webhook_url``, signing each body with the signing secret.
    OAuth platforms keep an access token (and a refresh token) that expire at ``token_expires_at``.
    """

    platform = models.CharField(max_length=16, choices=Platform.choices)
    handle = models.CharField(max_length=200)
    display_name = models.CharField(max_length=200, blank=True)
    webhook_url = models.URLField(max_length=2000, blank=True)
    access_token_encrypted = EncryptedSecretField(version_field="access_token_key_version", null=True)
    access_token_key_version = models.CharField(max_length=16, blank=True, editable=False)
    access_token_fingerprint = models.CharField(max_length=64, blank=True, editable=False)
    access_token_last4 = models.CharField(max_length=4, blank=True, editable=False)
    refresh_token_encrypted = EncryptedSecretField(version_field="refresh_token_key_version", null=True)
    refresh_token_key_version = models.CharField(max_length=16, blank=True, editable=False)
    refresh_token_last4 = models.CharField(max_length=4, blank=True, editable=False)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    signing_secret_encrypted = EncryptedSecretField(version_field="signing_secret_key_version", null=True)
    signing_secret_key_version = models.CharField(max_length=16, blank=True, editable=False)
    signing_secret_last4 = models.CharField(max_length=4, blank=True, editable=False)
    is_active = models.BooleanField(default=True)

    audit_secret_fields = ("access_token_encrypted", "refresh_token_encrypted", "signing_secret_encrypted")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            unique_while_alive("organization", "platform", "handle", name="socialaccount_unique_handle"),
            models.CheckConstraint(
                condition=~Q(platform=Platform.WEBHOOK) | ~Q(webhook_url=""),
                name="socialaccount_webhook_has_url",
                violation_error_message="A webhook account needs its URL.",
            ),
        ]
        indexes = [models.Index(fields=["organization", "-created_at"], name="socialaccount_org_created_idx")]

    def __str__(self):
        return f"{self.get_platform_display()} {self.handle}"

    @property
    def token_expired(self) -> bool:
        """Whether the OAuth access token has an expiry that has passed."""
        return self.token_expires_at is not None and self.token_expires_at <= timezone.now()


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


class ScheduledPost(TenantModel):
    """One post to publish on an account at ``publish_at``: a generation's content or its own text.

    The worker moves it through :class:`PostStatus`; ``attempts`` counts deliveries tried,
    ``next_attempt_at`` is when the next one is due, ``last_error`` what the last failure said.
    ``idempotency_key`` is unique forever: a client that repeats a create gets the first post,
    and receivers see it (as ``Idempotency-Key``, the post id) on every delivery of the post.
    Posts are history: they are cancelled, never deleted.
    """

    # PROTECT: a post's account is soft-deleted, never removed under its history.
    account = models.ForeignKey(SocialAccount, on_delete=models.PROTECT, related_name="posts")
    # PROTECT: generations are soft-deleted; a purge of one must decide about its posts first.
    generation = models.ForeignKey(
        "generations.Generation", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    text = models.TextField(blank=True, max_length=MAX_POST_TEXT)
    publish_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=PostStatus.choices, default=PostStatus.SCHEDULED)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=5)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    external_id = models.CharField(max_length=500, blank=True)
    idempotency_key = models.CharField(max_length=200, default=new_idempotency_key)

    class Meta:
        ordering = ["-publish_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"], name="scheduledpost_unique_idempotency_key"
            ),
            models.CheckConstraint(
                condition=Q(generation__isnull=False) | ~Q(text=""),
                name="scheduledpost_has_content",
                violation_error_message="A post needs its text or a generation.",
            ),
            models.CheckConstraint(
                condition=Q(max_attempts__gte=1, max_attempts__lte=20),
                name="scheduledpost_max_attempts_range",
            ),
            models.CheckConstraint(
                condition=~Q(status=PostStatus.PUBLISHED) | Q(published_at__isnull=False),
                name="scheduledpost_published_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-publish_at"], name="scheduledpost_org_publish_idx"),
            models.Index(fields=["status", "next_attempt_at"], name="scheduledpost_due_idx"),
        ]

    def __str__(self):
        return f"Post {self.pk} on {self.account_id and self.account} at {self.publish_at:%Y-%m-%d %H:%M}"

    @property
    def content(self) -> str:
        """What is published: the post's own text, else its generation's content."""
        if self.text:
            return self.text
        return self.generation.content if self.generation_id else ""
