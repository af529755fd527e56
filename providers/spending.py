"""Spending that budgets count, read from the apps that record it without importing them.

Providers sits below generations and analytics (apps depend downward only), yet budgets must
count what those apps record. So they *register* a spend source here, usually in their
``AppConfig.ready()``::

    from providers.spending import SpendScope, SpendTotals, register_spend_source

    def generation_spend(scope: SpendScope, *, since, until):
        ...  # one aggregate query over the app's own rows of scope.organization
        return SpendTotals(cost_usd=..., requests=...)

    register_spend_source(generation_spend, name="generations")

Each source counts only spending it owns (two sources must not both count the same call) over
``[since, until)`` for a :class:`SpendScope`: the organization's rows, narrowed to the scope's
``user_ref`` and/or ``credential_fingerprint`` when given, never another organization's rows.
Registering again under a name replaces that source.

Whole days
----------
A month of raw rows is too many to sum on every check. A source may have a **whole-day
counterpart** (:func:`register_whole_day_spend`, under the same name) that answers whole UTC days
``[date_from, date_to)`` from daily rollups, usually registered by another app (analytics keeps the
rollups; generations must not import it). :func:`spend_between` then asks the counterpart for the
whole days inside the window and the source itself only for the partial days at its ends (today so
far, a first day started mid-day). The counterpart must return exactly what the source would over
those days while their raw rows are all on record (its rollups bucket by the UTC day of the very
timestamp the source filters on, and are written in the rows' transaction), or ``None`` when it
cannot answer a scope exactly: then the source answers the whole window from raw rows. Windows
shorter than a day that do not start at today's midnight (request rates: the last minute, the
last hour) never reach a counterpart.

Today
-----
A budget's window ends now, so its last day is today so far: the day's whole rollup minus what
was recorded after ``until``, which is nothing or next to nothing (rows stamped at most
:data:`~providers.metering.MAX_CLOCK_SKEW` ahead). Reading today's raw rows instead would
aggregate every row the organization recorded since midnight, on every check: at 23:00 the
biggest tenant of the 10-million-row bench holds ~6,000 generations a day, 7-10 ms a source.
So when the window ends today, and the part of the day after ``until`` is shorter than the part
before it, :func:`spend_between` answers today from the rollup and subtracts the raw rows in
``[until, tomorrow)``. Exact as the whole days are: today's rows are all on record (retention
keeps a day at least), and its rollup holds exactly them. The raw rows are read before the
rollup, so a row committed between the two reads is counted (it is spending that happened just
now), never subtracted without having been added. Past days' partial ends stay raw: a day
retention has begun to archive has a rollup that still counts what it deleted.

Spent stays spent: once retention archives and deletes old raw rows, the rollups (which it never
touches) still count them, and so do budgets, reading those days from the rollups; a budget's
window starts at a UTC midnight and its one partial day is today's, whose rows retention (a day
at least) keeps. Soft-deleted rows count like any other.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.utils import timezone

from providers.metering import MAX_CLOCK_SKEW
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

    def __sub__(self, other: SpendTotals) -> SpendTotals:
        if not isinstance(other, SpendTotals):
            return NotImplemented
        return SpendTotals(cost_usd=self.cost_usd - other.cost_usd, requests=self.requests - other.requests)


@dataclass(frozen=True)
class SpendScope:
    """Whose spending a budget counts: an organization's, narrowed to one user (``user_ref``)
    and/or one provider credential (its ``credential_fingerprint``) when given. Every source is
    asked with one, so the narrowing is stated once for all of them."""

    organization: Organization
    user_ref: str | None = None
    credential_fingerprint: str | None = None


class SpendSource(Protocol):
    def __call__(
        self, scope: SpendScope, *, since: datetime.datetime, until: datetime.datetime
    ) -> SpendTotals: ...


class WholeDaySpendSource(Protocol):
    def __call__(
        self, scope: SpendScope, *, date_from: datetime.date, date_to: datetime.date
    ) -> SpendTotals | None: ...


_sources: dict[str, Callable[..., SpendTotals]] = {}
_whole_days: dict[str, Callable[..., SpendTotals | None]] = {}


def register_spend_source(source: SpendSource, *, name: str | None = None) -> None:
    """Count ``source`` in every budget check from now on (replacing one of the same name)."""
    _sources[name or f"{source.__module__}.{source.__qualname__}"] = source


def unregister_spend_source(name_or_source: str | SpendSource) -> None:
    """Stop counting a source (by name or by the callable); unknown ones are ignored. A whole-day
    counterpart stays registered, unused until a source of its name is registered again."""
    for name, source in list(_sources.items()):
        if name == name_or_source or source is name_or_source:
            del _sources[name]


def register_whole_day_spend(name: str, source: WholeDaySpendSource) -> None:
    """Answer whole UTC days of the source registered as ``name`` with ``source`` (see the module
    docstring); registering again replaces it."""
    _whole_days[name] = source


def unregister_whole_day_spend(name: str) -> None:
    """Let the source ``name`` answer whole days from its raw rows again."""
    _whole_days.pop(name, None)


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

    The selector budgets read; narrowing by user or credential is passed to each source. A source
    with a whole-day counterpart answers only the partial days at the window's ends, which are
    cut at UTC midnights: ``since`` and ``until`` must be aware (a naive one is a ``ValueError``).
    """
    scope = SpendScope(organization, user_ref, credential_fingerprint)
    first_day, last_day = _whole_days_within(since, until)
    if _reads_today_whole(since, until):
        last_day += datetime.timedelta(days=1)
    start, end = _midnight(first_day), _midnight(last_day)
    total = SpendTotals()
    for name, source in _sources.items():
        whole_days = _whole_days.get(name)
        days = after = None
        if whole_days is not None and first_day < last_day:
            # Today read whole ends past ``until``: what came after is read before the rollups
            # (the module docstring: a row committed in between is counted, never only taken off).
            after = source(scope, since=until, until=end) if end > until else None
            days = whole_days(scope, date_from=first_day, date_to=last_day)
        if days is None:
            total += source(scope, since=since, until=until)
            continue
        total += days
        if since < start:
            total += source(scope, since=since, until=start)
        if after is not None:
            total -= after
        elif end < until:
            total += source(scope, since=end, until=until)
    return total


