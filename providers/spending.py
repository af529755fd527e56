"""Spending that budgets count, read from the apps that record it without importing them.

Providers sits below generations and analytics (apps depend downward only), yet budgets must
count what those apps record. So they *register* a spend source here, usually in their
``AppConfig.ready()``::

    from providers.spending import SpendTotals, register_spend_source

    def generation_spend(*, organization, since, until, user_ref=None, credential_fingerprint=None):
        ...  # one aggregate query over the app's own rows
        return SpendTotals(cost_usd=..., requests=...)

    register_spend_source(generation_spend, name="generations")

Each source counts only spending it owns (two sources must not both count the same call) over
``[since, until)``, narrowed to ``user_ref`` and/or ``credential_fingerprint`` when given, and
never another organization's rows. Registering again under a name replaces that source, so
analytics can later swap raw rows for rollups without touching budgets.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from tenancy.models import Organization


@dataclass(frozen=True)
class SpendTotals:
    """Money spent and requests made in a window."""

    cost_usd: Decimal = Decimal(0)
    requests: int = 0

    def __add__(self, other: SpendTotals) -> SpendTotals:
        if not isinstance(other, SpendTotals):
            return NotImplemented
        return SpendTotals(cost_usd=self.cost_usd + other.cost_usd, requests=self.requests + other.requests)


class SpendSource(Protocol):
    def __call__(
        self,
        *,
        organization: Organization,
        since: datetime.datetime,
        until: datetime.datetime,
        user_ref: str | None = None,
        credential_fingerprint: str | None = None,
    ) -> SpendTotals: ...


_sources: dict[str, Callable[..., SpendTotals]] = {}


def register_spend_source(source: SpendSource, *, name: str | None = None) -> None:
    """Count ``source`` in every budget check from now on (replacing one of the same name)."""
    _sources[name or f"{source.__module__}.{source.__qualname__}"] = source


def unregister_spend_source(name_or_source: str | SpendSource) -> None:
    """Stop counting a source (by name or by the callable); unknown ones are ignored."""
    for name, source in list(_sources.items()):
        if name == name_or_source or source is name_or_source:
            del _sources[name]


def registered_spend_sources() -> dict[str, SpendSource]:
    """The registered sources by name (a copy)."""
    return dict(_sources)


def spend_between(
    *,
    organization: Organization,
    since: datetime.datetime,
    until: datetime.datetime,
    user_ref: str | None = None,
    credential_fingerprint: str | None = None,
) -> SpendTotals:
    """What ``organization`` spent in ``[since, until)``, summed over every registered source.

    The selector budgets read; narrowing by user or credential is passed to each source.
    """
    total = SpendTotals()
    for source in _sources.values():
        total += source(
            organization=organization,
            since=since,
            until=until,
            user_ref=user_ref,
            credential_fingerprint=credential_fingerprint,
        )
    return total
