"""``generations/?kind=``: a tenant's revisions or variants, newest first, read through
``generation_org_kind_idx`` (the non-root nodes only), under the tenant wall; ``?kind=original``
still walks the tenant's time index; the migration adds and removes the index."""

from __future__ import annotations

import pytest
from django.db import connection

from generations.api.filters import GenerationFilterSet
from generations.models import Generation
from tenancy import rls
from tests.generations.factories import GenerationFactory, vertical
from tests.migrations_support import migrate

pytestmark = pytest.mark.django_db
URL = "/api/v1/generations/"
INDEX = "generation_org_kind_idx"
DEFINITION = (
    f"CREATE INDEX {INDEX} ON public.generations_generation USING btree "
    "(organization_id, kind, created_at DESC) WHERE (NOT ((kind)::text = 'original'::text))"
)


def branch(client, source_id: int, **body) -> int:
    response = client.post(f"{URL}{source_id}/branch/", {"content": "next", **body})
    assert response.status_code == 201, response.content
    return response.json()["id"]


@pytest.fixture
def trees(api_client, other_api_client, organization, other_organization):
    """Ours: a root with a revision and two variants; theirs: a root with a variant."""
    ours = GenerationFactory(organization=organization, vertical=vertical("hospitality"))
    theirs = GenerationFactory(organization=other_organization, vertical=vertical("hospitality"))
    made = {
        "revision": [branch(api_client, ours.pk)],
        "variant": [
            branch(api_client, ours.pk, kind="variant", vertical=vertical("tech").slug),
            branch(api_client, ours.pk, kind="variant", vertical=vertical("athletics").slug),
        ],
        "original": [ours.pk],
    }
    branch(other_api_client, theirs.pk, kind="variant", vertical="tech")
    return made


@pytest.mark.parametrize("kind", ["original", "revision", "variant"])
def test_kind_lists_the_tenants_nodes_of_that_kind_newest_first(api_client, trees, kind):
    response = api_client.get(URL, {"kind": kind})
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["id"] for row in rows] == sorted(trees[kind], reverse=True)  # made in this order
    assert {row["kind"] for row in rows} == {kind}


def test_an_unknown_kind_is_a_400_naming_the_parameter(api_client):
    response = api_client.get(URL, {"kind": "draft"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "kind"


def plan_of_kind(organization, kind: str) -> str:
    """EXPLAIN of the list's own query for ``?kind=`` under the tenant wall; the tiny table
    would be read whole, so that is ruled out."""
    with rls.rls_organizations([organization.pk]):
        queryset = GenerationFilterSet(
            {"kind": kind}, queryset=Generation.objects.filter(organization=organization)
        ).qs.order_by("-created_at", "-id")[:51]
        sql, params = queryset.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_bitmapscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
            return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.usefixtures("trees")
def test_revisions_and_variants_are_read_through_the_kind_index(organization):
    for kind in ("revision", "variant"):
        plan = plan_of_kind(organization, kind)
        assert f"Index Scan using {INDEX}" in plan, plan
    # A root is never in it: ``original`` cannot use it.
    assert INDEX not in plan_of_kind(organization, "original")


def kind_index() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [INDEX])
        row = cursor.fetchone()
    return row and row[0]


@pytest.mark.django_db(transaction=True)
def test_the_migration_adds_the_index_and_reverse_removes_it(back_to_the_latest_afterwards):
    assert kind_index() == DEFINITION
    migrate([("generations", "0019_restrict_deletes_at_database")])
    assert kind_index() is None
    migrate([("generations", "0020_generation_org_kind_index")])
    assert kind_index() == DEFINITION
