"""Money in admin lists: USD amounts are stored with 10 decimals (exact, as the API answers them),
but a column of ``0.0012345600`` helps nobody. List columns of ``*_usd`` decimal fields show a
sensible precision, with the exact amount in the tooltip."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.contrib import admin
from django.db import models
from django.utils.html import format_html

SMALL_AMOUNT_PLACES = 6


def format_usd(value: Decimal | None) -> str:
    """``$1,234.50`` from a dollar up; smaller amounts to six decimals, trailing zeros dropped
    (at least two kept): ``$0.001235``, ``$0.00``."""
    if value is None:
        return "—"
    sign, amount = ("-" if value < 0 else ""), abs(Decimal(value))
    if amount >= 1:
        return f"{sign}${amount.quantize(Decimal('0.01'), ROUND_HALF_UP):,}"
    text = f"{amount.quantize(Decimal(1).scaleb(-SMALL_AMOUNT_PLACES), ROUND_HALF_UP):f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"{sign}${whole}.{fraction.ljust(2, '0')}"


def usd_column(model, name: str):
    """A list column showing ``model.<name>`` with :func:`format_usd`, exact value as a tooltip."""
    field = model._meta.get_field(name)

    @admin.display(description=field.verbose_name, ordering=name)
    def column(obj):
        value = getattr(obj, name)
        if value is None:
            return "—"
        return format_html('<span title="{}">{}</span>', value, format_usd(value))

    column.__name__ = name
    return column


def is_usd_field(model, name) -> bool:
    if not isinstance(name, str) or not name.endswith("_usd"):
        return False
    try:
        return isinstance(model._meta.get_field(name), models.DecimalField)
    except Exception:
        return False


class MoneyColumnsMixin:
    """For ModelAdmins: ``*_usd`` decimal columns of ``list_display`` shown by :func:`usd_column`."""

    def get_list_display(self, request):
        return [
            usd_column(self.model, name) if is_usd_field(self.model, name) else name
            for name in super().get_list_display(request)
        ]
