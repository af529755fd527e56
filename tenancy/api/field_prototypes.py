"""Model serializer fields built once per class, copied per instance.

DRF builds a ``ModelSerializer``'s fields on every instantiation: it deep-copies the declared
fields and derives every other one from the model (field kwargs; validators, from the model's
constraints among others: the generation model has 51). For the generation's ~50-field output
that build was about a third of a ``POST generations/``, since every request instantiates its
serializers anew.

:func:`install_field_prototypes` makes ``ModelSerializer.get_fields`` build once per serializer
class (the *prototypes*, never bound to a serializer) and give each instance a deep copy, which
is what DRF itself does with declared fields: an instance may still change its own fields
(``self.fields[name].read_only = True``), and ``get_fields`` overrides that call ``super()``
keep working. What the build makes depends only on the class's declaration and its model.
"""

from __future__ import annotations

import copy

from rest_framework import serializers

_PROTOTYPES = "_inkwell_field_prototypes"


def _built_once(build):
    def get_fields(self):
        cls = type(self)
        # The class's own namespace: a subclass declares other fields and builds its own.
        prototypes = cls.__dict__.get(_PROTOTYPES)
        if prototypes is None:
            prototypes = build(self)
            setattr(cls, _PROTOTYPES, prototypes)
        return copy.deepcopy(prototypes)

    get_fields.__doc__ = build.__doc__
    get_fields.builds_once = True
    return get_fields


def install_field_prototypes() -> None:
    """Build each model serializer class's fields once (called from ``TenancyConfig.ready``)."""
    if not getattr(serializers.ModelSerializer.get_fields, "builds_once", False):
        serializers.ModelSerializer.get_fields = _built_once(serializers.ModelSerializer.get_fields)
