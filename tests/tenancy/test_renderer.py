"""The API's JSON renderer (orjson) writes what DRF's wrote: the same bytes for what the API
answers with, DRF's own path for what orjson refuses (an integer past 64 bits) or an indent."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import ErrorDetail
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from tenancy.api.renderers import FastJSONRenderer

PLUS_TWO = datetime.timezone(datetime.timedelta(hours=2))
PAYLOADS = {
    "datetimes": {
        "utc": datetime.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=datetime.UTC),
        "offset": datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=PLUS_TWO),
        "date": datetime.date(2026, 1, 2),
        "time": datetime.time(1, 2, 3, 4000),
        "duration": datetime.timedelta(seconds=3),
    },
    "scalars": {
        "decimal": Decimal("1.50"),
        "uuid": uuid.UUID(int=7),
        "lazy": gettext_lazy("Lazy"),
        "no": None,
    },
    "text": {"accents": "é ☃ 漢字", "separators": "a\u2028b\u2029c", "quote": '"\\/', "control": "\x01\t"},
    "keys that are not strings": {1: "one", 2.5: "two and a half", None: "none"},
    "DRF's containers": ReturnDict(
        {"errors": ReturnList([{"detail": ErrorDetail("bad", code="invalid")}], serializer=None)},
        serializer=None,
    ),
    "numbers": {"int": -(2**63), "float": 0.1, "third": 1 / 3, "big": 12345678.9, "bool": False},
    "an integer past 64 bits": {"n": 2**70, "m": [-(2**65)]},
}


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_the_bytes_are_drfs(payload):
    assert FastJSONRenderer().render(payload) == JSONRenderer().render(payload)


def test_an_indent_asked_for_is_drfs_indent():
    payload = {"a": [1, {"b": "c"}]}
    media_type = "application/json; indent=2"
    assert FastJSONRenderer().render(payload, media_type) == JSONRenderer().render(payload, media_type)
    assert b"\n  " in FastJSONRenderer().render(payload, media_type)


def test_no_data_is_an_empty_body():
    assert FastJSONRenderer().render(None) == b""


def test_metadata_with_an_integer_past_64_bits_round_trips_through_the_api(api_client):
    metadata = {"order": 2**70, "nested": {"negative": -(2**66)}, "small": 3}
    created = api_client.post(
        "/api/v1/generations/", {"request_id": "huge-int", "model": "gpt-4o", "metadata": metadata}
    )
    assert created.status_code == 201, created.content
    assert created.json()["metadata"] == metadata
    fetched = api_client.get(f"/api/v1/generations/{created.json()['id']}/")
    assert fetched.status_code == 200
    assert fetched.json()["metadata"] == metadata
    assert b"1180591620717411303424" in fetched.content  # 2**70, written whole


def test_the_api_answers_with_the_fast_renderer(api_client):
    response = api_client.get("/api/v1/generations/")
    assert response.status_code == 200
    assert isinstance(response.accepted_renderer, FastJSONRenderer)
    assert response["Content-Type"] == "application/json"
