"""Every error code an API response can carry: one registry, which the OpenAPI schema's error
responses enumerate (issue 11: the schema tells the truth).

Derived where the code is declared, typed once where it is not:

- every ``default_error_messages`` key of DRF's serializer fields and Django's form and model
  fields (serializers, django-filter forms and ``full_clean`` answer with these), and the codes
  of Django's validators;
- ``default_code`` of every DRF ``APIException`` and ``code`` of every ``DomainError`` subclass
  (each app's errors are found by walking the subclasses, so adding one adds its code);
- :class:`tenancy.choices.ErrorCode`: codes our code passes by name (``code="unique"``).

``tests/tenancy/test_error_codes.py`` finds every ``code="…"`` in the source and checks it is
here, so a new code cannot go undocumented.
"""

from __future__ import annotations

import functools
import inspect

from django import forms
from django.core import validators
from django.db import models
from rest_framework import exceptions, serializers

from tenancy.choices import ErrorCode
from tenancy.errors import DomainError


def _with_subclasses(cls: type) -> list[type]:
    found, stack = [], [cls]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(current.__subclasses__())
    return found


def _validator_codes() -> set[str]:
    codes = set()
    for _, cls in inspect.getmembers(validators, inspect.isclass):
        code = getattr(cls, "code", None)
        if isinstance(code, str):
            codes.add(code)
        messages = getattr(cls, "messages", None)
        if isinstance(messages, dict):  # DecimalValidator: max_digits, max_decimal_places, …
            codes.update(messages)
    return codes


@functools.cache
def error_codes() -> tuple[str, ...]:
    """All codes, sorted. Cached on first use: call it once every app's modules are imported
    (schema generation is; importing the URLconf imports every view and service)."""
    codes = set(ErrorCode.values) | _validator_codes()
    # Model fields too: ``full_clean`` in a service raises their codes (``invalid_choice``, ``null``).
    for base in (serializers.Field, forms.Field, models.Field):
        for cls in _with_subclasses(base):
            codes.update(getattr(cls, "default_error_messages", {}) or {})
    codes.update(str(cls.default_code) for cls in _with_subclasses(exceptions.APIException))
    codes.update(cls.code for cls in _with_subclasses(DomainError))
    return tuple(sorted(codes))


def error_code_choices() -> list[tuple[str, str]]:
    """``error_codes()`` as choices for a serializer field."""
    return [(code, code) for code in error_codes()]
