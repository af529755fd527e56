"""Which lists' pages are read keys first (``tenancy.pagination.KeysFirst``): those whose rows
are their own table's alone, joined only to show more of each row. Whatever else a list does
(a filter across a join, a grouping, DISTINCT) keeps DRF's one-step read, where the keys of a
page could differ from its rows. That the answers are the same either way, page after page,
is shown at scale in ``tests/test_scale.py``."""

from __future__ import annotations

import pytest
from django.db.models import Count, F

from analytics.models import ProviderCall
from generations import selectors
from generations.models import Generation, GenerationRun
from tenancy.pagination import KeysFirst
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


def test_lists_joined_only_to_show_more_are_read_keys_first():
    organization = OrganizationFactory()

    calls = ProviderCall.objects.filter(organization=organization)
    assert KeysFirst.applies_to(calls.select_related("model"))
    assert KeysFirst.applies_to(selectors.generation_list(organization=organization).filter(status="failed"))
    assert KeysFirst.applies_to(Generation.objects.annotate(vertical_slug=F("vertical__slug")))


@pytest.mark.parametrize(
    "queryset",
    [
        pytest.param(lambda: ProviderCall.objects.filter(success=False), id="no join: nothing to gain"),
        pytest.param(
            lambda: Generation.objects.select_related("model").filter(vertical__slug="hospitality"),
            id="a filter across a join",
        ),
        pytest.param(
            lambda: GenerationRun.objects.select_related("campaign").filter(generations__status="failed"),
            id="a filter across a one-to-many join",
        ),
        pytest.param(lambda: Generation.objects.select_related("model").distinct(), id="distinct"),
        pytest.param(
            lambda: GenerationRun.objects.select_related("campaign").annotate(n=Count("generations")),
            id="a grouping",
        ),
    ],
)
def test_other_lists_keep_the_one_step_read(queryset):
    assert not KeysFirst.applies_to(queryset())
