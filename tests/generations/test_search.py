"""Search of generations by their content: PostgreSQL full text through a GIN index, in the API
(``?search=``) and the admin, scoped to the caller's organization."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection

from generations.models import Generation
from tenancy import rls
from tests.factories import MembershipFactory, UserFactory
from tests.generations.factories import GenerationFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/generations/"


@pytest.fixture
def copy(organization, other_organization):
    """Given three generations of ours and one of another tenant that shares a word."""
    GenerationFactory(
        organization=organization, request_id="sea", content="Sea-view hotels on the Atlantic coast."
    )
    GenerationFactory(
        organization=organization, request_id="city", content="A city hotel with a rooftop bar."
    )
    GenerationFactory(
        organization=organization, request_id="clinic", content="Telehealth visits for busy parents."
    )
    GenerationFactory(organization=other_organization, request_id="theirs", content="Their hotel by the sea.")


def request_ids(api_client, search: str) -> list[str]:
    response = api_client.get(URL, {"search": search})
    assert response.status_code == 200, response.json()
    return sorted(row["request_id"] for row in response.json()["results"])


@pytest.mark.usefixtures("copy")
def test_search_finds_generations_by_words_in_their_content_in_the_callers_organization(api_client):
    assert request_ids(api_client, "hotel") == ["city", "sea"]  # "hotels" stems to "hotel"
    assert request_ids(api_client, "atlantic hotel") == ["sea"]  # every word
    assert request_ids(api_client, "rooftop or telehealth") == ["city", "clinic"]
    assert request_ids(api_client, "hotel -rooftop") == ["sea"]
    assert request_ids(api_client, '"rooftop bar"') == ["city"]
    assert request_ids(api_client, "sea") == ["sea"]  # not the other tenant's
    assert request_ids(api_client, "the") == []  # only a stop word: nothing, not an error
    assert request_ids(api_client, 'unbalanced "quote ( & |') == []  # any text is a valid query


@pytest.mark.usefixtures("copy")
def test_search_combines_with_the_other_filters(api_client):
    response = api_client.get(URL, {"search": "hotel", "request_id": "sea"})
    assert [row["request_id"] for row in response.json()["results"]] == ["sea"]


@pytest.mark.parametrize(
    ("search", "code"),
    [
        ("x" * 201, "max_length"),
        ("hotel\x00", "invalid"),  # refused before any query is built
    ],
)
def test_bad_search_text_is_a_400_naming_the_parameter(api_client, search, code):
    response = api_client.get(URL, {"search": search})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["attr"], error["code"]) == ("search", code)


def test_search_is_documented_in_the_schema(api_client):
    schema = api_client.get("/api/v1/schema/?format=json").json()
    parameters = schema["paths"]["/api/v1/generations/"]["get"]["parameters"]
    assert "search" in {parameter["name"] for parameter in parameters}


def _plan(queryset) -> str:
    with connection.cursor() as cursor:
        # A tiny table would be read whole, or through the tenant's btree index.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        sql, params = queryset.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_search_reads_the_gin_index_with_the_organization_as_an_index_condition(
    organization, other_organization
):
    """The organization is a condition inside the GIN index (its posting list intersected with
    the words'), even under the tenant wall: not a filter on every tenant's matches."""
    GenerationFactory(organization=organization, content="Sea-view hotels.")
    # No organization filter of the queryset: in a table this small a btree index on it would
    # win; the wall's condition is no index condition, so the GIN index is the only one left.
    with rls.rls_organizations([organization.pk]):
        plan = _plan(Generation.objects.search("hotel", organization_ids=[organization.pk]))
    assert "Bitmap Index Scan on generation_org_search_idx" in plan, plan
    index_scan = plan.split("Bitmap Index Scan on generation_org_search_idx", 1)[1]
    assert "ARRAY[organization_id] &&" in index_scan.splitlines()[1], plan
    assert "to_tsvector" in index_scan.splitlines()[1], plan


def test_a_search_of_every_organization_reads_the_same_index(organization):
    GenerationFactory(organization=organization, content="Sea-view hotels.")
    plan = _plan(Generation.objects.search("hotel", organization_ids=None))
    assert "generation_org_search_idx" in plan, plan


@pytest.mark.usefixtures("copy")
def test_admin_search_looks_at_the_content(client, organization):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    html = client.get("/admin/generations/generation/", {"q": "hotels"}).content.decode()
    assert ">sea<" in html and ">city<" in html and ">theirs<" in html  # a superuser sees every tenant
    assert ">clinic<" not in html
    html = client.get("/admin/generations/generation/", {"q": "clinic"}).content.decode()
    assert ">clinic<" in html and ">sea<" not in html  # the request-id search still works


@pytest.mark.usefixtures("copy")
def test_staff_admin_search_finds_only_their_organizations_content(client, organization):
    user = UserFactory(username="editor")
    user.user_permissions.add(Permission.objects.get(codename="view_generation"))
    MembershipFactory(user=user, organization=organization)
    client.force_login(user)
    html = client.get("/admin/generations/generation/", {"q": "hotels"}).content.decode()
    assert ">sea<" in html and ">city<" in html
    assert ">theirs<" not in html and ">clinic<" not in html


@pytest.mark.usefixtures("copy")
def test_staff_admin_search_finds_nothing_of_an_organization_that_was_deactivated(
    client, organization, other_organization
):
    """Given an editor of both organizations, one of which is then deactivated."""
    user = UserFactory(username="editor", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_generation"))
    MembershipFactory(user=user, organization=organization)
    MembershipFactory(user=user, organization=other_organization)
    other_organization.is_active = False
    other_organization.save(update_fields=["is_active"])
    client.force_login(user)

    html = client.get("/admin/generations/generation/", {"q": "hotel"}).content.decode()
    by_request_id = client.get("/admin/generations/generation/", {"q": "theirs"}).content.decode()

    assert ">sea<" in html and ">city<" in html  # the active organization's content
    assert ">theirs<" not in html  # nothing of the inactive one, by its content…
    assert ">theirs<" not in by_request_id  # …or by the field search
