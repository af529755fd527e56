"""Strict input: what the client sent is what is read, or a 400 naming it, on every endpoint.

Installed once for the whole API (nothing to add per serializer or view):

- **Bodies** (and query strings read through a serializer): every DRF ``Serializer`` refuses keys
  that are not among its writable fields, before validating anything. Nested serializers and the
  items of bulk lists are serializers too, so an unknown key deep inside a body is named with its
  path (``items.3.usageMetadata``). A serializer that must take free-form keys says
  ``strict_input = False``; one that wants to say more about a refused key sets
  ``unknown_field_hints = {name: detail}``.
- **JSON types**: in a body the parser marked :class:`JSONBody`, a string, boolean, integer,
  number or id field takes only that JSON type, and a related field no ``""`` (DRF would coerce
  ``0`` to ``"0"``, ``"yes"`` to true, ``"7"`` or ``7.0`` to 7, ``""`` to null); a decimal
  (money) takes a number or a string written as JSON writes one (not ``"1_000"``, ``"١٢"`` or
  ``" 7 "``, which ``Decimal`` reads). Query strings are text and are parsed as text.
- **Query parameters**: an API request may carry only the query parameters the OpenAPI schema
  documents for its operation (filters, search, ordering, pagination, and each view's
  ``extend_schema(parameters=…)``), plus ``format``, each once unless the schema makes it a list.
  Read from drf-spectacular itself, so the documented contract and the accepted input cannot
  drift apart.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from django.http import JsonResponse, QueryDict
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, ValidationError

from tenancy.choices import ErrorCode

# Always accepted: DRF's renderer override (``?format=json``, ``?format=api``).
ALWAYS_ALLOWED_QUERY_PARAMETERS = frozenset({"format"})
UNKNOWN_FIELD = ErrorCode.UNKNOWN_FIELD.value
UNKNOWN_PARAMETER = ErrorCode.UNKNOWN_PARAMETER.value
REPEATED_PARAMETER = ErrorCode.REPEATED_PARAMETER.value


def unknown_input_fields(serializer: serializers.Serializer, data: Mapping) -> list[str]:
    """Keys of ``data`` that are not writable fields of ``serializer``, in the order sent."""
    writable = {name for name, field in serializer.fields.items() if not field.read_only}
    ignored = ALWAYS_ALLOWED_QUERY_PARAMETERS if isinstance(data, QueryDict) else frozenset()
    return [key for key in data if key not in writable and key not in ignored]


_serializer_to_internal_value = serializers.Serializer.to_internal_value


def _strict_to_internal_value(self, data):
    if getattr(self, "strict_input", True) and isinstance(data, Mapping):
        unknown = unknown_input_fields(self, data)
        if unknown:
            hints = getattr(self, "unknown_field_hints", {})
            raise ValidationError(
                {
                    name: [ErrorDetail(hints.get(name) or _unknown_detail(self, name), UNKNOWN_FIELD)]
                    for name in unknown
                }
            )
    return _serializer_to_internal_value(self, data)


class CreateOnlyFieldsMixin:
    """A serializer whose ``Meta.create_only_fields`` are given when a row is created and never
    changed after: on an update they are read-only, so strict input refuses them by name (a 400
    ``unknown_field``, with the serializer's ``unknown_field_hints``) instead of a 200 that changed
    nothing, and the schema documents the update body without them
    (:func:`update_serializer`, read by ``tenancy.api.schema.InkwellAutoSchema``)."""

    # True on the class the schema documents updates with (no instance there).
    documents_update = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance is not None or self.documents_update:
            for name in self.Meta.create_only_fields:
                if name in self.fields:  # a nested variant may leave one out
                    self.fields[name].read_only = True


@functools.cache
def update_serializer(serializer_class: type) -> type:
    """``serializer_class`` as an update reads a body: a subclass whose create-only fields are
    read-only, named ``<Name>Update`` so PUT and PATCH get their own schema components."""
    name = serializer_class.__name__.removesuffix("Serializer")
    return type(f"{name}UpdateSerializer", (serializer_class,), {"documents_update": True})


def _unknown_detail(serializer, name: str) -> str:
    if name in serializer.fields:
        return f"`{name}` is read-only here."
    accepted = ", ".join(sorted(n for n, f in serializer.fields.items() if not f.read_only))
    return f"Unknown field `{name}`. Accepted: {accepted or 'none'}."


_choice_field_fail = serializers.ChoiceField.fail


def _fail_listing_choices(self, key, **kwargs):
    """An invalid choice says which values are valid (DRF only says the input is not one)."""
    if key == "invalid_choice":
        valid = ", ".join(f'"{choice}"' for choice in self.choices)
        raise ValidationError(
            f'"{kwargs.get("input")}" is not a valid choice. Valid choices: {valid}.', code="invalid_choice"
        )
    _choice_field_fail(self, key, **kwargs)


class JSONBody(dict):
    """A request body's top-level object as :class:`~tenancy.api.parsers.StrictJSONParser` read it:
    every value in it has the type the client wrote in JSON. Serializers given one check types."""


def from_json_body(field: serializers.Field) -> bool:
    """Whether ``field`` is validating a value of a JSON request body (not a query string, nor
    a dict our own code built, such as an integration's translation of a span)."""
    return isinstance(getattr(field.root, "initial_data", None), JSONBody)


# JSON's type of each kind of field, as the schema publishes it: a string field takes a string, a
# boolean true or false, an integer a whole number (not 1.0, "1" or true), a number any number.
# DRF coerces (0 to "0", "yes" to true, "7" to 7): a body that says otherwise is a client's mistake
# the API answers instead of recording something the client did not write. Decimal fields
# (money) take a string or a number, as their documentation says.
# Each with the key of the field's own error message for a value of the wrong kind.
_JSON_TYPES = {
    serializers.CharField: ((str,), "invalid"),
    serializers.BooleanField: ((bool,), "invalid"),
    serializers.IntegerField: ((int,), "invalid"),
    serializers.FloatField: ((int, float), "invalid"),
    # An id: "5" or 5.0 would find row 5.
    serializers.PrimaryKeyRelatedField: ((int,), "incorrect_type"),
}


def _typed(field_class: type, accepted: tuple[type, ...], error: str):
    parse = field_class.to_internal_value
    excluded = () if bool in accepted else (bool,)

    def to_internal_value(self, data):
        if (not isinstance(data, accepted) or isinstance(data, excluded)) and from_json_body(self):
            self.fail(error, data_type=type(data).__name__)
        return parse(self, data)

    return to_internal_value


# A decimal written as text is written as JSON writes a number (a sign, ASCII digits, a point, an
# exponent). Python's ``Decimal`` reads more, and DRF passes the text to it stripped: "1_000"
# (1000), "١٢" (Arabic-Indic digits: 12), "  7  ".
_DECIMAL_TEXT = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def _decimal_as_written(parse):
    def to_internal_value(self, data):
        if isinstance(data, str) and not _DECIMAL_TEXT.fullmatch(data) and from_json_body(self):
            self.fail("invalid")
        return parse(self, data)

    return to_internal_value


_related_run_validation = serializers.RelatedField.run_validation


def _related_without_blank(self, data=serializers.empty):
    # DRF reads "" as null for every related field (a form's empty select); in JSON a client
    # that means no row sends null, and "" for a slug or an id is a mistake to name.
    if isinstance(data, str) and data == "" and from_json_body(self):
        raise ValidationError("Send null for no value, not an empty string.", code="blank")
    return _related_run_validation(self, data)


def install_strict_serializers() -> None:
    """Make every DRF serializer refuse unknown keys, every field of a JSON body refuse a value
    of another JSON type, and every choice error list the valid values (called once from
    ``TenancyConfig.ready``).

    DRF has no setting for any of these; wrapping the one method every serializer's validation passes
    through is the single place that covers nested and list serializers too.
    """
    serializers.Serializer.to_internal_value = _strict_to_internal_value
    serializers.ChoiceField.fail = _fail_listing_choices
    for field_class, (accepted, error) in _JSON_TYPES.items():
        field_class.to_internal_value = _typed(field_class, accepted, error)
    serializers.DecimalField.to_internal_value = _decimal_as_written(
        serializers.DecimalField.to_internal_value
    )
    serializers.RelatedField.run_validation = _related_without_blank


@dataclass(frozen=True)
class QueryParameters:
    """An operation's documented query parameters: all of them, and those that take a list
    (``?model=a&model=b``); any other may be given once."""

    names: frozenset[str]
    lists: frozenset[str]


class _DocumentedQueryParameters:
    """Which query parameters the schema documents, per (view class, action, HTTP method).

    The URL patterns are enumerated once per process (cheap); each operation's parameters are
    computed by drf-spectacular the first time that operation is called, then kept (generating
    the whole schema up front would cost seconds on every worker's first request).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._generator = None
        self._endpoints: dict[tuple, tuple] | None = None
        self._names: dict[tuple, QueryParameters | None] = {}

    def _enumerate(self) -> dict[tuple, tuple]:
        from drf_spectacular.generators import SchemaGenerator

        self._generator = SchemaGenerator()
        self._generator._initialise_endpoints()
        return {
            (type(view), getattr(view, "action", None), method.upper()): (path, path_regex, method, view)
            for path, path_regex, method, view in self._generator._get_paths_and_endpoints()
        }

    def _operation_names(self, endpoint) -> frozenset[str] | None:
        from drf_spectacular.settings import spectacular_settings

        path, path_regex, method, view = endpoint
        prefix = spectacular_settings.SCHEMA_PATH_PREFIX or "/"
        prefix = prefix if prefix.startswith("^") else "^" + prefix
        view.request = spectacular_settings.GET_MOCK_REQUEST(method, path, view, None)
        operation = view.schema.get_operation(path, path_regex, prefix, method, self._generator.registry)
        if not operation:
            return None
        query = [p for p in operation.get("parameters", []) if p.get("in") == "query"]
        return QueryParameters(
            names=frozenset(p["name"] for p in query),
            lists=frozenset(p["name"] for p in query if p.get("schema", {}).get("type") == "array"),
        )

    def for_view(self, view_class, action, method) -> QueryParameters | None:
        """The documented parameters, or None for a view the schema does not describe."""
        key = (view_class, action, method)
        if key in self._names:
            return self._names[key]
        with self._lock:
            if self._endpoints is None:
                self._endpoints = self._enumerate()
            endpoint = self._endpoints.get(key)
            self._names[key] = None if endpoint is None else self._operation_names(endpoint)
        return self._names[key]


documented_query_parameters = _DocumentedQueryParameters()


class StrictQueryParametersMiddleware:
    """Answers 400 naming every query parameter the schema does not document for the operation.

    Runs as ``process_view`` so it knows the DRF view class and action; views outside the schema
    (schema, docs, admin) are left alone.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        view_class = getattr(view_func, "cls", None)
        if view_class is None or not request.path.startswith("/api/") or not request.GET:
            return None
        method = request.method.upper()
        actions = getattr(view_func, "actions", None)
        action = actions.get(method.lower()) if actions else None
        if method == "HEAD" and actions:
            action = actions.get("get")
        lookup_method = "GET" if method == "HEAD" else method
        documented = documented_query_parameters.for_view(view_class, action, lookup_method)
        if documented is None:
            return None
        accepted = ", ".join(sorted(documented.names)) or "none"
        errors = [
            {
                "code": UNKNOWN_PARAMETER,
                "detail": f"Unknown query parameter `{name}`. This endpoint takes: {accepted}.",
                "attr": name,
            }
            for name in request.GET
            if name not in documented.names | ALWAYS_ALLOWED_QUERY_PARAMETERS
        ]
        # ``?status=failed&status=success`` would filter by whichever one the filter read: say so.
        errors += [
            {
                "code": REPEATED_PARAMETER,
                "detail": f"`{name}` is given {len(request.GET.getlist(name))} times; it takes one value.",
                "attr": name,
            }
            for name in request.GET
            if name in documented.names - documented.lists and len(request.GET.getlist(name)) > 1
        ]
        if not errors:
            return None
        return JsonResponse({"type": "validation_error", "errors": errors}, status=400)
