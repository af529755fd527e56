"""Multi-vertical variants: one source piece adapted for several verticals, listed in one query."""

from __future__ import annotations

import pytest

from generations.models import Generation
from tests.generations.factories import GenerationFactory, vertical

pytestmark = pytest.mark.django_db
URL = "/api/v1/generations/"
VERTICALS = ["tech", "athletics", "hospitality", "healthcare"]


@pytest.fixture
def source(organization):
    return GenerationFactory(
        organization=organization, vertical=vertical("hospitality"), content="Source piece"
    )


def test_variants_for_four_verticals_are_listed_by_vertical_in_one_query(
    api_client, organization, source, django_assert_max_num_queries
):
    for slug in VERTICALS:
        vertical(slug)
    for slug in ["tech", "athletics", "healthcare"]:
        response = api_client.post(
            f"{URL}{source.pk}/branch/", {"kind": "variant", "vertical": slug, "content": f"For {slug}"}
        )
        assert response.status_code == 201, response.content
        assert response.json()["kind"] == "variant"
    api_client.post(f"{URL}{source.pk}/branch/", {"content": "a revision, not a variant"})
    api_client.get(f"{URL}{source.pk}/")

    with django_assert_max_num_queries(4):  # key, organization, the node, its variants
        response = api_client.get(f"{URL}{source.pk}/variants/")

    assert response.status_code == 200
    assert [row["vertical"] for row in response.json()] == ["athletics", "healthcare", "tech"]
    assert [row["content"] for row in response.json()] == ["For athletics", "For healthcare", "For tech"]


@pytest.mark.parametrize(
    ("payload", "attr", "code"),
    [
        ({"kind": "variant"}, "vertical", "required"),
        ({"kind": "variant", "vertical": "hospitality"}, "vertical", "invalid"),
        ({"kind": "variant", "vertical": "no-such-vertical"}, "vertical", "does_not_exist"),
        ({"vertical": "tech"}, "vertical", "invalid"),  # a revision keeps its parent's vertical
    ],
)
def test_bad_variants_are_refused_and_write_nothing(api_client, source, payload, attr, code):
    vertical("tech")
    response = api_client.post(f"{URL}{source.pk}/branch/", payload)
    assert response.status_code == 400, response.content
    error = response.json()["errors"][0]
    assert (error["attr"], error["code"]) == (attr, code)
    assert Generation.objects.count() == 1


def test_a_revision_inherits_its_parents_vertical(api_client, source):
    child = api_client.post(f"{URL}{source.pk}/branch/", {"content": "v2"}).json()
    assert child["vertical"] == "hospitality"
    assert child["kind"] == "revision"


def test_bulk_items_can_be_variants(api_client, organization, source):
    vertical("tech")
    items = [
        {"request_id": "v-tech", "parent": source.pk, "kind": "variant", "vertical": "tech"},
        {"request_id": "v-none", "parent": source.pk, "kind": "variant", "vertical": "nowhere"},
    ]
    response = api_client.post(f"{URL}bulk/", {"items": items})
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "items.1.vertical"
    response = api_client.post(f"{URL}bulk/", {"items": items[:1]})
    assert response.status_code == 201
    row = Generation.objects.get(request_id="v-tech")
    assert (row.kind, row.vertical.slug, row.version) == ("variant", "tech", 2)


def test_the_database_refuses_a_variant_without_a_vertical(organization, source):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Generation.objects.create(
            organization=organization,
            request_id="x",
            parent=source,
            root=source,
            depth=1,
            version=2,
            kind="variant",
        )
