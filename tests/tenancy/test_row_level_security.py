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
from django.db.utils import DatabaseError, ProgrammingError
from django.utils import timezone
from psycopg import sql

from generations.models import CacheEntry
from styleguides.models import StyleGuide
from tenancy import rls
from tests.concurrency import second_connection
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


ACME = ["acme 1", "acme 2", "acme 3"]
GLOBEX = ["globex 1", "globex 2", "globex 3"]
COPY_NAMES = "COPY (SELECT name FROM testapp_widget ORDER BY name) TO STDOUT"


@pytest.fixture
def interleaved(organization, other_organization):
    """Three widgets of each organization stored alternately, so a scan that has passed A's first
    row and goes on under B's scope meets B's rows next."""
    for number in (1, 2, 3):
        Widget.objects.create(organization=organization, name=f"acme {number}", slug=f"a{number}")
        Widget.objects.create(organization=other_organization, name=f"globex {number}", slug=f"g{number}")


def _copied_names(cursor):
    with cursor.copy(COPY_NAMES) as copy:
        return [name for (name,) in copy.rows()]


def _create_names_function(cursor):
    """A session-private function that reads the widgets (as its caller: the policies apply)."""
    cursor.execute(
        "CREATE OR REPLACE FUNCTION pg_temp.widget_names() RETURNS SETOF text LANGUAGE sql "
        "AS 'SELECT name FROM testapp_widget ORDER BY name'"
    )


def _names_by_procedure(cursor):
    # A procedure call goes through psycopg's cursor, not Django's execute hook.
    cursor.callproc(sql.Identifier("pg_temp", "widget_names"))
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


def _record_writes(monkeypatch) -> list:
    """The scopes written into the session from now on (the writes still happen)."""
    written = []
    write = rls._write_gucs
    monkeypatch.setattr(
        rls, "_write_gucs", lambda raw, scope, cap: (written.append(scope), write(raw, scope, cap))
    )
    return written


# Outside a transaction, as a request runs: there a switch is written lazily.
@pytest.mark.django_db(transaction=True)
def test_a_scope_is_written_before_the_next_statement_and_only_when_it_changes(
    widgets, organization, monkeypatch
):
    written = _record_writes(monkeypatch)
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


def test_inside_a_transaction_a_switch_is_written_at_once_both_ways(widgets, organization, monkeypatch):
    written = _record_writes(monkeypatch)
    organization_scope = rls.RowScope(organization_ids=(organization.pk,))
    with rls.rls_nothing():
        assert _raw_names() == []
        written.clear()
        with rls.rls_organizations([organization.pk]):
            assert written == [organization_scope]
        assert written == [organization_scope, rls.NOTHING]
        assert _raw_names() == []
        assert len(written) == 2


def test_bypasses_for_other_reasons_need_no_second_write(widgets, monkeypatch):
    # Given the session in the fixtures' bypass, when another bypass runs statements, then the
    # session is not written again; the reason of the scope in force stays readable.
    written = _record_writes(monkeypatch)
    assert _raw_names() == ["acme widget", "globex widget"]
    with rls.rls_bypass(reason="test: another bypass"):
        assert _raw_names() == ["acme widget", "globex widget"]
        assert rls.current_scope().bypass_reason == "test: another bypass"
    assert written == []


def test_an_iterator_open_across_an_inner_scope_reads_only_its_organizations_rows(
    interleaved, organization, other_organization
):
    # Given a server-side cursor opened for A in a transaction, which evaluates the policy as
    # its rows are fetched (no ORDER BY: a sort would read every row at the first fetch)
    with rls.rls_organizations([organization.pk]):
        names = Widget.all_objects.order_by().values_list("name", flat=True).iterator(chunk_size=1)
        first = next(names)
        # when a scope for B runs a statement and ends
        with rls.rls_organizations([other_organization.pk]):
            assert Widget.all_objects.count() == 3
        # then the cursor's next fetches run under A: A's rows only.
        assert sorted([first, *names]) == ACME


