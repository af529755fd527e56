"""Fixtures shared by every app's tests: organizations, API keys and authenticated clients."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from providers import catalogue_cache
from tenancy import services
from tenancy.choices import APIKeyRole
from tests.factories import OrganizationFactory


def client_for_key(plain_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {plain_key}")
    return client


@pytest.fixture(autouse=True)
def fresh_catalogue_cache():
    """The process's catalogue copy never outlives a test: its rows were rolled back."""
    catalogue_cache._shared = None
    yield
    catalogue_cache._shared = None


@pytest.fixture
def organization(db):
    return OrganizationFactory(name="Acme Hotels", slug="acme")


@pytest.fixture
def other_organization(db):
    return OrganizationFactory(name="Globex Health", slug="globex")


@pytest.fixture
def make_api_client(db):
    """``make_api_client(organization, role="editor") -> APIClient`` authenticated by a new key."""

    def make(organization, role: str = APIKeyRole.EDITOR, **key_fields) -> APIClient:
        api_key, plain_key = services.api_key_create(
            organization=organization, name=f"{role} key", role=role, **key_fields
        )
        client = client_for_key(plain_key)
        client.api_key = api_key
        client.plain_key = plain_key
        return client

    return make


@pytest.fixture
def api_client(organization, make_api_client):
    """An editor key of ``organization``."""
    return make_api_client(organization)


@pytest.fixture
def admin_api_client(organization, make_api_client):
    """An admin key of ``organization``."""
    return make_api_client(organization, APIKeyRole.ADMIN)


@pytest.fixture
def viewer_api_client(organization, make_api_client):
    """A read-only key of ``organization``."""
    return make_api_client(organization, APIKeyRole.VIEWER)


@pytest.fixture
def other_api_client(other_organization, make_api_client):
    """An admin key of the other organization: it must never see ``organization``'s rows."""
    return make_api_client(other_organization, APIKeyRole.ADMIN)
