"""Every date and moment a body sends lies in the API's window (1970-01-01 … 2999-12-31), as the
filters' and reports' do: outside it, a clear 400 ``out_of_bounds`` naming the field, and
nothing written (``tenancy.api.fields.install_bounded_dates``)."""

from __future__ import annotations

import datetime

import pytest
from rest_framework import serializers

from analytics.models import ProviderCall
from generations.models import Campaign, Generation
from generations.publishing.models import ScheduledPost
from tests.generations.publishing_factories import webhook_account

pytestmark = pytest.mark.django_db

GENERATIONS = "/api/v1/generations/"
GENERATION = {"request_id": "r", "provider": "openai", "model": "gpt-4o", "status": "success"}
CALL = {
    "request_id": "r",
    "provider": "openai",
    "model": "gpt-4o",
    "endpoint": "/v1/chat/completions",
    "status_code": 200,
}


@pytest.mark.parametrize("field", [serializers.DateField(), serializers.DateTimeField()])
@pytest.mark.parametrize("value", ["0001-01-01", "1969-12-31", "3000-01-01", "9999-12-31"])
def test_a_date_outside_the_window_is_refused_by_every_date_field(field, value):
    if isinstance(field, serializers.DateTimeField):
        value = f"{value}T12:00:00Z"
    with pytest.raises(serializers.ValidationError) as refused:
        field.to_internal_value(value)
    assert refused.value.detail[0].code == "out_of_bounds"
    assert "between 1970-01-01 and 2999-12-31" in str(refused.value.detail[0])


@pytest.mark.parametrize("value", ["1970-01-01", "2999-12-31"])
def test_the_window_includes_its_ends(value):
    assert serializers.DateField().to_internal_value(value) == datetime.date.fromisoformat(value)
    assert serializers.DateTimeField().to_internal_value(f"{value}T12:00:00Z").year == int(value[:4])


@pytest.mark.parametrize(
    ("url", "payload", "attr", "model"),
    [
        (
            "/api/v1/generations/",
            {**GENERATION, "occurred_at": "0001-01-01T00:00:00Z"},
            "occurred_at",
            Generation,
        ),
        (
            "/api/v1/generations/",
            {**GENERATION, "occurred_at": "1969-12-31T23:59:59Z"},
            "occurred_at",
            Generation,
        ),
        (
            "/api/v1/generations/",
            {**GENERATION, "completed_at": "9999-12-31T00:00:00Z"},
            "completed_at",
            Generation,
        ),
        ("/api/v1/usage/", {**CALL, "occurred_at": "0001-01-01T00:30:00+01:00"}, "occurred_at", ProviderCall),
        ("/api/v1/usage/", {**CALL, "occurred_at": "1900-01-01T00:00:00Z"}, "occurred_at", ProviderCall),
        ("/api/v1/campaigns/", {"name": "Far", "starts_on": "0001-01-01"}, "starts_on", Campaign),
        ("/api/v1/campaigns/", {"name": "Far", "ends_on": "9999-12-31"}, "ends_on", Campaign),
    ],
)
def test_a_body_with_a_date_outside_the_window_is_a_400_and_writes_nothing(
    api_client, url, payload, attr, model
):
    response = api_client.post(url, payload, format="json")

    assert response.status_code == 400, response.content
    [error] = response.json()["errors"]
    assert (error["attr"], error["code"]) == (attr, "out_of_bounds")
    assert not model._base_manager.exists()


def test_a_post_scheduled_for_year_9999_is_a_400_and_queues_nothing(api_client, organization):
    account = webhook_account(organization, "https://hooks.example.com/in")
    response = api_client.post(
        "/api/v1/scheduled-posts/",
        {"account": account.pk, "text": "Hi", "publish_at": "9999-12-31T00:00:00Z"},
        format="json",
    )

    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["attr"] == "publish_at"
    assert not ScheduledPost.objects.exists()
