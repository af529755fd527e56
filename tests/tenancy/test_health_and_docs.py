"""Health check, OpenAPI schema and Swagger UI (served from local assets)."""

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_health_answers_200_without_auth():
    response = APIClient().get("/api/v1/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_schema_and_docs_are_served(client):
    schema = client.get("/api/v1/schema/?format=json")
    assert schema.status_code == 200
    assert schema.json()["components"]["securitySchemes"]["ApiKeyAuth"]["name"] == "Authorization"
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn.jsdelivr" not in html


def test_request_id_is_echoed(client):
    response = client.get("/api/v1/health/", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    assert len(client.get("/api/v1/health/")["X-Request-ID"]) == 32


def test_api_root_points_at_schema_docs_and_health():
    body = APIClient().get("/api/v1/").json()
    assert body["schema"].endswith("/api/v1/schema/")
    assert body["docs"].endswith("/api/v1/docs/")
    assert body["health"].endswith("/api/v1/health/")


def test_api_root_lists_every_collection_endpoint_grouped_by_app():
    endpoints = APIClient().get("/api/v1/").json()["endpoints"]
    assert endpoints["styleguides"]["style-guides"].endswith("/api/v1/style-guides/")
    assert endpoints["providers"]["budgets"].endswith("/api/v1/budgets/")
    assert endpoints["generations"]["generations"].endswith("/api/v1/generations/")
    assert endpoints["analytics"]["reports/cost"].endswith("/api/v1/reports/cost/")
    every_url = [url for routes in endpoints.values() for url in routes.values()]
    assert not [url for url in every_url if "(?P" in url or "<" in url], "detail routes are not listed"
