"""Output serializers derived from the dataclasses services and selectors return, so a result's
fields are declared once (on the dataclass) and the API shows them in the same order."""

from __future__ import annotations

import copy
import dataclasses
import types
import typing

from rest_framework import serializers

# The serializer field of each annotation a result dataclass uses (``X | None`` adds allow_null).
SCALAR_FIELDS = {
    str: serializers.CharField,
    int: serializers.IntegerField,
    float: serializers.FloatField,
    bool: serializers.BooleanField,
    dict: serializers.DictField,
}


def _field_for(annotation) -> serializers.Field:
    kwargs = {}
    members = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in members:
        kwargs["allow_null"] = True
        (annotation,) = [member for member in members if member is not type(None)]
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        return serializers.ListField(child=SCALAR_FIELDS[item](), **kwargs)
    return SCALAR_FIELDS[annotation](**kwargs)


def dataclass_serializer(name: str, dataclass: type, **declared: serializers.Field) -> type:
    """A read-only ``Serializer`` class called ``name`` (its schema component is ``name`` without
    ``Serializer``) with one field per field of ``dataclass``, in its order, typed from its
    annotation; ``declared`` fields replace derived ones (a help text, another field class)."""
    hints = typing.get_type_hints(dataclass)
    unknown = set(declared) - {field.name for field in dataclasses.fields(dataclass)}
    if unknown:
        raise TypeError(f"{dataclass.__name__} has no field {', '.join(sorted(unknown))}.")
    # DRF orders declared fields by when they were made: a copy (a new field) keeps the
    # dataclass's order for the ones given here.
    fields = {}
    for field in dataclasses.fields(dataclass):
        given = declared.get(field.name)
        fields[field.name] = _field_for(hints[field.name]) if given is None else copy.deepcopy(given)
    return type(name, (serializers.Serializer,), fields)
