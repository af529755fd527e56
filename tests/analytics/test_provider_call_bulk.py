"""``services.provider_call_bulk_record``: provider calls in bulk (what the integration adapters
use for embeddings) follow ``provider_call_record``'s rules, all or nothing, naming the item."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from analytics import services
from analytics.models import ProviderCall, ProviderCallDailyRollup
from tenancy.errors import DomainError

pytestmark = pytest.mark.django_db


def values(request_id: str, **changes):
    return {
        "request_id": request_id,
        "endpoint": "embeddings",
        "provider_name": "openai",
        "model_name": "text-embedding-3-small",
        "input_tokens": 100,
        "success": True,
        **changes,
    }


def test_a_batch_is_recorded_once_and_counted_in_the_rollup(organization):
    items = [values("a"), values("b", user_ref="reader-1")]

    first = services.provider_call_bulk_record(
        organization=organization, items=items, fingerprints=["1", "2"]
    )
    again = services.provider_call_bulk_record(
        organization=organization, items=items, fingerprints=["1", "2"]
    )

    assert [result.created for result in first] == [True, True]
    assert [result.created for result in again] == [False, False]
    assert [result.instance.pk for result in again] == [result.instance.pk for result in first]
    assert ProviderCall.objects.filter(organization=organization).count() == 2
    rollups = ProviderCallDailyRollup.objects.filter(organization=organization)
    assert sum(rollups.values_list("requests", flat=True)) == 2


@pytest.mark.parametrize(
    ("item", "fingerprint", "attr"),
    [
        (values("b", occurred_at=timezone.now() + datetime.timedelta(days=3)), "2", "items.1.occurred_at"),
        (values("a", input_tokens=5), "other body", "items.1.request_id"),
    ],
    ids=["in the future", "conflicting replay"],
)
def test_a_refused_item_is_named_and_nothing_is_written(organization, item, fingerprint, attr):
    services.provider_call_bulk_record(organization=organization, items=[values("a")], fingerprints=["1"])

    with pytest.raises(DomainError) as refused:
        services.provider_call_bulk_record(
            organization=organization, items=[values("c"), item], fingerprints=["3", fingerprint]
        )

    assert refused.value.attr == attr
    assert refused.value.detail.startswith("Item 1: ")
    assert list(ProviderCall.objects.values_list("request_id", flat=True)) == ["a"]
