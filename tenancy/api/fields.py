"""Serializer fields shared by every app: ids resolved inside the caller's organization, dates
inside the calendar the API accepts."""

import datetime

from rest_framework import serializers

from tenancy.context import request_organization, scope_to_organization


class TenantPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A FK id from a payload, looked up only among the caller's organization's rows.

    Another tenant's id answers exactly like an id that does not exist (400, "does not
    exist"), so ids never leak. ``allow_global=True`` also admits shared rows whose
    ``organization`` is null (global style guides, verticals). Soft-deleted rows are excluded by
    the model's default manager.
    """

    def __init__(self, *, allow_global: bool = False, **kwargs):
        self.allow_global = allow_global
        super().__init__(**kwargs)

    def get_queryset(self):
        queryset = super().get_queryset()
        request = self.context.get("request")
        organization = request_organization(request) if request is not None else None
        return scope_to_organization(queryset, organization, include_global=self.allow_global)


# Every date an API caller can send lies in this window. Outside it, date arithmetic (a report's
# default `from` is 29 days before `to`; a day's end is the next midnight) and time-zone
# conversion overflow Python's calendar (years 1-9999), and no AI generation predates 1970.
EARLIEST_DATE = datetime.date(1970, 1, 1)
LATEST_DATE = datetime.date(2999, 12, 31)


def date_out_of_bounds(value) -> str | None:
    """The error message when ``value`` (a date or datetime) lies outside the API's window."""
    day = value.date() if isinstance(value, datetime.datetime) else value
    if isinstance(day, datetime.date) and not EARLIEST_DATE <= day <= LATEST_DATE:
        return f"Enter a date between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}."
    return None


class BoundedDateField(serializers.DateField):
    """A date inside ``EARLIEST_DATE``…``LATEST_DATE`` (400 outside, never an overflow)."""

    default_error_messages = {"out_of_bounds": "{message}"}

    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        message = date_out_of_bounds(day)
        if message:
            self.fail("out_of_bounds", message=message)
        return day


class BoundedDateTimeField(serializers.DateTimeField):
    """A moment inside ``EARLIEST_DATE``…``LATEST_DATE``; a bare date means its first moment (UTC)."""

    default_error_messages = {"out_of_bounds": "{message}"}

    def to_internal_value(self, value):
        if isinstance(value, str) and len(value) == 10:
            day = BoundedDateField().to_internal_value(value)
            return datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.UTC)
        try:
            moment = super().to_internal_value(value)
        except OverflowError:
            self.fail("out_of_bounds", message=date_out_of_bounds(datetime.date.min))
        message = date_out_of_bounds(moment)
        if message:
            self.fail("out_of_bounds", message=message)
        return moment
