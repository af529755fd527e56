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
# What a POST needs besides its request id and content.
INGEST = {"content_type": "blog", "provider": "openai", "model": "an-unknown-model", "status": "success"}


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


def test_search_reads_the_organizations_own_words_in_the_gin_index(organization, other_organization):
    """The index holds each organization's words apart (``'<org> hotel'``), and the search asks
    for the caller's, as an index condition even under the tenant wall: not a filter on every
    tenant's matches."""
    GenerationFactory(organization=organization, content="Sea-view hotels.")
    # No organization filter of the queryset: in a table this small a btree index on it would
    # win; the wall's condition is no index condition, so the GIN index is the only one left.
    with rls.rls_organizations([organization.pk]):
        plan = _plan(Generation.objects.search("hotel", organization_ids=[organization.pk]))
    assert "Bitmap Index Scan on generation_tenant_search_idx" in plan, plan
    condition = plan.split("Bitmap Index Scan on generation_tenant_search_idx", 1)[1].splitlines()[1]
    assert "generation_search_vector(organization_id, content) @@" in condition, plan
    assert f"''{organization.pk} hotel''" in condition, plan
    assert f"''{other_organization.pk} " not in condition, plan


def test_a_search_of_every_organization_reads_the_same_index(organization, other_organization):
    """A superuser's search (the admin's, in the wall's bypass) asks for the words of every
    organization, as one query: still an index condition."""
    GenerationFactory(organization=organization, content="Sea-view hotels.")
    with rls.rls_bypass(reason="test: a superuser's search"):
        plan = _plan(Generation.objects.search("hotel", organization_ids=None))
        found = Generation.objects.search("hotel", organization_ids=None).count()
    assert "Bitmap Index Scan on generation_tenant_search_idx" in plan, plan
    assert found == 1


def test_a_search_longer_than_the_api_takes_is_refused_before_any_query(organization):
    with pytest.raises(ValueError, match="at most 200"):
        Generation.objects.search("x" * 201, organization_ids=[organization.pk])


# Contents with what the English parser makes lexemes of: stems, stop words, hyphenated words
# (the whole and each part), numbers, versions, e-mail addresses, hosts and URL paths whose
# lexemes hold a quote or a colon, a backslash, and a phrase.
ODD_CONTENTS = [
    "Sea-view hotels on the Atlantic coast.",
    "A city hotel with a rooftop bar, 2 minutes from the station.",
    "Book at http://example.com/o'reilly?x=1 or write to desk@example.com: v1.2.3 ready.",
    "Paths like C:\\temp\\menu and /usr/local/menu; ports like example.com:8080/menu.",
    "It's the bar's 10% off night; 'quoted' words and \"double\" ones.",
    "rooftop bar rooftop bar rooftop",
    "",
]
ODD_QUERIES = [
    "hotel",
    "hotels rooftop",
    "rooftop or telehealth",
    "bar -rooftop",
    "-rooftop",
    "-rooftop -hotel",
    '"rooftop bar"',
    '"bar rooftop"',
    '"sea-view"',
    "example.com:8080/menu",
    "o'reilly",
    "desk@example.com",
    "v1.2.3 or 10",
    "c:\\temp",
    "the",
    'unbalanced "quote ( & |',
    "menu or -menu",
]


