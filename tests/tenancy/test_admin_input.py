"""What the admin reads from URLs and forms that PostgreSQL or Python's calendar cannot take is
the admin's own answer (a 400, a warning, a form error), never a 500 (``tenancy.admin_input``,
``tenancy.middleware.UnstorableTextMiddleware``); the job queue is for operators."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from styleguides.models import StyleGuide, StyleGuideVersion
from tenancy.choices import Role
from tenancy.models import Membership
from tests.styleguides.factories import StyleGuideFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        # NUL: refused before any admin runs (was a DataError on ~15 changelists).
        "/admin/styleguides/styleguide/?name=%00",
        "/admin/styleguides/styleguide/?name__contains=a%00",
        "/admin/tenancy/organizationapikey/%00/change/",
        "/admin/autocomplete/?app_label=tenancy&model_name=membership&field_name=user&term=%00",
        # A pattern PostgreSQL cannot compile.
        "/admin/styleguides/styleguide/?name__regex=(",
        "/admin/styleguides/styleguide/?slug__iregex=[",
        # Years the changelist's bounds overflow, or outside the API's window.
        "/admin/styleguides/styleguide/?created_at__year=10000",
        "/admin/styleguides/styleguide/?created_at__year=-1",
        "/admin/styleguides/styleguide/?created_at__iso_year=99999",
        "/admin/tenancy/auditevent/?created_at__year=9999",
        "/admin/tenancy/auditevent/?created_at__year=9999&created_at__month=12",
    ],
)
def test_a_url_the_database_cannot_take_is_a_400(admin_owner_client, url):
    assert admin_owner_client.get(url).status_code == 400


def test_a_year_in_the_window_still_filters(admin_owner_client, organization):
    StyleGuideFactory(organization=organization, name="Voice")

    response = admin_owner_client.get("/admin/tenancy/auditevent/?created_at__year=2026&created_at__month=1")

    assert response.status_code == 200
    assert admin_owner_client.get("/admin/styleguides/styleguide/?name__icontains=voi").status_code == 200


@pytest.mark.parametrize("selected", ["", "abc", "1.5"])
def test_an_action_on_a_selection_that_cannot_exist_does_nothing_and_says_so(
    admin_owner_client, organization, selected
):
    guide = StyleGuideFactory(organization=organization)

    response = admin_owner_client.post(
        "/admin/styleguides/styleguide/",
        {"action": "delete_selected", "index": 0, "_selected_action": [str(guide.pk), selected]},
    )

    assert response.status_code == 302  # back to the list, as Django answers an action that failed
    assert "cannot exist" in " ".join(str(m) for m in get_messages(response.wsgi_request))
    assert StyleGuide.objects.filter(pk=guide.pk).exists()


@pytest.mark.parametrize("user", ["abc", "1e999", "NaN"])
def test_a_value_an_autocomplete_field_cannot_hold_is_a_form_error(admin_owner_client, organization, user):
    response = admin_owner_client.post(
        "/admin/tenancy/membership/add/",
        {"user": user, "organization": organization.pk, "role": Role.VIEWER},
    )

    assert response.status_code == 200
    assert "user" in response.context["adminform"].form.errors
    assert Membership.objects.count() == 1  # the staff member's own


def test_publish_notes_with_a_nul_publish_nothing_and_say_why(admin_owner_client, organization):
    guide = StyleGuideFactory(organization=organization)

    response = admin_owner_client.post(
        f"/admin/styleguides/styleguide/{guide.pk}/publish/", {"notes": "a\x00b"}
    )

    assert response.status_code == 302
    assert "Not published" in " ".join(str(m) for m in get_messages(response.wsgi_request))
    assert not StyleGuideVersion.objects.filter(guide=guide).exists()


def test_an_organization_header_with_a_nul_is_a_400_on_the_api(admin_owner_client):
    response = admin_owner_client.get("/api/v1/style-guides/", HTTP_X_ORGANIZATION="x\x00y")

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "invalid"


def test_the_job_queue_is_for_operators_not_an_organizations_staff(admin_owner_client, admin_client):
    """Its jobs are every organization's, with arguments naming their rows."""
    assert admin_owner_client.get("/admin/procrastinate/procrastinatejob/").status_code == 403
    assert admin_client.get("/admin/procrastinate/procrastinatejob/").status_code == 200
