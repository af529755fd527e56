"""Serializer fields shared by every app: ids resolved inside the caller's organization, request
ids compared exactly, dates inside the calendar the API accepts (every date and moment a body
sends, through :func:`install_bounded_dates`)."""

import datetime

from rest_framework import serializers
from rest_framework.exceptions import ValidationError

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


class RequestIdField(serializers.CharField):
    """A client's request id, the key its row is recorded under (idempotency): kept exactly as
    sent. Whitespace at either end is refused (400) rather than trimmed, as DRF's ``CharField``
    would: a trimmed key silently made ``"r-1 "`` the replay of ``"r-1"``, and the row's
    ``request_id`` differed from the one the client keeps."""

    default_error_messages = {
        "padded": "A request id is compared exactly: remove the whitespace at its start or end.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 200)
        super().__init__(trim_whitespace=False, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value != value.strip():
            self.fail("padded")
        return value


def _hex_id(digits: int, help_text: str) -> serializers.RegexField:
    return serializers.RegexField(
        rf"^[0-9a-f]{{{digits}}}$",
        required=False,
        allow_blank=True,
        help_text=help_text,
        error_messages={"invalid": f"Expected {digits} lowercase hexadecimal digits."},
    )


class TraceContextFields(serializers.Serializer):
    """The W3C trace context a client sends with a recorded call (a generation, a provider
    call): each id optional, blank or lowercase hex of its length."""

    trace_id = _hex_id(32, "The client's trace id: 32 lowercase hex digits (W3C trace context).")
    span_id = _hex_id(16, "The client's span id: 16 lowercase hex digits.")
    parent_span_id = _hex_id(16, "The span this call ran under: 16 lowercase hex digits.")


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


OUT_OF_BOUNDS = "out_of_bounds"

_date_to_internal_value = serializers.DateField.to_internal_value
_datetime_to_internal_value = serializers.DateTimeField.to_internal_value


def _bounded(parse):
    def to_internal_value(self, value):
        try:
            parsed = parse(self, value)
        except ValidationError as error:
            # DRF's own "Datetime value out of range." (year 1 shifted below year 1 by its offset).
            if any(getattr(detail, "code", None) == "overflow" for detail in error.detail):
                raise ValidationError(date_out_of_bounds(datetime.date.min), code=OUT_OF_BOUNDS) from None
            raise
        message = date_out_of_bounds(parsed)
        if message:
            raise ValidationError(message, code=OUT_OF_BOUNDS)
        return parsed

    return to_internal_value


def install_bounded_dates() -> None:
    """Every DRF ``DateField`` and ``DateTimeField`` of the API (declared, or made by a
    ``ModelSerializer`` from a model field) refuses a value outside ``EARLIEST_DATE``…
    ``LATEST_DATE`` with a 400 ``out_of_bounds``, as the filters and report windows do: a
    generation of year 1 or 9999 is a typo, and one a report, a budget or retention would
    misread. Called once from ``TenancyConfig.ready``; output is unchanged."""
    serializers.DateField.to_internal_value = _bounded(_date_to_internal_value)
    serializers.DateTimeField.to_internal_value = _bounded(_datetime_to_internal_value)


class BoundedDateTimeField(serializers.DateTimeField):
    """A moment in the API's window (as every ``DateTimeField``, :func:`install_bounded_dates`)
    that may also be written as a bare date, meaning its first moment (UTC)."""

    def to_internal_value(self, value):
        if isinstance(value, str) and len(value) == 10:
            day = serializers.DateField().to_internal_value(value)
            return datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.UTC)
        return super().to_internal_value(value)
