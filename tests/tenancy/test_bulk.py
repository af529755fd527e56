"""``tenancy.bulk.rows_update``: many rows' new values in one ``UPDATE … FROM unnest(…)``.

Given rows changed in Python, it writes exactly the named fields of exactly those rows, each
value as the field prepares it (JSON, decimals to the last digit, keys, NULLs, times), in one
statement whatever the number of rows; it refuses what ``bulk_update`` would get wrong
silently (a row twice, an unsaved row, the key); and it stays inside the caller's tenant wall.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import FieldDoesNotExist
from django.db import connection
from django.test.utils import CaptureQueriesContext

from generations.models import Generation
from providers.choices import CostStatus
from tenancy import rls
from tenancy.bulk import rows_update
from tests.generations.factories import GenerationFactory
from tests.providers.factories import AIModelFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)


def test_each_row_gets_its_own_values_of_the_named_fields_only(organization):
    rows = [GenerationFactory(organization=organization, content=f"kept {n}") for n in range(3)]
    model = AIModelFactory()
    moment = datetime.datetime(2026, 3, 4, 5, 6, 7, 891234, tzinfo=datetime.UTC)
    rows[0].raw_request = {"input_tokens": 7, "nested": {"quote": 'it\'s "fine"'}}
    rows[0].cost_usd, rows[0].cost_status = Decimal("0.0000000001"), CostStatus.PRICED
    rows[0].model = model
    rows[0].completed_at = moment
    rows[1].raw_request = None
    rows[1].cost_usd, rows[1].cost_status = Decimal("12345678.1234567891"), CostStatus.PRICED
    rows[1].model = None
    rows[1].completed_at = None
    rows[2].raw_request = []
    rows[2].cost_usd, rows[2].cost_status = None, CostStatus.UNPRICED
    for row in rows:
        row.content = "not written: not named"

    with CaptureQueriesContext(connection) as queries:
        fields = ["raw_request", "cost_usd", "cost_status", "model", "completed_at"]
        updated = rows_update(model=Generation, rows=rows, fields=fields)

    assert updated == 3
    assert len(queries) == 1
    first, second, third = (Generation.all_objects.get(pk=row.pk) for row in rows)
    assert first.raw_request == {"input_tokens": 7, "nested": {"quote": 'it\'s "fine"'}}
    assert first.cost_usd == Decimal("0.0000000001")
    assert first.model_id == model.pk
    assert first.completed_at == moment
    assert second.raw_request is None
    assert second.cost_usd == Decimal("12345678.1234567891")
    assert second.model_id is None
    assert second.completed_at is None
    assert third.raw_request == []
    assert third.cost_usd is None
    assert [each.content for each in (first, second, third)] == ["kept 0", "kept 1", "kept 2"]


def test_a_column_of_nulls_only_keeps_its_type(organization):
    rows = [GenerationFactory(organization=organization, completed_at=ago) for ago in (NOW, NOW)]
    for row in rows:
        row.completed_at = None

    assert rows_update(model=Generation, rows=rows, fields=["completed_at"]) == 2

    stored = Generation.all_objects.filter(pk__in=[row.pk for row in rows]).values_list("completed_at")
    assert set(stored) == {(None,)}


def test_one_statement_whatever_the_number_of_rows(organization):
    rows = GenerationFactory.create_batch(40, organization=organization)
    for number, row in enumerate(rows):
        row.input_tokens = number

    with CaptureQueriesContext(connection) as queries:
        assert rows_update(model=Generation, rows=rows, fields=["input_tokens"]) == 40

    assert len(queries) == 1
    assert "CASE" not in queries[0]["sql"]
    stored = Generation.all_objects.filter(organization=organization).values_list("pk", "input_tokens")
    assert dict(stored) == {row.pk: number for number, row in enumerate(rows)}


def test_no_rows_is_no_statement(organization):
    with CaptureQueriesContext(connection) as queries:
        assert rows_update(model=Generation, rows=[], fields=["input_tokens"]) == 0
    assert len(queries) == 0


@pytest.mark.parametrize(
    ("make_rows", "fields", "message"),
    [
        (lambda row: [row, row], ["input_tokens"], "given a row twice"),
        (lambda row: [Generation(organization=row.organization)], ["input_tokens"], "no primary key"),
        (lambda row: [row], ["id"], "cannot write 'id'"),
        (lambda row: [row], [], "at least one field"),
    ],
    ids=["repeated row", "unsaved row", "primary key", "no field"],
)
def test_what_it_refuses_writes_nothing(organization, make_rows, fields, message):
    row = GenerationFactory(organization=organization, input_tokens=5)
    row.input_tokens = 6

    with pytest.raises(ValueError, match=message):
        rows_update(model=Generation, rows=make_rows(row), fields=fields)

    assert Generation.all_objects.get(pk=row.pk).input_tokens == 5


def test_an_array_column_is_refused_and_nothing_written():
    model = AIModelFactory(aliases=["a"])
    model.aliases = ["b", "c"]

    with pytest.raises(ValueError, match="an array column"):
        rows_update(model=type(model), rows=[model], fields=["aliases"])

    assert type(model).objects.get(pk=model.pk).aliases == ["a"]


def test_an_unknown_field_is_refused(organization):
    row = GenerationFactory(organization=organization, input_tokens=5)
    row.input_tokens = 6
    with pytest.raises(FieldDoesNotExist, match="no field named 'nope'"):
        rows_update(model=Generation, rows=[row], fields=["input_tokens", "nope"])
    assert Generation.all_objects.get(pk=row.pk).input_tokens == 5


def test_another_organizations_row_in_the_list_is_not_written(organization, other_organization):
    ours = GenerationFactory(organization=organization, input_tokens=1)
    theirs = GenerationFactory(organization=other_organization, input_tokens=1)
    ours.input_tokens = theirs.input_tokens = 99

    with rls.rls_organizations([organization.pk]):
        assert rows_update(model=Generation, rows=[ours, theirs], fields=["input_tokens"]) == 1

    assert Generation.all_objects.get(pk=ours.pk).input_tokens == 99
    assert Generation.all_objects.get(pk=theirs.pk).input_tokens == 1
