"""Every statement of an API request is capped at ``API_STATEMENT_TIMEOUT_SECONDS``: PostgreSQL
cancels one that runs longer and the API answers 503 ``query_timeout``, nothing written; the cap
is written with the row scope and lifted outside requests.

Outside a test transaction (``transaction=True``), as a request runs in production: a cancelled
statement inside the test's own transaction would abort it."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection, transaction
from django.test import override_settings

from generations.models import Generation
from tenancy import rls
from tests.tenancy.test_row_level_security import _record_writes

pytestmark = pytest.mark.django_db(transaction=True)


def _client(make_api_client, organization):
    """An editor's client that returns the 503 instead of raising: a 5xx is reported to Django's
    ``got_request_exception`` (error monitoring sees it), which the test client re-raises."""
    client = make_api_client(organization)
    client.raise_request_exception = False
    return client


def _session_cap() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return cursor.fetchone()[0]


@override_settings(API_STATEMENT_TIMEOUT_SECONDS=7.5)
def test_an_api_requests_statements_run_under_the_cap_and_later_code_without_it(
    organization, make_api_client
):
    client = make_api_client(organization)

    response = client.get("/api/v1/statement-timeout/")

    assert response.status_code == 200, response.content
    assert response.json() == {"statement_timeout": "7500ms"}
    # Code outside a request (a command, a fixture) on the same connection: no cap.
    with rls.rls_nothing():
        assert _session_cap() == "0"


@override_settings(API_STATEMENT_TIMEOUT_SECONDS=0.2)
def test_a_statement_past_the_cap_is_cancelled_and_answered_503_naming_the_cap(organization, make_api_client):
    client = _client(make_api_client, organization)

    response = client.get("/api/v1/slow-statement/")  # a statement of 30 s

    assert response.status_code == 503, response.content
    assert "Retry-After" not in response  # the same question would run as long again
    [error] = response.json()["errors"]
    assert error["code"] == "query_timeout"
    assert "0.2 s" in error["detail"]
    # The connection serves the next request as usual.
    assert client.get("/api/v1/statement-timeout/").json() == {"statement_timeout": "200ms"}


@override_settings(API_STATEMENT_TIMEOUT_SECONDS=0)
def test_a_cap_of_zero_means_none(organization, make_api_client):
    client = make_api_client(organization)

    assert client.get("/api/v1/statement-timeout/").json() == {"statement_timeout": "0"}


def test_a_write_cut_by_the_cap_writes_nothing(organization, make_api_client):
    client = _client(make_api_client, organization)
    items = [
        {"request_id": f"capped-{n}", "content": "word " * 2000, "status": "success", "input_tokens": 5}
        for n in range(200)
    ]

    # One millisecond: the bulk's INSERT of 200 rows (or an earlier statement) runs past it.
    with override_settings(API_STATEMENT_TIMEOUT_SECONDS=0.001):
        response = client.post("/api/v1/generations/bulk/", {"items": items}, format="json")

    assert response.status_code == 503, response.content
    assert response.json()["errors"][0]["code"] == "query_timeout"
    with rls.rls_bypass(reason="test: count the rows"):
        assert not Generation.all_objects.filter(request_id__startswith="capped-").exists()


def test_the_cap_costs_a_connections_next_requests_no_statement(organization, make_api_client, monkeypatch):
    """Written with the row scope, in its statement: once the session holds the organization and
    the cap, the next requests of that organization on the connection write nothing."""
    client = make_api_client(organization)
    assert client.get("/api/v1/statement-timeout/").status_code == 200
    written = _record_writes(monkeypatch)

    for _ in range(3):
        assert client.get("/api/v1/statement-timeout/").json() == {"statement_timeout": "20s"}

    assert written == []


def _raw_session_cap() -> str:
    """The session's cap read by psycopg directly: no hook of Django's writes a wanted setting
    before it, so it shows what the session holds now."""
    return connection.connection.execute("SHOW statement_timeout").fetchone()[0]


def test_inside_a_transaction_the_cap_is_written_at_once_and_lifted_at_the_blocks_end():
    """In a transaction a switch is written when made (a server-side cursor's FETCHes pass no
    hook), both ways; a statement cancelled in a savepoint leaves the transaction usable."""
    with transaction.atomic(), rls.rls_nothing():
        assert _raw_session_cap() == "0"
        with rls.statement_timeout(150):
            assert _raw_session_cap() == "150ms"
            with pytest.raises(OperationalError), transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT pg_sleep(30)")
            assert _session_cap() == "150ms"  # the savepoint's rollback kept the cap set before it
        assert _raw_session_cap() == "0"
    assert _session_cap() == "0"


@override_settings(API_STATEMENT_TIMEOUT_SECONDS=7.5, ADMIN_STATEMENT_TIMEOUT_SECONDS=12)
def test_an_admin_pages_statements_run_under_the_admins_cap_and_other_pages_under_none(admin_owner_client):
    assert admin_owner_client.get("/admin/test-statement-timeout/").json() == {"statement_timeout": "12s"}
    assert admin_owner_client.get("/plain/statement-timeout/").json() == {"statement_timeout": "0"}


@override_settings(ADMIN_STATEMENT_TIMEOUT_SECONDS=0.2)
def test_an_admin_statement_past_the_cap_is_a_503_page_naming_it(admin_owner_client):
    response = admin_owner_client.get("/admin/test-slow-statement/?q=terrace+breakfast")

    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "ran longer than 0.2 s" in page
    assert 'href="/admin/test-slow-statement/"' in page  # the page again, without its search
    # The admin goes on serving the staff user on the same connection.
    assert admin_owner_client.get("/admin/").status_code == 200
    assert admin_owner_client.get("/admin/test-statement-timeout/").json() == {"statement_timeout": "200ms"}
