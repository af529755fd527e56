"""Fixtures shared by every app's tests: organizations, API keys and authenticated clients."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from config.embedded_postgres import sweep_stale_scratch
from providers import catalogue_cache
from tenancy import rls, services, throttling
from tenancy.choices import APIKeyRole
from tests.factories import OrganizationFactory

# Fixtures of other test packages, available to every test (a worker, a webhook receiver).
pytest_plugins = ["tests.background.fixtures"]


@pytest.fixture(autouse=True)
def rls_bypass_for_test_data(request):
    """Tests build two organizations' rows with factories and services, outside any request: they
    do so in the named bypass. Requests made by a test still start admitting nothing and get
    their organization from their credentials (tenancy.middleware.RowLevelSecurityMiddleware);
    tests of the wall itself switch scope explicitly (tenancy.rls)."""
    uses_db = request.node.get_closest_marker("django_db") or "_django_db_helper" in request.fixturenames
    if not uses_db:
        yield
        return
    request.getfixturevalue("_django_db_helper")
    with rls.rls_bypass(reason="test fixtures and factories"):
        yield


def pytest_sessionfinish(session, exitstatus):
    """In the controller of an xdist run (or a plain run), after the workers are gone: stop the
    server and delete the folder of any test process that died without cleaning up (a worker
    killed mid-run never runs its atexit)."""
    if not hasattr(session.config, "workerinput"):
        sweep_stale_scratch()


def client_for_key(plain_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {plain_key}")
    return client


@pytest.fixture(autouse=True)
def fresh_catalogue_cache():
    """The process's catalogue copy never outlives a test: its rows were rolled back. Nor do
    throttle leases (their counters were rolled back too)."""
    catalogue_cache._shared = None
    throttling._leases.clear()
    yield
    catalogue_cache._shared = None
    throttling._leases.clear()


@pytest.fixture
def at(monkeypatch):
    """``at(moment)`` makes ``timezone.now()`` answer ``moment`` (rows stamp their time, rollups
    and budgets their day, from it)."""

    def travel(moment):
        monkeypatch.setattr(timezone, "now", lambda: moment)

    return travel


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


# End-to-end modules that start subprocesses, live servers or large datasets. The CI's second
# pass (the machine's PostgreSQL) runs with `-m "not heavy"`: these ran in full on the first.
HEAVY_MODULES = {
    "tests/test_api_fuzz.py",
    "tests/test_scale.py",
    "tests/tenancy/test_live_server.py",
    "tests/tenancy/test_admin_walls.py",
    "tests/generations/test_publishing_worker.py",
    "tests/generations/test_otel_clients.py",
    "tests/background/test_periodic_jobs.py",
    "tests/providers/test_key_rotation.py",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid.split("::", 1)[0] in HEAVY_MODULES:
            item.add_marker(pytest.mark.heavy)


@pytest.fixture
def back_to_the_latest_afterwards():
    """For tests of data migrations: whatever state a test migrates to, the database is back at
    the latest migrations afterwards."""
    from tests.migrations_support import migrate_to_latest

    try:
        yield
    finally:
        migrate_to_latest()
