"""The FilterSet base every API filter set uses: foreign ids that leak nothing, bounded dates."""

from __future__ import annotations

import datetime
from collections.abc import Mapping

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django_filters.fields import IsoDateTimeField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from tenancy.api.fields import date_out_of_bounds


@extend_schema_field(OpenApiTypes.INT)  # not "number": django-filter's NumberFilter documents any decimal
class IntegerFilter(django_filters.NumberFilter):
    """A whole number (django-filter's ``NumberFilter`` takes any decimal: ``?status_code=0.5``
    would compare an integer column with 0.5 and answer nothing instead of a 400)."""

    field_class = forms.IntegerField


class ForeignIdFilter(IntegerFilter):
    """Filter by a related row's id without looking the row up.

    django-filter's default for a foreign key validates the id against every row of the related
    table, so an id that does not exist was a 400 while another tenant's id was a 200 with no
    results: an existence oracle. This filter only checks the id is an integer and compares it,
    so a missing id and another tenant's id both answer an empty list (the list is already scoped
    to the caller's organization).
    """


class UTCIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 moment, converted to UTC: PostgreSQL refuses offsets beyond ±15:59, and an
    instant that leaves the representable range after conversion is an invalid value (400)."""

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None or parsed.tzinfo is None:
            return parsed
        try:
            return parsed.astimezone(datetime.UTC)
        except OverflowError as exc:
            raise ValidationError(
                "Enter a moment between the years 1 and 9999 (UTC).", code="invalid"
            ) from exc


class UTCIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCIsoDateTimeField


def _invalid_choice_message(field: forms.ChoiceField) -> str:
    """Django's "not one of the available choices", naming them (issue 11: choice errors list the
    valid values), in the same words as a body field's (``tenancy.api.strict``)."""
    valid = ", ".join(f'"{value}"' for value, _label in field.choices if value not in ("", None))
    # ``%%`` survives the form's ``%`` formatting of ``value`` if a choice ever holds a percent sign.
    return f'"%(value)s" is not a valid choice. Valid choices: {valid.replace("%", "%%")}.'


# What a boolean query parameter takes (as JSON writes them, and Python's spelling).
BOOLEANS = frozenset({"true", "false", "True", "False"})
BOOLEAN_ERROR = "Enter true or false."


def query_boolean(query: Mapping[str, str], name: str) -> bool:
    """A boolean query parameter a view reads itself (filters check theirs in
    :class:`TenantFilterSet`): absent or empty is false, anything but true or false a 400."""
    raw = query.get(name) or ""
    if raw and raw not in BOOLEANS:
        raise serializers.ValidationError({name: [ErrorDetail(BOOLEAN_ERROR, code="invalid")]})
    return raw.lower() == "true"


class TenantFilterSet(django_filters.FilterSet):
    """Base of every API FilterSet.

    - foreign keys named in ``Meta.fields`` become :class:`ForeignIdFilter`, integer columns
      :class:`IntegerFilter`;
    - a choice filter's invalid value is a 400 that lists the valid values;
    - every date or moment must lie in the API's window (``tenancy.api.fields.EARLIEST_DATE`` …
      ``LATEST_DATE``), so a year-1 date is a 400, not an ``OverflowError``;
    - a boolean is ``true`` or ``false``: django-filter reads anything else (``1``, ``yes``,
      ``null``) as "no filter" and answers every row, which is not what was asked.
    """

    FILTER_DEFAULTS = {
        **django_filters.FilterSet.FILTER_DEFAULTS,
        **{
            field_class: {"filter_class": IntegerFilter}
            for field_class in django_filters.FilterSet.FILTER_DEFAULTS
            if issubclass(field_class, models.IntegerField)
        },
        models.ForeignKey: {"filter_class": ForeignIdFilter},
        models.OneToOneField: {"filter_class": ForeignIdFilter},
        models.DateTimeField: {"filter_class": UTCIsoDateTimeFilter},
    }

    def is_valid(self):
        for field in self.form.fields.values():
            if isinstance(field, forms.ChoiceField):
                field.error_messages["invalid_choice"] = _invalid_choice_message(field)
        super().is_valid()
        # Checked whatever else is wrong, so one answer names every bad parameter.
        for name, field in self.form.fields.items():
            raw = self.form.data.get(self.form.add_prefix(name))
            if isinstance(field, forms.NullBooleanField) and raw not in (None, "") and raw not in BOOLEANS:
                self.form.add_error(name, forms.ValidationError(BOOLEAN_ERROR, code="invalid"))
        for name, value in list(self.form.cleaned_data.items()):
            if isinstance(value, datetime.date):
                message = date_out_of_bounds(value)
                if message:
                    self.form.add_error(name, forms.ValidationError(message, code="out_of_bounds"))
        self._check_ranges()
        return not self.form.errors

    def _check_ranges(self) -> None:
        """A lower bound past the upper one on the same column (``week_from`` after ``week_to``)
        is a 400 ``invalid_range`` naming the lower, as the reports answer it: it can match
        nothing, and an empty 200 reads as "no rows in that range"."""
        bounds: dict[str, dict[str, tuple[str, object]]] = {}
        for name, filter_ in self.filters.items():
            value = self.form.cleaned_data.get(name)
            if value is None or filter_.lookup_expr not in ("gt", "gte", "lt", "lte"):
                continue
            side = "lower" if filter_.lookup_expr in ("gt", "gte") else "upper"
            bounds.setdefault(filter_.field_name, {})[side] = (name, value)
        for pair in bounds.values():
            if "lower" in pair and "upper" in pair:
                (lower_name, lower), (upper_name, upper) = pair["lower"], pair["upper"]
                if type(lower) is type(upper) and lower > upper:
                    self.form.add_error(
                        lower_name,
                        forms.ValidationError(
                            f"`{lower_name}` is after `{upper_name}`.", code="invalid_range"
                        ),
                    )
