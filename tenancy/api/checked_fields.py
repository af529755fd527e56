"""Which model fields an input serializer has already checked as strictly as the model would.

A write service checks the row it builds (``Model.clean_fields``), since values reach it from
several places: the API's serializers, the OTLP and LiteLLM translations, management commands.
For a value that came through an API serializer whose field refuses everything the model field
would refuse, that second check repeats the first: for a bench ``POST generations/`` the row's
check took ~110 µs of ~2,650 µs of Python on a slow box, ~40 µs once it skips those fields.

:func:`checked_fields` proves it field by field, from the two fields' declarations, once per
serializer class: a field counts only when its serializer field is one of DRF's own kinds used
as DRF defines it (text, choice, integer, decimal, date-time, boolean, JSON), the model field is
Django's own of the matching kind, and each rule of the model field (null, blank, length,
choices, range, digits, every validator) is implied by a rule of the serializer field. Anything
else (a subclass with its own ``to_internal_value``, a model validator the serializer does not
carry, a ``validate_<field>`` method that may replace the value, a default the model would
refuse: DRF returns a default unchecked) is not counted, so it is checked twice, as before.
``tenancy.services.clean_unchecked_fields`` then skips a counted field only while the row still
holds the very object the serializer returned: a value the service replaced (inherited from a
parent, computed, defaulted) is checked.

One assumption is the API's, not the declarations': a ``DictField`` or ``ListField`` leaves its
values as the request's parser made them, and the API's only parser is JSON
(``tenancy.api.parsers.StrictJSONParser``), whose values always dump as the model's JSON check
requires. The views that pass the proof on (``tenancy.api.viewsets.IdempotentCreateMixin``)
validate ``request.data``; code that feeds a serializer built values calls the services without it.
"""

from __future__ import annotations

import functools

from django.core import validators as django_validators
from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from rest_framework import fields as drf_fields
from rest_framework import serializers

# Serializer field kinds: DRF's class whose conversion a field must use unchanged, and the
# Django model field classes whose ``to_python``/``validate`` accept that kind's output as is.
_TEXT, _CHOICE, _INTEGER, _DECIMAL, _DATETIME, _BOOLEAN, _JSON = range(7)
_SERIALIZER_KINDS = (
    (_CHOICE, serializers.ChoiceField),
    (_TEXT, serializers.CharField),
    (_INTEGER, serializers.IntegerField),
    (_DECIMAL, serializers.DecimalField),
    (_DATETIME, serializers.DateTimeField),
    (_BOOLEAN, serializers.BooleanField),
    (_JSON, serializers.JSONField),
    (_JSON, serializers.DictField),
    (_JSON, serializers.ListField),
)
_MODEL_KINDS = {
    _TEXT: (models.CharField, models.TextField),
    _CHOICE: (models.CharField, models.TextField),
    _INTEGER: (models.IntegerField,),
    _DECIMAL: (models.DecimalField,),
    _DATETIME: (models.DateTimeField,),
    _BOOLEAN: (models.BooleanField,),
    _JSON: (models.JSONField,),
}


def _serializer_kind(field: serializers.Field) -> int | None:
    """The kind of ``field``'s output, if it converts and validates exactly as DRF's class of that
    kind does (a subclass may add validators, not change the conversion)."""
    for kind, base in _SERIALIZER_KINDS:
        if isinstance(field, base):
            cls = type(field)
            converts = cls.to_internal_value is base.to_internal_value
            return kind if converts and cls.run_validation is base.run_validation else None
    return None


def _model_kind_matches(field: models.Field, kind: int) -> bool:
    """``field`` is one of Django's fields of ``kind``, converting and validating as Django's does."""
    for base in _MODEL_KINDS[kind]:
        if isinstance(field, base):
            cls = type(field)
            return (
                cls.to_python is base.to_python
                and cls.validate is base.validate
                and cls.clean is models.Field.clean
                and cls.run_validators is models.Field.run_validators
            )
    return False


def _limit(validator) -> object | None:
    limit = getattr(validator, "limit_value", None)
    return None if callable(limit) else limit


def _bound_implied(field: serializers.Field, validator) -> bool:
    """A model's ``MinValueValidator``/``MaxValueValidator`` holds for every value ``field``
    (an integer or decimal field) accepts."""
    limit = _limit(validator)
    if limit is None:
        return False
    if type(validator) is django_validators.MinValueValidator:
        return field.min_value is not None and field.min_value >= limit
    if type(validator) is django_validators.MaxValueValidator:
        return field.max_value is not None and field.max_value <= limit
    return False


