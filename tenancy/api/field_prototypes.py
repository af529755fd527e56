"""Serializer fields built once per class and cloned cheaply per instance.

DRF builds a serializer's fields on every instantiation: it deep-copies the declared fields
(each copy re-made from its arguments, those deep-copied too: choices, querysets) and, for a
``ModelSerializer``, derives every other field from the model (field kwargs; validators, from the
model's constraints among others: the generation model has 51). A ``POST generations/`` makes
two serializers of ~50 fields each, and that was about half of its Python time.

:func:`install_field_prototypes` makes ``get_fields`` build once per serializer class (the
*prototypes*: the declared fields, plus what a ``ModelSerializer`` derives; never bound to a
serializer) and give each instance its own clones. A leaf field is cloned with a shallow copy:
the clone is bound to the instance, and an instance may still set its own fields' attributes
(``self.fields[name].read_only = True``); what it shares with the prototype (validators,
choices, error messages) nobody changes in place, as DRF's own copy already shares validators.
A list or dict field gets a clone of its child too, bound to the clone (the child finds its
serializer through ``parent``); a related field gets its own queryset object (a queryset keeps
its result cache once evaluated) over the prototype's query, which no queryset method changes in
place (each clones it first). DRF's copy re-makes a field from its arguments and
deep-copies them (a queryset's query, every choice): several times the cost of these clones,
for the same fields. Nested serializers, many-related fields (a field holding a field it
binds to itself) and choices read from a callable are still copied DRF's way. ``get_fields``
overrides that call ``super()`` keep working. What a class builds depends only on its
declaration, its model, such callables and DRF's settings (``URL_FIELD_NAME`` decides which
field a ``ModelSerializer`` builds as its URL): a change of ``REST_FRAMEWORK``
(``override_settings`` in a test) forgets every class's prototypes, as DRF reloads its
``api_settings`` then.
"""

from __future__ import annotations

import copy
import weakref

from django.core.signals import setting_changed
from django.db.models import QuerySet
from rest_framework import serializers

_PROTOTYPES = "_inkwell_field_prototypes"
# Copied DRF's way (re-made from their arguments, deep-copied).
_DEEP = (serializers.BaseSerializer, serializers.ManyRelatedField)


def _lazy_choices(field: serializers.Field) -> bool:
    """Choices from a callable (a model field's registry, ``BrandRule.rule_type``): DRF's copy
    reads them again, so a type registered later is a valid choice."""
    if not isinstance(field, serializers.ChoiceField):
        return False
    choices = field._kwargs.get("choices", field._args[0] if field._args else None)
    return not isinstance(choices, list | tuple | dict)


def _cloner(field: serializers.Field):
    """How ``field`` is cloned, decided once per prototype: most fields are leaves, whose clone
    needs none of :func:`_clone`'s checks."""
    if isinstance(field, _DEEP) or _lazy_choices(field):
        return copy.deepcopy
    if isinstance(getattr(field, "child", None), serializers.Field) or isinstance(
        getattr(field, "queryset", None), QuerySet
    ):
        return _clone
    return _clone_leaf


def _clone_leaf(field: serializers.Field) -> serializers.Field:
    """The field's own copy, without what :func:`_clone` adds for a child or a queryset."""
    # ``copy.copy`` without its generic protocol (``__reduce_ex__``, ``copyreg``): fields have no
    # ``__slots__`` and no ``__copy__``, so this is the same copy of the instance dictionary.
    clone = object.__new__(type(field))
    state = field.__dict__
    clone.__dict__.update(state)
    # The containers an instance may change in place (``field.validators.append``, an error
    # message) are its own, as after DRF's copy; the validators and messages in them are shared.
    if "_validators" in state:
        clone._validators = list(state["_validators"])
    clone.error_messages = dict(field.error_messages)
    return clone


def _clone(field: serializers.Field) -> serializers.Field:
    if isinstance(field, _DEEP) or _lazy_choices(field):
        return copy.deepcopy(field)
    clone = _clone_leaf(field)
    child = getattr(field, "child", None)
    if isinstance(child, serializers.Field):
        # ListField, DictField, HStoreField: the child is bound to its field (``field_name`` "",
        # already set on the prototype's child), and reaches the serializer through it. A child
        # copied DRF's way comes back unbound: bind it as the field's ``__init__`` did.
        clone.child = _clone(child)
        if isinstance(child, _DEEP) or _lazy_choices(child):
            clone.child.bind(field_name="", parent=clone)
        else:
            clone.child.parent = clone
    queryset = getattr(field, "queryset", None)
    if isinstance(queryset, QuerySet):
        clone.queryset = _own_queryset(queryset)
    return clone


def _own_queryset(queryset: QuerySet) -> QuerySet:
    """A queryset object of the clone's own over the same query: evaluating it caches its rows on
    it alone. ``.all()`` would also clone the query (a POST of a generation made six of them, 3 %
    of its worker's time in the bench); every queryset method clones the query before changing it,
    so the prototype's is never changed through a clone. The containers a queryset updates in
    place (hints, known related objects) are its own, as after ``.all()``."""
    if queryset._deferred_filter is not None:
        return queryset.all()  # reading ``.query`` would apply the filter to the shared query
    own = object.__new__(type(queryset))
    own.__dict__.update(queryset.__dict__)
    own._result_cache = None
    own._prefetch_done = False
    own._hints = dict(queryset._hints)
    own._known_related_objects = {
        field: dict(objects) for field, objects in queryset._known_related_objects.items()
    }
    return own


def _declared_prototypes(serializer) -> dict:
    return serializer._declared_fields


# Classes holding prototypes, so a settings change can forget them (weak: test-made classes go).
_built_classes: weakref.WeakSet = weakref.WeakSet()


def forget_field_prototypes(*, setting: str, **_signal_arguments) -> None:
    """Drop every class's prototypes (``setting_changed`` receiver for ``REST_FRAMEWORK``): the
    next instance of each builds them again from the settings now in force."""
    if setting != "REST_FRAMEWORK":
        return
    for cls in list(_built_classes):
        if _PROTOTYPES in cls.__dict__:
            delattr(cls, _PROTOTYPES)
    _built_classes.clear()


def _built_once(build):
    def get_fields(self):
        cls = type(self)
        # The class's own namespace: a subclass declares other fields and builds its own.
        prototypes = cls.__dict__.get(_PROTOTYPES)
        if prototypes is None:
            prototypes = tuple((name, field, _cloner(field)) for name, field in build(self).items())
            setattr(cls, _PROTOTYPES, prototypes)
            _built_classes.add(cls)
        return {name: clone(field) for name, field, clone in prototypes}

    get_fields.__doc__ = build.__doc__
    get_fields.builds_once = True
    return get_fields


def install_field_prototypes() -> None:
    """Build each serializer class's fields once (called from ``TenancyConfig.ready``)."""
    if getattr(serializers.Serializer.get_fields, "builds_once", False):
        return
    # A plain serializer's prototypes are its declared fields (DRF keeps them unbound).
    serializers.Serializer.get_fields = _built_once(_declared_prototypes)
    serializers.ModelSerializer.get_fields = _built_once(serializers.ModelSerializer.get_fields)
    setting_changed.connect(forget_field_prototypes, dispatch_uid="inkwell_forget_field_prototypes")