def _reads_today_whole(since: datetime.datetime, until: datetime.datetime) -> bool:
    """Whether the window ``[since, until)`` reads today (UTC) whole from the rollups, less the
    raw rows of ``[until, tomorrow)`` (the module docstring): when it ends today, starts at
    today's midnight or a day or more before ``until`` (not a request rate's window), and less of
    today lies after ``until`` (up to now and the clock skew rows may be stamped with) than
    before it."""
    now = timezone.now()
    today = _midnight(now.astimezone(datetime.UTC).date())
    if not today < until < today + datetime.timedelta(days=1) or since > today:
        return False
    if since < today and until - since < datetime.timedelta(days=1):
        return False  # a request rate's window across midnight: a few raw rows, one query
    return max(now + MAX_CLOCK_SKEW - until, datetime.timedelta(0)) < until - today


def _midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(), tzinfo=datetime.UTC)


def _whole_days_within(
    since: datetime.datetime, until: datetime.datetime
) -> tuple[datetime.date, datetime.date]:
    """The UTC days ``[first, last)`` that lie entirely inside ``[since, until)`` (empty when
    ``first >= last``). Both ends must be aware (any zone; they are compared in UTC): a naive
    one is refused, since ``astimezone`` would silently read it as the server's local time."""
    for name, moment in (("since", since), ("until", until)):
        if timezone.is_naive(moment):
            raise ValueError(f"{name} must be an aware datetime (UTC), not naive: {moment!r}")
    since, until = since.astimezone(datetime.UTC), until.astimezone(datetime.UTC)
    first = since.date() if since == _midnight(since.date()) else since.date() + datetime.timedelta(days=1)
    return first, until.date()
