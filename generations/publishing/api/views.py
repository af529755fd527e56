"""Viewsets of the publishing API: authenticate, scope, parse, call a service, respond."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from generations.publishing import services
from generations.publishing.api.filters import ScheduledPostFilterSet, SocialAccountFilterSet
from generations.publishing.api.serializers import ScheduledPostSerializer, SocialAccountSerializer
from generations.publishing.models import ScheduledPost, SocialAccount
from tenancy.api.viewsets import RestoreMixin, TenantModelViewSet
from tenancy.choices import Role


class SocialAccountViewSet(RestoreMixin, TenantModelViewSet):
    """The organization's social accounts. Tokens and signing secrets are write-only; admins write."""

    queryset = SocialAccount.objects.all()
    serializer_class = SocialAccountSerializer
    filterset_class = SocialAccountFilterSet
    search_fields = ["handle", "display_name"]
    write_role = Role.ADMIN

    def perform_create(self, serializer):
        fields, secrets = serializer.split()
        serializer.instance = services.social_account_create(
            organization=self.organization, actor=self.actor, secrets=secrets, **fields
        )

    def perform_update(self, serializer):
        fields, secrets = serializer.split()
        services.social_account_update(
            organization=self.organization,
            actor=self.actor,
            account=serializer.instance,
            secrets=secrets,
            **fields,
        )


class ScheduledPostViewSet(TenantModelViewSet):
    """The publishing queue: schedule, list, cancel and retry posts. Posts are history: they are
    cancelled, not edited or deleted."""

    queryset = ScheduledPost.objects.all()
    serializer_class = ScheduledPostSerializer
    filterset_class = ScheduledPostFilterSet
    search_fields = ["text", "external_id", "idempotency_key"]
    http_method_names = ["get", "post", "head", "options"]

    def create(self, request, *args, **kwargs):
        """Schedule a post: 201, or 200 with the first post when ``idempotency_key`` repeats."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        post, created = services.scheduled_post_create(
            organization=self.organization,
            actor=self.actor,
            account=data.pop("account"),
            publish_at=data.pop("publish_at", None),
            **data,
        )
        return Response(
            self.get_serializer(post).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    @extend_schema(request=None, responses=ScheduledPostSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel a scheduled post before it is published (409 once it is being published)."""
        return self.post_moved_by(services.scheduled_post_cancel)

    @extend_schema(request=None, responses=ScheduledPostSerializer)
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Schedule a failed or cancelled post again, now, with fresh attempts."""
        return self.post_moved_by(services.scheduled_post_retry)

    def post_moved_by(self, service) -> Response:
        """The post in the URL after ``service`` (a state change of the publishing services)."""
        post = self.call_service(service, post=self.get_object())
        return Response(self.get_serializer(post).data)