def _validator_implied(field: serializers.Field, model_field: models.Field, kind: int, validator) -> bool:
    """Every value ``field`` accepts passes the model field's ``validator``."""
    if any(validator == own for own in field.validators):
        return True
    if type(validator) is django_validators.MaxLengthValidator and kind in (_TEXT, _CHOICE):
        limit, longest = _limit(validator), _max_length(field, kind)
        return limit is not None and longest is not None and longest <= limit
    if kind in (_INTEGER, _DECIMAL) and _bound_implied(field, validator):
        return True
    if kind == _DECIMAL and type(validator) is django_validators.DecimalValidator:
        return (
            field.max_digits is not None
            and field.decimal_places is not None
            and validator.max_digits is not None
            and validator.decimal_places is not None
            and field.max_digits <= validator.max_digits
            and field.decimal_places <= validator.decimal_places
            and field.max_digits - field.decimal_places <= validator.max_digits - validator.decimal_places
        )
    return False


def _choice_values(field: serializers.ChoiceField) -> list:
    return list(field.choice_strings_to_values.values())


def _max_length(field: serializers.Field, kind: int) -> int | None:
    """The longest text ``field`` returns (None: unbounded)."""
    if kind == _CHOICE:
        return max((len(value) for value in _choice_values(field)), default=0)  # texts: see _covers
    return field.max_length


def _default_accepted(field: serializers.Field, model_field: models.Field) -> bool:
    """A default the serializer returns for a field not sent (which no check of the field's
    sees: DRF hands it over as declared) is one the model accepts unchanged."""
    if field.default is drf_fields.empty:
        return True
    if callable(field.default):
        return False  # a value made per request, unknown here
    try:
        return model_field.clean(field.default, None) == field.default
    except DjangoValidationError:
        return False


def _covers(field: serializers.Field, model_field: models.Field) -> bool:
    """Every value ``field`` accepts or defaults to is one ``model_field.clean`` accepts unchanged."""
    kind = _serializer_kind(field)
    if kind is None or not _model_kind_matches(model_field, kind):
        return False
    if not _default_accepted(field, model_field):
        return False
    # None is one of the model's empty values: refused unless the field is null and blank too.
    if field.allow_null and not (model_field.null and model_field.blank):
        return False
    if kind in (_TEXT, _CHOICE):
        if getattr(field, "allow_blank", False) and not model_field.blank:
            return False
        if kind == _TEXT and model_field.choices:
            return False
        if kind == _CHOICE:
            values = _choice_values(field)
            if not all(isinstance(value, str) for value in values):
                return False
            if model_field.choices and not set(values) <= {str(key) for key, _ in model_field.flatchoices}:
                return False
    elif model_field.choices:
        return False
    if kind == _JSON:
        # An empty object or list is one of the model's empty values, refused unless blank; the
        # model dumps the value with its encoder, which only the standard one matches here.
        if not model_field.blank or model_field.encoder is not None:
            return False
        if isinstance(field, serializers.JSONField):
            if field.binary or field.encoder is not None:
                return False
        elif type(field.child) is not drf_fields._UnvalidatedField:
            return False
    # The rest (a text's length, a number's range and digits) are the model field's validators.
    return all(_validator_implied(field, model_field, kind, each) for each in model_field.validators)


@functools.cache
def checked_fields(
    serializer_class: type[serializers.Serializer], model: type[models.Model]
) -> frozenset[str]:
    """Names of ``model``'s fields that ``serializer_class`` checks at least as strictly as the
    model does (see the module docstring): a value it returned for one of them needs no second
    check while it is unchanged. The serializer's ``validate()`` may refuse values, not replace
    them with others (its fields' values are what this vouches for). Relations are never counted
    (their checks are queries the services decide on)."""
    serializer = serializer_class(context={})
    names = set()
    for name, field in serializer.fields.items():
        if field.read_only or "." in field.source or field.source == "*":
            continue
        if callable(getattr(serializer, f"validate_{name}", None)):
            continue  # it may return another value than the field checked
        try:
            model_field = model._meta.get_field(field.source)
        except FieldDoesNotExist:  # an input the service reads, not a column
            continue
        if not model_field.concrete or model_field.is_relation or model_field.generated:
            continue
        if _covers(field, model_field):
            names.add(model_field.name)
    return frozenset(names)
