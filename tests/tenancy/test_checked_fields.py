"""Fields an input serializer checks as strictly as the model (``tenancy.api.checked_fields``):
what the services' own check of a row skips, and that it is only ever what the proof allows.

The rules are tried one by one on serializers made to break each of them, the two serializers
the services trust are pinned, a generator of values (hypothesis) holds every field they are
trusted for to "what the serializer accepts, the model accepts unchanged", and the API still
answers 400 with nothing written for what either side refuses.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework import serializers

from analytics.api.serializers import ProviderCallCreateSerializer
from analytics.models import ProviderCall
from generations.api.serializers import GenerationCreateSerializer
from generations.choices import GenerationStatus
from generations.models import Generation, GenerationRun
from tenancy.api.checked_fields import checked_fields
from tenancy.services import clean_unchecked_fields

GENERATION_CHECKED = {
    "agent_name",
    "branch_name",
    "cache_read_tokens",
    "cache_write_tokens",
    "client_cost_usd",
    "completed_at",
    "content",
    "content_format",
    "content_type",
    "conversation_id",
    "error_details",
    "error_message",
    "generation_time_ms",
    "input_tokens",
    "kind",
    "metadata",
    "model_name",
    "occurred_at",
    "output_tokens",
    "parameters",
    "prompt",
    "provider_name",
    "raw_request",
    "raw_response",
    "status",
    "target_channel",
    "total_tokens",
    "usage",
    "user_ref",
}
PROVIDER_CALL_CHECKED = {
    "api_latency_ms",
    "cache_read_tokens",
    "cache_write_tokens",
    "client_cost_usd",
    "content_type",
    "endpoint",
    "error_message",
    "error_type",
    "input_tokens",
    "method",
    "model_name",
    "occurred_at",
    "output_tokens",
    "provider_name",
    "status_code",
    "total_request_time_ms",
    "total_tokens",
    "usage",
    "user_ref",
}


def test_the_ingest_serializers_vouch_for_these_fields_and_no_relation():
    # The request id keeps its own conversion (it refuses padding), the trace ids a pattern that
    # carries no length, relations are the services' queries: each of those is checked again.
    assert checked_fields(GenerationCreateSerializer, Generation) == GENERATION_CHECKED
    assert checked_fields(ProviderCallCreateSerializer, ProviderCall) == PROVIDER_CALL_CHECKED


def _checked(**declared) -> frozenset[str]:
    serializer = type("Input", (serializers.Serializer,), dict(declared))
    return checked_fields(serializer, Generation)


@pytest.mark.parametrize(
    ("field", "counted"),
    [
        (serializers.CharField(max_length=100, required=False, allow_blank=True), True),
        # longer than the column
        (serializers.CharField(max_length=101, required=False, allow_blank=True), False),
        # no length at all
        (serializers.CharField(required=False, allow_blank=True), False),
        # null into a column that is not
        (serializers.CharField(max_length=100, allow_null=True, allow_blank=True), False),
        # its own conversion
        (
            type("Padded", (serializers.CharField,), {"to_internal_value": lambda self, data: f" {data}"})(
                max_length=50
            ),
            False,
        ),
    ],
)
def test_a_text_field_counts_only_within_the_columns_rules(field, counted):
    assert ("agent_name" in _checked(agent_name=field)) is counted


def test_blank_text_into_a_column_that_refuses_blank_is_not_counted():
    # request_id: blank=False in the model
    field = serializers.CharField(max_length=200, allow_blank=True)
    assert "request_id" not in _checked(request_id=field)
    assert "request_id" in _checked(request_id=serializers.CharField(max_length=200))


def test_a_default_counts_only_when_the_column_accepts_it():
    # DRF returns a default for a field not sent without any check of the field's.
    statuses = [value for value, _ in GenerationStatus.choices]
    assert "status" in _checked(status=serializers.ChoiceField(choices=statuses, default="pending"))
    assert "status" not in _checked(status=serializers.ChoiceField(choices=statuses, default="bogus"))
    assert "agent_name" not in _checked(agent_name=serializers.CharField(max_length=100, default="a" * 101))
    assert "occurred_at" not in _checked(occurred_at=serializers.DateTimeField(default=datetime.datetime.now))


def test_a_choice_counts_only_when_each_choice_is_the_models():
    statuses = [value for value, _ in GenerationStatus.choices]
    assert "status" in _checked(status=serializers.ChoiceField(choices=statuses))
    assert "status" not in _checked(status=serializers.ChoiceField(choices=[*statuses, "bogus"]))
    # free text into a column of choices
    assert "status" not in _checked(status=serializers.CharField(max_length=12))


@pytest.mark.parametrize(
    ("field", "counted"),
    [
        (serializers.IntegerField(min_value=0, max_value=2**31 - 1, allow_null=True), True),
        (serializers.IntegerField(min_value=0, allow_null=True), False),  # past the column's range
        (serializers.IntegerField(max_value=2**31 - 1, allow_null=True), False),  # below 0
        (serializers.IntegerField(min_value=0, max_value=2**31, allow_null=True), False),
    ],
)
def test_an_integer_counts_only_inside_every_bound_of_the_column(field, counted):
    assert ("generation_time_ms" in _checked(generation_time_ms=field)) is counted


def test_a_decimal_counts_only_with_no_more_digits_than_the_column():
    money = {"max_digits": 20, "decimal_places": 10}
    assert "client_cost_usd" in _checked(client_cost_usd=serializers.DecimalField(**money, allow_null=True))
    wider = serializers.DecimalField(max_digits=21, decimal_places=10, allow_null=True)
    assert "client_cost_usd" not in _checked(client_cost_usd=wider)
    finer = serializers.DecimalField(max_digits=20, decimal_places=11, allow_null=True)
    assert "client_cost_usd" not in _checked(client_cost_usd=finer)


def test_json_counts_unless_its_children_convert_or_the_model_has_a_validator_of_its_own():
    assert "metadata" in _checked(metadata=serializers.DictField(required=False))
    # children converted (a date-time child returns values json cannot dump)
    assert "metadata" not in _checked(metadata=serializers.DictField(child=serializers.DateTimeField()))
    # GenerationRun.models_requested carries validate_models_requested, which no serializer field does
    run_input = type("RunInput", (serializers.Serializer,), {"models_requested": serializers.ListField()})
    assert "models_requested" not in checked_fields(run_input, GenerationRun)


def test_a_field_with_a_validate_method_is_not_counted():
    # It may return another value than its field checked.
    declared = {
        "agent_name": serializers.CharField(max_length=100, required=False),
        "validate_agent_name": lambda self, value: value * 200,
    }
    assert "agent_name" not in checked_fields(type("Input", (serializers.Serializer,), declared), Generation)


def test_a_value_the_service_replaced_is_checked_and_the_one_vouched_for_is_not():
    # Given a row whose agent_name is too long for its column
    too_long = "a" * 101
    generation = Generation(agent_name=too_long, request_id="r-1", model_name="m")

    # When the serializer vouched for another value: the row's value is checked
    with pytest.raises(DjangoValidationError) as raised:
        clean_unchecked_fields(generation, checked={"agent_name"}, values={"agent_name": "short"})
    assert set(raised.value.message_dict) >= {"agent_name"}

    # When it is the very value vouched for, the proof stands in for the check (what a
    # serializer counted never holds such a value: the property test below)
    clean_unchecked_fields(
        generation,
        exclude={"organization", "created_at", "occurred_at"},
        checked={"agent_name"},
        values={"agent_name": too_long},
    )


# Values of every JSON type and around every bound the two serializers and their columns have.
_TEXTS = st.one_of(
    st.text(max_size=30),
    st.integers(min_value=0, max_value=1100).map(lambda n: "x" * n),
    st.sampled_from(["", " ", "\x00", "openai", "success", "markdown", "blog", "GET", "rate_limit"]),
    st.sampled_from([value for value, _ in GenerationStatus.choices]),
)
_NUMBERS = st.one_of(
    st.integers(),
    st.sampled_from([0, -1, 2**31 - 1, 2**31, 2**62, 2**62 + 1, 2**63 - 1, 2**63, -(2**63) - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.sampled_from(["9999999999.9999999999", "10000000000", "0.00000000001", "-0.1", "1e5"]),
)
_MOMENTS = st.sampled_from(
    ["2026-11-30T12:00:00Z", "2026-11-30", "1969-12-31T23:59:59Z", "9999-12-31T23:59:59Z", "12:00"]
)
_SCALARS = st.one_of(st.none(), st.booleans(), _TEXTS, _NUMBERS, _MOMENTS)
_VALUES = st.one_of(
    _SCALARS,
    st.recursive(
        _SCALARS,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=6,
    ),
    # containers of one kind, which a field converting its children accepts
    st.dictionaries(st.text(max_size=5), _MOMENTS, min_size=1, max_size=2),
    st.lists(_NUMBERS, min_size=1, max_size=2),
)


def _values_for(field: serializers.Field):
    """Every kind of value, and for a choice field its own choices and near misses."""
    choices = list(getattr(field, "choice_strings_to_values", {}))
    if not choices:
        return _VALUES
    near = [f"{choice}x" for choice in choices] + [choice.upper() for choice in choices]
    return st.one_of(_VALUES, st.sampled_from(choices + near))


_TRUSTED = [
    (serializer, model, name)
    for serializer, model in (
        (GenerationCreateSerializer, Generation),
        (ProviderCallCreateSerializer, ProviderCall),
    )
    for name in sorted(checked_fields(serializer, model))
]


@pytest.mark.parametrize(("serializer_class", "model", "name"), _TRUSTED)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_what_a_trusted_field_accepts_its_column_accepts_unchanged(serializer_class, model, name, data):
    serializer = serializer_class(context={})
    field = next(field for field in serializer.fields.values() if field.source == name)
    value = data.draw(_values_for(field))
    try:
        accepted = field.run_validation(value)
    except serializers.ValidationError:
        return  # refused by the serializer: a 400, the model is never asked
    model_field = model._meta.get_field(name)
    if model_field.blank and accepted in model_field.empty_values:
        return  # Model.clean_fields skips these too
    cleaned = model_field.clean(accepted, model())
    assert cleaned == accepted and type(cleaned) is type(accepted)
    if isinstance(accepted, Decimal):
        assert str(cleaned) == str(accepted)
