"""FilterSets of the publishing API."""

import django_filters

from generations.publishing.models import ScheduledPost, SocialAccount
from tenancy.api.filters import TenantFilterSet, UTCIsoDateTimeFilter


class SocialAccountFilterSet(TenantFilterSet):
    class Meta:
        model = SocialAccount
        fields = ["platform", "handle", "is_active"]


class ScheduledPostFilterSet(TenantFilterSet):
    """``status``, ``account``, a day (``date``, UTC) or a range (``publish_after`` /
    ``publish_before``, inclusive)."""

    date = django_filters.DateFilter(field_name="publish_at", lookup_expr="date")
    publish_after = UTCIsoDateTimeFilter(field_name="publish_at", lookup_expr="gte")
    publish_before = UTCIsoDateTimeFilter(field_name="publish_at", lookup_expr="lte")

    class Meta:
        model = ScheduledPost
        fields = ["status", "account", "generation", "date", "publish_after", "publish_before"]