def test_a_copy_or_procedure_after_an_inner_scope_runs_under_the_outer_scope(
    interleaved, organization, other_organization
):
    with rls.rls_organizations([organization.pk]), connection.cursor() as cursor:
        _create_names_function(cursor)
        with rls.rls_organizations([other_organization.pk]):
            assert Widget.all_objects.count() == 3
        assert _copied_names(cursor) == ACME
        with rls.rls_organizations([other_organization.pk]):
            assert Widget.all_objects.count() == 3
        assert _names_by_procedure(cursor) == ACME


def test_one_open_cursor_follows_every_switch_of_scope(interleaved, organization, other_organization):
    def names(cursor):
        cursor.execute("SELECT name FROM testapp_widget ORDER BY name")
        return [name for (name,) in cursor.fetchall()]

    with rls.rls_organizations([organization.pk]), connection.cursor() as cursor:
        assert names(cursor) == ACME
        with rls.rls_organizations([other_organization.pk]):
            # A COPY first thing after the switch, then statements through Django's hook.
            assert _copied_names(cursor) == GLOBEX
            assert names(cursor) == GLOBEX
        assert names(cursor) == ACME
        with rls.rls_nothing():
            assert names(cursor) == []
        assert _copied_names(cursor) == ACME


# Outside a transaction, where switches are written lazily: COPY and procedure calls, which
# Django's execute hook does not see, still run under the scope the code is in.
@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_copy_or_procedure_runs_under_the_scope_the_code_is_in(
    interleaved, organization, other_organization
):
    with rls.rls_organizations([organization.pk]), connection.cursor() as cursor:
        _create_names_function(cursor)
        assert _copied_names(cursor) == ACME
        with rls.rls_organizations([other_organization.pk]):
            assert _copied_names(cursor) == GLOBEX
            assert _names_by_procedure(cursor) == GLOBEX
        assert _copied_names(cursor) == ACME
        with rls.rls_organizations([other_organization.pk]):
            assert Widget.all_objects.count() == 3
        assert _names_by_procedure(cursor) == ACME


def test_a_connection_handed_back_by_a_pool_gets_the_scope_written_again():
    alias = "rls-pooled"
    pool = {"pool": {"min_size": 1, "max_size": 1}}
    with second_connection(
        alias, CONN_MAX_AGE=0, OPTIONS={**connection.settings_dict["OPTIONS"], **pool}
    ) as pooled:
        # Given a pooled session its last user left in a bypass
        with (
            rls.rls_bypass(reason="test: the pooled session's last user", using=alias),
            pooled.cursor() as cursor,
        ):
            cursor.execute("SELECT 1")
        pooled.close()
        # when the pool hands it to code that admits nothing, then the bypass is off.
        with pooled.cursor() as cursor:
            cursor.execute("SELECT current_setting(%s, true)", [rls.GUC_BYPASS])
            assert cursor.fetchone() == ("off",)


def test_a_connection_lost_before_the_scope_is_written_is_a_django_database_error(
    organization, other_organization
):
    alias = "rls-lost"
    with second_connection(alias) as other:
        with rls.rls_organizations([organization.pk], using=alias):
            cursor = other.cursor()
            cursor.execute("SELECT pg_backend_pid()")
            (pid,) = cursor.fetchone()
        # The server ends that session (a restart, an idle timeout); only the owner may end it.
        with rls.database_owner(), connection.cursor() as owner:
            owner.execute("SELECT pg_terminate_backend(%s, 10000)", [pid])
        with rls.rls_organizations([other_organization.pk], using=alias), pytest.raises(DatabaseError):
            cursor.execute("SELECT 1")  # the execute hook writes B's scope first


def test_a_scope_whose_write_fails_does_not_outlive_the_error(organization):
    alias = "rls-lost-in-transaction"
    with second_connection(alias) as other, rls.rls_organizations([organization.pk], using=alias):
        before = rls.current_scope(using=alias)
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (pid,) = cursor.fetchone()
        with rls.database_owner(), connection.cursor() as owner:
            owner.execute("SELECT pg_terminate_backend(%s, 10000)", [pid])
        # Inside a transaction a switch is written at once; here the write fails (the session
        # is gone), and the bypass must not stay recorded for the reconnected session.
        with (
            pytest.raises(DatabaseError),
            transaction.atomic(using=alias),
            rls.rls_bypass(reason="test: entered as the session dies", using=alias),
        ):
            pass
        assert rls.current_scope(using=alias) == before
        assert not rls.current_scope(using=alias).bypass


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
