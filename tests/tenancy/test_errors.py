"""Bad requests get one JSON error format: 400, 404, 405, 413, 415."""

import json

import pytest

from generations.models import Campaign, Generation
from tests.testapp.models import Widget

pytestmark = pytest.mark.django_db
URL = "/api/v1/widgets/"


def test_malformed_json_is_400(api_client):
    response = api_client.generic("POST", URL, '{"name": "x",', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "parse_error"
    assert not Widget.all_objects.exists()


def test_two_mib_body_is_413(api_client):
    body = json.dumps({"name": "x" * (2 * 1024 * 1024), "slug": "big"})
    response = api_client.generic("POST", URL, body, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {
        "type": "client_error",
        "errors": [
            {"code": "request_too_large", "detail": response.json()["errors"][0]["detail"], "attr": None}
        ],
    }
    assert not Widget.all_objects.exists()


def test_body_limit_is_configurable(api_client, settings):
    settings.API_MAX_BODY_BYTES = 100
    response = api_client.post(URL, {"name": "x" * 200, "slug": "x"})
    assert response.status_code == 413


def test_wrong_content_type_is_415(api_client):
    response = api_client.generic(
        "POST", URL, "name=x&slug=x", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    assert response.json()["errors"][0]["code"] == "unsupported_media_type"
    assert not Widget.all_objects.exists()


def test_validation_error_names_the_field(api_client):
    response = api_client.post(URL, {"slug": "not a slug!"})
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "validation_error"
    assert {e["attr"] for e in body["errors"]} == {"name", "slug"}
    assert not Widget.all_objects.exists()


def test_method_not_allowed_is_405(api_client):
    response = api_client.put("/api/v1/health/", {})
    assert response.status_code == 405
    assert response.json()["errors"][0]["code"] == "method_not_allowed"


def test_unknown_api_path_is_json_404(api_client):
    response = api_client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"


def test_unknown_api_path_is_json_404_with_debug_on_too(api_client, settings):
    settings.DEBUG = True
    response = api_client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["errors"][0]["code"] == "not_found"


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/campaigns"),
        ("post", "/api/v1/generations"),
        ("patch", "/api/v1/campaigns/{pk}"),
        ("put", "/api/v1/cache/some-key"),
        ("delete", "/api/v1/campaigns/{pk}"),
    ],
)
def test_a_write_without_the_trailing_slash_is_a_json_404_naming_the_url(
    api_client, organization, settings, debug, method, path
):
    """Not a redirect (a client following a 301 turns the POST into a GET: the write lost) nor,
    with DEBUG on, Django's RuntimeError (a 500)."""
    settings.DEBUG = debug
    campaign = Campaign.objects.create(organization=organization, name="Spring")

    path = path.format(pk=campaign.pk)
    response = getattr(api_client, method)(path, {"name": "x"}, format="json")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["errors"] == [
        {"code": "not_found", "detail": f"No such endpoint. API URLs end with a slash: {path}/", "attr": None}
    ]
    assert list(Campaign.all_objects.values_list("pk", "name", "deleted_at")) == [
        (campaign.pk, "Spring", None)
    ]
    assert Generation.all_objects.count() == 0


def test_a_read_without_the_trailing_slash_is_still_redirected(api_client):
    response = api_client.get("/api/v1/campaigns?status=active")

    assert response.status_code == 301
    assert response["Location"] == "/api/v1/campaigns/?status=active"