def _raw_matches(organization_pk: int, text: str) -> set[int]:
    """The oracle: the plain words of the content matched in SQL, no index, no prefix."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM generations_generation WHERE organization_id = %s AND deleted_at IS NULL "
            "AND to_tsvector('english', content) @@ websearch_to_tsquery('english', %s)",
            [organization_pk, text],
        )
        return {row[0] for row in cursor.fetchall()}


def _found(queryset) -> set[int]:
    return set(queryset.values_list("pk", flat=True))


def test_the_organizations_words_match_exactly_what_the_plain_words_match(organization, other_organization):
    """Given the same odd contents in two organizations, each query finds in each organization
    exactly the rows the content's plain words match: nothing of the other tenant, whatever
    the lexemes hold (quotes, backslashes, colons) or the query says (phrases, or, -word alone)."""
    for owner in (organization, other_organization):
        for index, content in enumerate(ODD_CONTENTS):
            GenerationFactory(organization=owner, request_id=f"odd-{index}", content=content)
    for text in ODD_QUERIES:
        for owner in (organization, other_organization):
            with rls.rls_organizations([owner.pk]):
                found = _found(Generation.objects.search(text, organization_ids=[owner.pk]))
            assert found == _raw_matches(owner.pk, text), text
        both = _found(
            Generation.objects.search(text, organization_ids=[organization.pk, other_organization.pk])
        )
        assert both == _raw_matches(organization.pk, text) | _raw_matches(other_organization.pk, text), text
    assert _raw_matches(organization.pk, "rooftop")  # the oracle finds something


def test_content_whose_prefixed_words_would_not_fit_a_vector_is_found_by_its_plain_words(
    api_client, organization, other_organization
):
    """A lexeme near tsvector's 2,046-byte limit has no room for the organization: that row's
    vector keeps its plain words, marked as such, and is still found exactly and only by its own
    organization (a ``-word`` query included)."""
    long_word = "x" * 2045  # the longest word the parser keeps is 2,046 bytes
    GenerationFactory(organization=organization, request_id="long", content=f"Rooftop hotel {long_word}")
    GenerationFactory(organization=organization, request_id="short", content="Rooftop garden")
    GenerationFactory(
        organization=other_organization, request_id="theirs", content=f"Rooftop hotel {long_word}"
    )

    assert request_ids(api_client, "hotel") == ["long"]
    assert request_ids(api_client, "rooftop") == ["long", "short"]
    assert request_ids(api_client, "-hotel") == ["short"]
    assert request_ids(api_client, '"rooftop hotel"') == ["long"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generation_search_vector(organization_id, content)::text FROM generations_generation "
            "WHERE request_id = 'long' AND organization_id = %s",
            [organization.pk],
        )
        vector = cursor.fetchone()[0]
    assert f"'{organization.pk}  '" in vector and "'hotel'" in vector  # plain words, marked


def test_a_vector_of_more_prefixed_words_than_fit_keeps_its_plain_words():
    """About 1 MB of lexemes and positions is tsvector's limit: 90,000 distinct words fit plain
    (~0.92 MB) but not each with its organization."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT v @@ 'w89999'::tsquery, v @@ $$'7  '$$::tsquery, v @@ $$'7 w1'$$::tsquery "
            "FROM (SELECT generation_search_vector(7, string_agg('w' || g, ' ')) AS v "
            "FROM generate_series(1, 90000) AS g) AS s"
        )
        assert cursor.fetchone() == (True, True, False)


def test_an_empty_list_of_organizations_finds_nothing(organization):
    GenerationFactory(organization=organization, content="Sea-view hotels.")
    assert not Generation.objects.search("hotel", organization_ids=[]).exists()


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


def test_content_of_more_distinct_words_than_a_vector_holds_is_stored_and_found_by_its_first_words(
    api_client,
):
    """120,000 distinct words (~0.8 MB, under the 1 Mi-character cap) are more lexemes than a
    tsvector holds: ``to_tsvector`` of the whole failed, and the POST with it (a 500). Now the
    row is stored, through one POST and the bulk endpoint, and found by its first words."""
    many = " ".join(f"w{index}" for index in range(120_000))
    single = api_client.post(URL, {**INGEST, "request_id": "many", "content": many}, format="json")
    bulk = api_client.post(
        f"{URL}bulk/", {"items": [{**INGEST, "request_id": "many-bulk", "content": many}]}, format="json"
    )

    assert (single.status_code, bulk.status_code) == (201, 201), (single.content[:300], bulk.content[:300])
    assert request_ids(api_client, "w5 w20000") == ["many", "many-bulk"]
    assert request_ids(api_client, '"w7 w8"') == ["many", "many-bulk"]


@pytest.mark.parametrize(
    "content",
    [
        "Wake up to the Atlantic, then take the cliff path to breakfast on the terrace. " * 1500,
        ",".join(f"u{index}" for index in range(30_000)),  # ~200 kB with no whitespace at all
    ],
    ids=["long-copy", "no-whitespace"],
)
def test_content_over_64_kb_is_read_in_parts_and_found_as_a_whole(organization, content):
    """Past 64 kB the vector is made part by part: the words of every part are found, a phrase
    too, and the plain oracle agrees for the words it can index."""
    generation = GenerationFactory(organization=organization, content=content)
    first, last = ("cliff", "terrace") if content.startswith("Wake") else ("u3", "u29999")
    for text in (first, last, f"{first} {last}", '"breakfast on the terrace"' if first == "cliff" else "u3"):
        found = _found(Generation.objects.search(text, organization_ids=[organization.pk]))
        assert found == {generation.pk} == _raw_matches(organization.pk, text), text


@pytest.mark.parametrize(
    ("text", "keyed"),
    [
        ("breakfast terrace", False),
        ('"rooftop bar" or hotel', False),
        ("bar -rooftop", False),
        ("-rooftop", True),
    ],
)
def test_only_a_query_that_matches_content_without_words_carries_the_organizations_key(text, keyed):
    """Any other match needs one of the organization's words already; the key ANDed in would make
    the planner count the tenant's share once more (the biggest tenant's search went parallel)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generation_search_query(ARRAY[7], websearch_to_tsquery('english', %s))::text", [text]
        )
        query = cursor.fetchone()[0]
    assert query.startswith("'7 ' & ") is keyed, query
    assert "'7  '" in query  # the branch for content kept as plain words is always there
