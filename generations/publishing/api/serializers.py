"""Serializers of the publishing API: shapes and field rules only.

Tokens and the signing secret are write-only: answers show their last four characters at most.
"""

from __future__ import annotations

from rest_framework import serializers

from generations.models import Generation
from generations.publishing.choices import Platform
from generations.publishing.models import MAX_POST_TEXT, ScheduledPost, SocialAccount
from generations.publishing.services import MAX_SECRET_LENGTH, SECRET_FIELDS
from tenancy.api.fields import TenantPrimaryKeyRelatedField
from tenancy.api.strict import CreateOnlyFieldsMixin


def _secret_field(help_text: str) -> serializers.CharField:
    return serializers.CharField(
        write_only=True,
        required=False,
        allow_null=True,
        max_length=MAX_SECRET_LENGTH,
        style={"input_type": "password"},
        help_text=f"{help_text} Write-only: never returned; null removes it.",
    )


class SocialAccountSerializer(CreateOnlyFieldsMixin, serializers.ModelSerializer):
    """An account on a platform. ``platform`` is fixed once created."""

    platform = serializers.ChoiceField(choices=Platform.choices)
    access_token = _secret_field("The OAuth access token.")
    refresh_token = _secret_field("The OAuth refresh token.")
    signing_secret = _secret_field("Webhook accounts: the key of the X-Inkwell-Signature HMAC.")

    class Meta:
        model = SocialAccount
        fields = [
            "id",
            "platform",
            "handle",
            "display_name",
            "webhook_url",
            "access_token",
            "refresh_token",
            "signing_secret",
            "token_expires_at",
            "access_token_last4",
            "refresh_token_last4",
            "signing_secret_last4",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "access_token_last4",
            "refresh_token_last4",
            "signing_secret_last4",
            "created_at",
            "updated_at",
        ]
        # Uniqueness is checked by the service (full_clean), scoped to the caller's organization.
        create_only_fields = ["platform"]
        validators = []

    def split(self) -> tuple[dict, dict]:
        """``(fields, secrets)`` of the validated data, for the services."""
        data = dict(self.validated_data)
        secrets = {name: data.pop(name) for name in SECRET_FIELDS if name in data}
        return data, secrets


class ScheduledPostSerializer(serializers.ModelSerializer):
    """A post on one of the caller's accounts, with its own ``text`` or a ``generation``'s
    content, at ``publish_at`` (default now)."""

    account = TenantPrimaryKeyRelatedField(queryset=SocialAccount.objects.all())
    generation = TenantPrimaryKeyRelatedField(
        queryset=Generation.objects.all(), required=False, allow_null=True
    )
    text = serializers.CharField(required=False, allow_blank=True, max_length=MAX_POST_TEXT, default="")
    publish_at = serializers.DateTimeField(required=False, allow_null=True)
    max_attempts = serializers.IntegerField(required=False, min_value=1, max_value=20, default=5)
    idempotency_key = serializers.CharField(required=False, max_length=200, allow_blank=False)

    class Meta:
        model = ScheduledPost
        fields = [
            "id",
            "account",
            "generation",
            "text",
            "publish_at",
            "status",
            "attempts",
            "max_attempts",
            "next_attempt_at",
            "last_error",
            "published_at",
            "external_id",
            "idempotency_key",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "status",
            "attempts",
            "next_attempt_at",
            "last_error",
            "published_at",
            "external_id",
            "created_at",
            "updated_at",
        ]
        validators = []
