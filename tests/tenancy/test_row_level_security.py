"""PostgreSQL row-level security, the second tenant wall (tenancy/rls.py).

Given two organizations' rows, a query that forgets its organization filter (the ORM's
``all_objects``, raw SQL) still answers only the current organization's rows; in the named
bypass it answers both; with no organization it answers none. The app runs as a role that
cannot skip the policies, every table with an organization has them, maintenance commands
bypass by name, and the migrations go down and up again.
"""

from __future__ import annotations

import datetime

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.utils import ProgrammingError
from django.utils import timezone

from generations.models import CacheEntry
from styleguides.models import StyleGuide
from tenancy import rls
from tests.generations.factories import CacheEntryFactory
from tests.testapp.models import Widget

pytestmark = pytest.mark.django_db


@pytest.fixture
def widgets(organization, other_organization):
    Widget.objects.create(organization=organization, name="acme widget", slug="a")
    Widget.objects.create(organization=other_organization, name="globex widget", slug="g")


def _raw_names():
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM testapp_widget ORDER BY name")
        return [name for (name,) in cursor.fetchall()]


def test_the_app_runs_as_a_role_that_cannot_skip_the_policies():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
        role, superuser, bypassrls = cursor.fetchone()
    assert (role, superuser, bypassrls) == ("inkwell_app", False, False)


def test_every_table_with_an_organization_is_behind_the_wall():
    """Convention: a new tenant table without EnableRowLevelSecurity in its migration fails here."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                   EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = %s)
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
            WHERE c.relkind IN ('r', 'p')
              AND (EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                           AND a.attname = 'organization_id' AND NOT a.attisdropped)
                   OR c.relname = 'tenancy_organization')
            ORDER BY c.relname
            """,
            [rls.POLICY_NAME],
        )
        tables = cursor.fetchall()
    assert len(tables) >= 30
    unwalled = [name for name, enabled, forced, policy in tables if not (enabled and forced and policy)]
    assert unwalled == []


def test_an_unscoped_query_in_an_organizations_context_sees_only_its_rows(
    widgets, organization, other_organization
):
    with rls.rls_organizations([organization.pk]):
        assert sorted(Widget.all_objects.values_list("name", flat=True)) == ["acme widget"]
        assert _raw_names() == ["acme widget"]
        assert Widget.all_objects.filter(organization=other_organization).count() == 0
    with rls.rls_organizations([other_organization.pk]):
        assert _raw_names() == ["globex widget"]
    with rls.rls_bypass(reason="test: both organizations"):
        assert _raw_names() == ["acme widget", "globex widget"]
    with rls.rls_nothing():
        assert _raw_names() == []
        assert Widget.all_objects.count() == 0


def test_writes_into_another_organization_or_global_rows_are_refused(organization, other_organization):
    with rls.rls_organizations([organization.pk]):
        with pytest.raises(ProgrammingError, match="row-level security"), transaction.atomic():
            Widget.objects.create(organization=other_organization, name="planted", slug="planted")
        with pytest.raises(ProgrammingError, match="row-level security"), transaction.atomic():
            StyleGuide.objects.create(organization=None, kind="brand", name="Global", slug="global")
        # Updating another organization's row finds nothing to update.
    with rls.rls_bypass(reason="test: a row of B"):
        theirs = Widget.objects.create(organization=other_organization, name="theirs", slug="t")
    with rls.rls_organizations([organization.pk]):
        assert Widget.all_objects.filter(pk=theirs.pk).update(name="hijacked") == 0
        assert Widget.all_objects.filter(pk=theirs.pk).delete() == 0
    theirs.refresh_from_db()
    assert theirs.name == "theirs"


def test_global_rows_are_readable_by_every_organization(organization):
    with rls.rls_bypass(reason="test: a global guide"):
        StyleGuide.objects.create(organization=None, kind="brand", name="Global", slug="global")
    with rls.rls_organizations([organization.pk]):
        assert list(StyleGuide.objects.values_list("name", flat=True)) == ["Global"]


def test_a_view_that_forgets_the_filter_still_answers_only_the_callers_rows(
    widgets, make_api_client, organization
):
    response = make_api_client(organization).get("/api/v1/unscoped-widget-names/")
    assert response.status_code == 200
    assert response.json() == {"raw": ["acme widget"], "orm": ["acme widget"]}


def test_a_request_restores_the_scope_it_found(widgets, make_api_client, organization):
    client = make_api_client(organization)
    with rls.rls_nothing():
        client.get("/api/v1/unscoped-widget-names/")
        assert rls.current_scope() == rls.NOTHING
        assert _raw_names() == []


def test_requests_without_an_organization_see_no_tenant_row(widgets, client):
    # Health, schema and an anonymous call answer without any tenant row reachable.
    assert client.get("/api/v1/health/").status_code == 200
    assert client.get("/api/v1/unscoped-widget-names/").status_code in (401, 403)


def test_a_scope_is_written_before_the_next_statement_and_only_when_it_changes(
    widgets, organization, monkeypatch
):
    written = []
    write = rls._write_gucs
    monkeypatch.setattr(rls, "_write_gucs", lambda raw, scope: (written.append(scope), write(raw, scope)))
    with rls.rls_nothing():
        _raw_names()
        written.clear()
        # Given a switch with no statement in it, when it ends, then nothing was written.
        with rls.rls_organizations([organization.pk]):
            pass
        assert written == []
        # Given statements under an organization, then the scope was written once, before the first.
        with rls.rls_organizations([organization.pk]):
            assert _raw_names() == ["acme widget"]
            assert _raw_names() == ["acme widget"]
        assert len(written) == 1
        # When the same organization comes again (the next request of its connection), nothing is
        # written; the statement after it is back to no tenant row.
        with rls.rls_organizations([organization.pk]):
            assert _raw_names() == ["acme widget"]
        assert len(written) == 1
        assert _raw_names() == []
        assert written[1:] == [rls.NOTHING]


def test_a_savepoint_rollback_keeps_the_scope(widgets, organization):
    with rls.rls_organizations([organization.pk]):
        try:
            with transaction.atomic():
                _raw_names()
                raise ValueError
        except ValueError:
            pass
        assert _raw_names() == ["acme widget"]


def test_maintenance_commands_bypass_by_name(organization, other_organization):
    expired = timezone.now() - datetime.timedelta(days=2)
    CacheEntryFactory(organization=organization, key="a", expires_at=expired)
    CacheEntryFactory(organization=other_organization, key="b", expires_at=expired)
    with rls.rls_nothing():
        # What a cron job's connection starts with: nothing, until the command says why.
        assert CacheEntry.objects.count() == 0
        call_command("purge_expired_cache", "--older-than-hours", "0")
    assert CacheEntry.objects.count() == 0


# Outside a test transaction, as `manage.py migrate` runs: the full-text index is built
# CONCURRENTLY, which PostgreSQL refuses inside a transaction.
@pytest.mark.django_db(transaction=True)
def test_migrations_go_down_past_row_level_security_and_up_again():
    def walled(table):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE relname = %s", [table]
            )
            return cursor.fetchone()[0]

    assert walled("testapp_widget") and walled("tenancy_membership")
    call_command("migrate", "tenancy", "0001", verbosity=0)
    assert not walled("testapp_widget") and not walled("tenancy_membership")
    call_command("migrate", verbosity=0)
    assert walled("testapp_widget") and walled("tenancy_membership")
