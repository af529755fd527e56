"""The registry of brand-rule types: one module per type in this package, found automatically.

Every consumer reads it: ``styleguides.compliance`` (validating parameters, checking a text),
``BrandRule.rule_type``'s choices, the API filter, the admin form's plain fields and
``static/styleguides/brand_rules.js`` (the field map arrives in a data attribute). Adding a type
is adding one module here with a :class:`RuleKind` subclass decorated with
:func:`register` (its stored name, label and position).
"""

from __future__ import annotations

import importlib
import pkgutil

from styleguides.rules.base import RuleKind

_REGISTRY: dict[str, RuleKind] = {}
_discovered = False


def register(rule_type: str, label: str, *, position: int = 100):
    """Class decorator: make the decorated :class:`RuleKind` the rule type stored as
    ``rule_type`` (new), shown as ``label``, at ``position`` in choices and the admin."""

    def decorate(kind_class: type[RuleKind]) -> type[RuleKind]:
        if rule_type in _REGISTRY and type(_REGISTRY[rule_type]) is not kind_class:
            raise ValueError(f"Rule type '{rule_type}' is already registered.")
        if kind_class.error_field not in kind_class.admin_fields:
            raise ValueError(f"Rule type '{rule_type}': error_field is not one of its admin_fields.")
        kind_class.type, kind_class.label, kind_class.position = rule_type, label, position
        _REGISTRY[rule_type] = kind_class()
        return kind_class

    return decorate


def unregister(rule_type: str) -> None:
    """Forget a rule type (for tests that register a throwaway one)."""
    _REGISTRY.pop(rule_type, None)


def _discover() -> None:
    global _discovered
    if not _discovered:
        _discovered = True
        for module in pkgutil.iter_modules(__path__):
            if module.name != "base":
                importlib.import_module(f"{__name__}.{module.name}")


def rule_kinds() -> list[RuleKind]:
    """Every registered type, in display order."""
    _discover()
    return sorted(_REGISTRY.values(), key=lambda kind: (kind.position, kind.type))


def rule_kind(rule_type: str) -> RuleKind | None:
    """The type stored as ``rule_type``, or ``None`` for an unknown one."""
    _discover()
    return _REGISTRY.get(rule_type)


def rule_type_choices() -> list[tuple[str, str]]:
    """``(value, label)`` of every type: the choices of ``BrandRule.rule_type`` and its filter."""
    return [(kind.type, kind.label) for kind in rule_kinds()]


def admin_fields() -> dict:
    """Every type's plain admin fields, by name (shared names declared once)."""
    fields = {}
    for kind in rule_kinds():
        for name, field in kind.admin_fields.items():
            fields.setdefault(name, field)
    return fields


def admin_field_map() -> dict[str, list[str]]:
    """Which plain fields each type shows (the admin JS hides the others)."""
    return {kind.type: list(kind.admin_fields) for kind in rule_kinds()}


def admin_rows() -> list[tuple[str, ...]]:
    """The plain fields laid out in rows: each type's fields not already placed by an earlier type."""
    placed: set[str] = set()
    rows = []
    for kind in rule_kinds():
        row = tuple(name for name in kind.admin_fields if name not in placed)
        placed.update(row)
        if row:
            rows.append(row if len(row) > 1 else row[0])
    return rows


__all__ = [
    "RuleKind",
    "admin_field_map",
    "admin_fields",
    "admin_rows",
    "register",
    "rule_kind",
    "rule_kinds",
    "rule_type_choices",
    "unregister",
]
