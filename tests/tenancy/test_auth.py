"""Authentication and authorization of the API, in the JSON error format."""

import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tenancy import services
from tests.conftest import client_for_key
from tests.testapp.models import Widget

pytestmark = pytest.mark.django_db
URL = "/api/v1/widgets/"


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["type"] == "client_error"
    assert body["errors"][0]["code"] == code
    assert body["errors"][0]["detail"]


def test_no_key_is_401_with_challenge(organization):
    response = APIClient().get(URL)
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Api-Key"


@pytest.mark.parametrize(
    "header", ["Api-Key nonsense", "Api-Key abc.def", "Api-Key ", "Api-Key OKZtADA7.wrong"]
)
def test_wrong_key_is_401(organization, api_client, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert_error(client.get(URL), 401, "invalid_api_key")


def test_right_prefix_wrong_secret_is_401(api_client):
    prefix = api_client.api_key.prefix
    assert_error(client_for_key(f"{prefix}.{'x' * 32}").get(URL), 401, "invalid_api_key")


def test_revoked_key_is_401(api_client):
    services.api_key_revoke(api_key=api_client.api_key)
    response = api_client.get(URL)
    assert_error(response, 401, "revoked_api_key")
    assert "revoked" in response.json()["errors"][0]["detail"]


def test_expired_key_is_401(organization, make_api_client):
    client = make_api_client(organization, expiry_date=timezone.now() - datetime.timedelta(minutes=1))
    response = client.get(URL)
    assert_error(response, 401, "expired_api_key")
    assert "expired" in response.json()["errors"][0]["detail"]


def test_inactive_organization_key_is_401(api_client, organization):
    organization.is_active = False
    organization.save()
    assert_error(api_client.get(URL), 401, "inactive_organization")


def test_viewer_key_writing_is_403_and_writes_nothing(viewer_api_client):
    assert viewer_api_client.get(URL).status_code == 200
    assert_error(viewer_api_client.post(URL, {"name": "x", "slug": "x"}), 403, "permission_denied")
    assert not Widget.all_objects.exists()


def test_staff_session_acts_for_its_membership(organization, other_organization):
    from tests.factories import MembershipFactory

    membership = MembershipFactory(organization=organization)
    client = APIClient()
    client.force_login(membership.user)
    Widget.objects.create(organization=organization, name="Mine", slug="mine")
    Widget.objects.create(organization=other_organization, name="Theirs", slug="theirs")
    names = [row["name"] for row in client.get(URL).json()["results"]]
    assert names == ["Mine"]


def test_staff_with_two_memberships_chooses_with_header(organization, other_organization):
    from tests.factories import MembershipFactory, UserFactory

    user = UserFactory()
    MembershipFactory(user=user, organization=organization)
    MembershipFactory(user=user, organization=other_organization)
    client = APIClient()
    client.force_login(user)
    Widget.objects.create(organization=organization, name="Acme's", slug="a")
    Widget.objects.create(organization=other_organization, name="Globex's", slug="g")
    assert_error(client.get(URL), 403, "permission_denied")
    for slug, name in (("globex", "Globex's"), ("acme", "Acme's")):
        response = client.get(URL, HTTP_X_ORGANIZATION=slug)
        assert response.status_code == 200, response.content
        # The header picks whose rows the session sees, not merely that it may see some.
        assert [row["name"] for row in response.json()["results"]] == [name]


def test_throttle_answers_429_in_json(api_client, settings):
    settings.API_THROTTLE_RATE = "2/min"
    from django.core.cache import cache

    cache.clear()
    assert api_client.get(URL).status_code == 200
    assert api_client.get(URL).status_code == 200
    response = api_client.get(URL)
    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    cache.clear()


# --- the key cache (tenancy.authentication): no query for a key verified a moment ago -------


def test_a_key_verified_a_moment_ago_costs_no_query(api_client, django_assert_num_queries, settings):
    settings.API_THROTTLE_STORE = "cache"  # count only authentication's queries
    assert api_client.get(URL).status_code == 200  # looked up, touched, remembered
    with django_assert_num_queries(1):  # the page; no key SELECT, no last_used_at UPDATE
        assert api_client.get(URL).status_code == 200


def test_the_cached_key_still_checks_the_secret(api_client):
    assert api_client.get(URL).status_code == 200
    prefix = api_client.api_key.prefix
    assert_error(client_for_key(f"{prefix}.{'x' * 32}").get(URL), 401, "invalid_api_key")


def test_a_revoked_key_is_401_on_the_next_request_though_it_was_cached(api_client):
    assert api_client.get(URL).status_code == 200
    services.api_key_revoke(api_key=api_client.api_key)
    assert_error(api_client.get(URL), 401, "revoked_api_key")


def test_a_key_whose_expiry_moves_into_the_past_is_401_on_the_next_request(api_client):
    assert api_client.get(URL).status_code == 200
    api_key = api_client.api_key
    api_key.expiry_date = timezone.now() - datetime.timedelta(seconds=1)
    api_key.save()
    assert_error(api_client.get(URL), 401, "expired_api_key")


def test_a_cached_key_expires_by_the_clock(organization, make_api_client, monkeypatch):
    client = make_api_client(organization, expiry_date=timezone.now() + datetime.timedelta(minutes=5))
    assert client.get(URL).status_code == 200
    later = timezone.now() + datetime.timedelta(minutes=6)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert_error(client.get(URL), 401, "expired_api_key")


def test_a_cached_key_of_a_deactivated_organization_is_401_on_the_next_request(api_client, organization):
    assert api_client.get(URL).status_code == 200
    organization.is_active = False
    organization.save()
    assert_error(api_client.get(URL), 401, "inactive_organization")


def test_last_used_at_is_written_at_most_once_a_minute(api_client, monkeypatch):
    from tenancy.models import OrganizationAPIKey

    assert api_client.get(URL).status_code == 200
    first = OrganizationAPIKey.objects.get(pk=api_client.api_key.pk).last_used_at
    assert first is not None
    assert api_client.get(URL).status_code == 200
    assert OrganizationAPIKey.objects.get(pk=api_client.api_key.pk).last_used_at == first
    later = timezone.now() + datetime.timedelta(minutes=2)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert api_client.get(URL).status_code == 200
    assert OrganizationAPIKey.objects.get(pk=api_client.api_key.pk).last_used_at == later


def test_a_cached_key_from_an_address_over_the_failure_limit_waits(api_client, settings):
    from django.core.cache import cache

    settings.API_AUTH_FAILURE_RATE = "2/min"
    cache.clear()
    assert api_client.get(URL).status_code == 200  # the key is cached now
    prefix = api_client.api_key.prefix
    statuses = [client_for_key(f"{prefix}.{'x' * 32}").get(URL).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
    assert_error(api_client.get(URL), 429, "throttled")
    cache.clear()


def test_a_leased_throttle_never_admits_more_than_the_limit(
    api_client, settings, monkeypatch, django_assert_num_queries
):
    """Database store, 300/min: the worker leases 3 requests at a time (one upsert per lease,
    none for the two after it), and the 301st request of the window is a 429."""
    import time

    from tenancy import throttling

    settings.API_THROTTLE_STORE = "database"
    settings.API_THROTTLE_RATE = "300/min"
    assert throttling.lease_size(300) == 3
    now = (int(time.time()) // 60) * 60 + 1.0  # one window for the whole test
    monkeypatch.setattr(throttling.time, "time", lambda: now)
    assert api_client.get(URL).status_code == 200  # key cached; lease of 3 taken, 2 left
    with django_assert_num_queries(1):  # the page only: from the lease
        assert api_client.get(URL).status_code == 200
    statuses = [api_client.get(URL).status_code for _ in range(300)]
    assert statuses == [200] * 298 + [429] * 2
    with django_assert_num_queries(1):  # spent: the upsert, nothing granted, no page
        assert_error(api_client.get(URL), 429, "throttled")
