"""``tenancy.idempotency.insert_value``: an ingested row's values as Django's INSERT compiler
prepares them, of the same types, for every column of every model the idempotent ingest writes,
and for the values its shortcut does not take (left to Django)."""

from __future__ import annotations

import datetime
import warnings

import pytest
from django.db import connection
from django.db.models.sql import InsertQuery
from django.utils import timezone
from django.utils.functional import lazy

from analytics.services import METRIC_INGEST, PROVIDER_CALL_INGEST
from generations.services import GENERATION_INGEST
from tenancy.idempotency import insert_value
from tests.analytics.factories import PerformanceMetricFactory, ProviderCallFactory
from tests.generations.factories import GenerationFactory

pytestmark = pytest.mark.django_db


def _metric(organization):
    return PerformanceMetricFactory(generation=GenerationFactory(organization=organization))


def _compiler(instance):
    """The compiler of ``instance``'s INSERT, made as the ingest makes it."""
    query = InsertQuery(type(instance))
    query.insert_values(type(instance)._meta.local_concrete_fields, [instance])
    return query.get_compiler(connection=connection)


def _django(field, instance, compiler):
    return compiler.prepare_value(field, compiler.pre_save_val(field, instance))


def _assert_same(field, instance):
    compiler = _compiler(instance)
    ours, django = insert_value(field, instance, compiler), _django(field, instance, compiler)
    # Django's JSON adapter has no equality of its own: compare what it wraps.
    if hasattr(django, "obj"):
        ours, django = ours.obj, django.obj
    assert type(ours) is type(django), field.name
    assert ours == django, field.name


@pytest.mark.parametrize(
    ("ingest", "make"),
    [
        (GENERATION_INGEST, lambda organization: GenerationFactory(organization=organization)),
        (PROVIDER_CALL_INGEST, lambda organization: ProviderCallFactory(organization=organization)),
        (METRIC_INGEST, _metric),
    ],
    ids=["generation", "provider-call", "metric"],
)
def test_every_column_of_every_ingested_model_is_prepared_as_django_prepares_it(ingest, make, organization):
    instance = make(organization)
    auto_now = {
        field.name
        for field in ingest.model._meta.local_concrete_fields
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
    }
    for field in ingest.model._meta.local_concrete_fields:
        if field.generated:
            continue
        if field.name in auto_now:
            # Both stamp the time now: the same type, a moment apart.
            compiler = _compiler(instance)
            assert type(insert_value(field, instance, compiler)) is type(_django(field, instance, compiler))
            continue
        _assert_same(field, instance)


def test_the_common_columns_skip_djangos_generic_path(organization):
    """Text, integer, integer-key and datetime columns with ordinary values are prepared without
    ``compiler.prepare_value`` (the point of the shortcut); JSON and decimal columns through it."""
    generation = GenerationFactory(organization=organization)
    compiler = _compiler(generation)
    asked: list[str] = []
    django_prepare = compiler.prepare_value

    def prepare_value(field, value):
        asked.append(field.name)
        return django_prepare(field, value)

    compiler.prepare_value = prepare_value
    for field in type(generation)._meta.local_concrete_fields:
        if not field.generated:
            insert_value(field, generation, compiler)
    assert {"request_id", "input_tokens", "organization", "occurred_at", "content"}.isdisjoint(asked)
    assert {"metadata", "cost_usd"} <= set(asked)


def test_integers_keep_the_type_django_wraps_them_in(organization):
    generation = GenerationFactory(organization=organization, input_tokens=7, generation_time_ms=12)
    compiler = _compiler(generation)
    for name in ("input_tokens", "generation_time_ms", "organization"):
        field = type(generation)._meta.get_field(name)
        # psycopg's Int4/Int8 for integer columns, the plain id for a key: a prepared statement's
        # parameter types stay the same from one row to the next.
        assert type(insert_value(field, generation, compiler)) is type(_django(field, generation, compiler))


def test_values_the_shortcut_does_not_know_are_left_to_django(organization):
    generation = GenerationFactory(organization=organization)
    model = type(generation)
    # A bool in an integer column (Django: int(True)), a lazy text, a naive datetime (Django warns
    # and reads it in the default time zone), an id as text: each the same as Django's.
    generation.input_tokens = True
    generation.agent_name = lazy(lambda: "lazy-agent", str)()
    generation.completed_at = datetime.datetime(2026, 1, 2, 3, 4, 5)  # naive on purpose
    generation.campaign_id = "12"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for name in ("input_tokens", "agent_name", "completed_at", "campaign"):
            _assert_same(model._meta.get_field(name), generation)
    generation.completed_at = timezone.now()
    _assert_same(model._meta.get_field("completed_at"), generation)
