"""Two concurrent changes of who inherits from whom cannot make a circle (or a chain past the
limit) between them: each is checked against what the other committed."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from styleguides.models import StyleGuide
from tenancy import services as tenancy_services
from tenancy.choices import APIKeyRole
from tests.background.harness import wait_until
from tests.conftest import client_for_key
from tests.styleguides.factories import StyleGuideFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _waiting_for_an_advisory_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted)")
        return cursor.fetchone()[0]


def test_two_guides_put_under_each_other_at_once_do_not_make_a_circle(
    make_api_client, organization, monkeypatch
):
    """The first edit (A under B) is saved and held open before it commits; the second (B under
    A) arrives meanwhile. Checked against A's old parent it would pass, and both together would
    make a circle: it waits for the first to commit, then sees the circle and is refused."""
    first, second = StyleGuideFactory(organization=organization), StyleGuideFactory(organization=organization)
    plain_key = make_api_client(organization, APIKeyRole.ADMIN).plain_key
    saved, release = threading.Event(), threading.Event()
    audit_record = tenancy_services.audit_record

    def held_audit_record(**kwargs):
        result = audit_record(**kwargs)
        if threading.current_thread().name == "first-edit":
            saved.set()  # the first edit is written, its transaction still open
            release.wait(timeout=30)
        return result

    monkeypatch.setattr(tenancy_services, "audit_record", held_audit_record)
    responses = {}

    def edit(name, guide, parent):
        try:
            responses[name] = client_for_key(plain_key).patch(
                f"/api/v1/style-guides/{guide.pk}/", {"parent": parent.pk}, format="json"
            )
        finally:
            connection.close()
            saved.set()  # a first edit that failed must not leave the test waiting

    threads = [threading.Thread(target=edit, name="first-edit", args=("first", first, second))]
    threads[0].start()
    assert saved.wait(timeout=30)
    threads.append(threading.Thread(target=edit, name="second-edit", args=("second", second, first)))
    threads[1].start()
    wait_until(
        lambda: not threads[1].is_alive() or _waiting_for_an_advisory_lock(),
        what="the second edit to finish or to wait for the first",
    )
    release.set()
    for thread in threads:
        thread.join(timeout=30)

    assert responses["first"].status_code == 200, responses["first"].content
    assert responses["second"].status_code == 400, responses["second"].content
    error = responses["second"].json()["errors"][0]
    assert (error["attr"], "circle" in error["detail"]) == ("parent", True)
    parents = dict(StyleGuide.all_objects.filter(pk__in=[first.pk, second.pk]).values_list("pk", "parent_id"))
    assert parents == {first.pk: second.pk, second.pk: None}
