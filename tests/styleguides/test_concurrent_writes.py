"""The same write sent by several clients at once lands as it does sent one after another: no
400 or 409 for a slug the clients never sent, nor for a label that was free when each looked."""

from __future__ import annotations

import pytest

from styleguides.models import ContentPillar, PromptTemplateLabel
from tenancy.choices import APIKeyRole
from tests.concurrency import at_once
from tests.conftest import client_for_key
from tests.styleguides.factories import make_template

pytestmark = pytest.mark.django_db(transaction=True)
WRITERS = 8


def test_rows_named_alike_at_once_each_get_their_own_slug(make_api_client, organization):
    plain_key = make_api_client(organization, APIKeyRole.ADMIN).plain_key

    responses = at_once(
        WRITERS,
        lambda i: client_for_key(plain_key).post(
            "/api/v1/content-pillars/", {"name": "Spring stays"}, format="json"
        ),
    )

    assert [r.status_code for r in responses] == [201] * WRITERS, [r.content for r in responses]
    slugs = sorted(ContentPillar.objects.filter(organization=organization).values_list("slug", flat=True))
    assert slugs == sorted(["spring-stays", *(f"spring-stays-{n}" for n in range(2, WRITERS + 1))])


def test_names_whose_slugs_meet_are_created_at_once_without_a_conflict(make_api_client, organization):
    """ "Spring" (spring taken: it wants spring-2) and "Spring 2" (spring-2) want the same slug:
    one lock per organization and model, not per name."""
    plain_key = make_api_client(organization, APIKeyRole.ADMIN).plain_key
    client_for_key(plain_key).post("/api/v1/content-pillars/", {"name": "Spring"}, format="json")

    responses = at_once(
        WRITERS,
        lambda i: client_for_key(plain_key).post(
            "/api/v1/content-pillars/", {"name": "Spring" if i % 2 else "Spring 2"}, format="json"
        ),
    )

    assert [r.status_code for r in responses] == [201] * WRITERS, [r.content for r in responses]
    slugs = list(ContentPillar.objects.filter(organization=organization).values_list("slug", flat=True))
    assert len(slugs) == len(set(slugs)) == WRITERS + 1


def test_one_label_set_by_several_clients_at_once_is_set_once(make_api_client, organization):
    template = make_template(organization)
    plain_key = make_api_client(organization, APIKeyRole.ADMIN).plain_key
    url = f"/api/v1/templates/{template.pk}/labels/"

    responses = at_once(
        WRITERS,
        lambda i: client_for_key(plain_key).post(url, {"name": "production", "version": 1}, format="json"),
    )

    assert [r.status_code for r in responses] == [200] * WRITERS, [r.content for r in responses]
    assert list(
        PromptTemplateLabel.objects.filter(template=template).values_list("name", "version__version")
    ) == [("production", 1)]
