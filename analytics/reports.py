"""The reports: questions about cost and usage, answered from the rollups.

Each report reads one rollup (generations or provider calls per day), filtered to one
organization and a range of UTC days, grouped by the dimensions asked for (``group_by``:
model, provider, content_type, user, day, month), and returns one row per group plus totals.
Rates and averages are derived from the summed counts, so a rate over a month is the month's
rate, not an average of daily rates. Every figure equals the same question asked of the raw
tables (``tests/analytics/test_reports.py`` asks both).

- ``cost``: requests, cost, unpriced requests and tokens (cost by model per month, per content
  type, top users by cost).
- ``volume``: requests, outcomes and tokens by kind (daily volume and tokens).
- ``failures``: failures and the failure rate (and, for provider calls, by error type).
- ``cache``: generations the client reported as served from a cache (``reported_cache_hits``,
  from ``PerformanceMetric.cache_hit``; not the response cache's hits, which ``cache/stats/``
  counts), their rate, and the share of input tokens read from the provider's prompt cache.
- ``retries``: retried generations, retries, retry rate and retries per generation.
- ``rate-limits``: users whose requests in one clock hour exceeded a threshold (from the
  per-user daily rollup, and the hourly one for the days that may hold such an hour).
- ``keys``: usage and cost per provider key fingerprint.
- ``models``: success rate, latency, tokens and cost per model.
"""

# SQL here is built from our own table and column names only; every value is a parameter.
# ruff: noqa: S608

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection

from analytics import models
from analytics.choices import ERROR_TYPE_COLUMNS, GroupBy, ReportSource
from analytics.errors import InvalidReportQuery
from analytics.rollups import PROVIDER_CALL_KEY_ROLLUP
from tenancy.models import Organization

UTC = datetime.UTC
MAX_RANGE_DAYS = 400
DEFAULT_RANGE_DAYS = 30
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
DEFAULT_RATE_LIMIT_THRESHOLD = 100
# Decimal places of derived figures: rates, averages (of milliseconds), money.
RATE, AVERAGE, MONEY = 4, 2, 10
TIME_DIMENSIONS = (GroupBy.DAY, GroupBy.MONTH)
# The sum of bigints as a bigint, 0 over no rows (``analytics`` 0025): what reports sum integer
# measures with, without building a numeric per group and casting it back.
INTEGER_SUM = "inkwell_int8_sum"
# Per source, narrowest first: a question reads the first rollup that has every column it needs.
# The per-day rollup (one row a day: questions by day, month or nothing else), the per-key one
# (a few rows a day: the keys report by key, day or month), the per-model one (no user, no key:
# what most questions need), the per-day-and-user one (questions by user, day or month), the
# per-user one (and key) for the rest.
ROLLUPS = {
    ReportSource.GENERATIONS: (
        models.GenerationDayRollup,
        models.GenerationModelDailyRollup,
        models.GenerationUserDailyRollup,
        models.GenerationDailyRollup,
    ),
    ReportSource.PROVIDER_CALLS: (
        models.ProviderCallKeyDailyRollup,
        models.ProviderCallModelDailyRollup,
        models.ProviderCallUserDailyRollup,
        models.ProviderCallDailyRollup,
    ),
}
# The rollup column behind each dimension (day and month are computed from the time column).
DIMENSION_COLUMNS = {
    GroupBy.MODEL: "model_name",
    GroupBy.PROVIDER: "provider_name",
    GroupBy.CONTENT_TYPE: "content_type",
    GroupBy.USER: "user_ref",
    "key": "key_fingerprint",
}
# Output names of the dimensions: what a client reads in each row.
DIMENSION_OUTPUT = {
    GroupBy.MODEL: "model",
    GroupBy.PROVIDER: "provider",
    GroupBy.CONTENT_TYPE: "content_type",
    GroupBy.USER: "user_ref",
    GroupBy.DAY: "day",
    GroupBy.MONTH: "month",
    "key": "key_fingerprint",
}


def _ratio(part, whole, places: int = RATE) -> str | None:
    """``part / whole`` rounded half up to ``places`` decimal places, written fixed point
    ("0.0540"); None when ``whole`` is 0."""
    if not whole:
        return None
    if type(part) is int and type(whole) is int and part >= 0 and whole > 0:
        # Counts (most figures): the same answer exactly, in integers (floor(part / whole *
        # 10**places + 1/2)), cheaper than Decimal division and quantize, done once per row.
        digits = str((2 * part * 10**places + whole) // (2 * whole)).rjust(places + 1, "0")
        return f"{digits[:-places]}.{digits[-places:]}"
    quantum = Decimal(1).scaleb(-places)
    return format((Decimal(part) / Decimal(whole)).quantize(quantum, rounding=ROUND_HALF_UP), "f")


@dataclass(frozen=True)
class Ratio:
    """A derived figure: ``numerator / (denominator - minus…)`` of a group's sums, rounded half up
    to ``places`` decimal places (:func:`_ratio`)."""

    numerator: str
    denominator: str
    places: int = RATE
    minus: tuple[str, ...] = ()


# Derived figures, by output name.
DERIVED = {
    "failure_rate": Ratio("failures", "requests"),
    "success_rate": Ratio("successes", "requests"),
    "reported_cache_hit_rate": Ratio("cache_hits", "requests"),
    "cache_read_share": Ratio("cache_read_tokens", "input_tokens"),
    "retry_rate": Ratio("retried_requests", "requests"),
    "retries_per_request": Ratio("retries", "requests"),
    "average_latency_ms": Ratio("latency_ms_sum", "latency_count", AVERAGE),
    # Priced requests: every cost status is summed (``COST``), so requests - unpriced - no usage.
    "cost_per_priced_request": Ratio(
        "cost_usd", "requests", MONEY, minus=("unpriced_requests", "no_usage_requests")
    ),
}

# Output names of measures whose rollup column name would be ambiguous in the API: the cache
# report's hits are what clients reported in ``metrics/`` (``PerformanceMetric.cache_hit``),
# not lookups of the response cache (``cache/stats/`` calls those ``hits``).
MEASURE_OUTPUT = {"cache_hits": "reported_cache_hits"}

TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "total_tokens")


@dataclass(frozen=True)
class ReportSpec:
    """One report: which rollups it may read, what it sums and derives, how it sorts."""

    name: str
    sources: tuple[str, ...]
    default_group_by: tuple[str, ...]
    sums: dict[str, tuple[str, ...]]  # per source
    derived: tuple[str, ...] = ()
    sort: str = "requests"
    anchor: str | None = None  # a dimension always grouped by, first (keys: the key)
    maxima: tuple[str, ...] = ()

    @property
    def default_source(self) -> str:
        return self.sources[0]


GEN, CALLS = ReportSource.GENERATIONS, ReportSource.PROVIDER_CALLS
# Every cost status is counted: priced rows are requests - unpriced - no_usage.
COST = ("requests", "cost_usd", "unpriced_requests", "no_usage_requests", *TOKENS)
REPORTS: dict[str, ReportSpec] = {
    spec.name: spec
    for spec in (
        ReportSpec(
            name="cost",
            sources=(GEN, CALLS),
            default_group_by=(GroupBy.MODEL, GroupBy.MONTH),
            sums={GEN: COST, CALLS: COST},
            derived=("cost_per_priced_request",),
            sort="cost_usd",
        ),
        ReportSpec(
            name="volume",
            sources=(GEN, CALLS),
            default_group_by=(GroupBy.DAY,),
            sums={
                GEN: ("requests", "successes", "partials", "failures", "cancelled", *TOKENS),
                CALLS: ("requests", "successes", "failures", *TOKENS),
            },
        ),
        ReportSpec(
            name="failures",
            sources=(GEN, CALLS),
            default_group_by=(GroupBy.DAY,),
            sums={
                GEN: ("requests", "successes", "partials", "failures", "cancelled"),
                CALLS: ("requests", "successes", "failures", *ERROR_TYPE_COLUMNS.values()),
            },
            derived=("failure_rate",),
            sort="failures",
        ),
        ReportSpec(
            name="cache",
            sources=(GEN,),
            default_group_by=(GroupBy.DAY,),
            sums={GEN: ("requests", "cache_hits", "input_tokens", "cache_read_tokens", "cache_write_tokens")},
            derived=("reported_cache_hit_rate", "cache_read_share"),
            sort="cache_hits",
        ),
        ReportSpec(
            name="retries",
            sources=(GEN,),
            default_group_by=(GroupBy.MODEL,),
            sums={GEN: ("requests", "retried_requests", "retries", "failures")},
            derived=("retry_rate", "retries_per_request"),
            sort="retries",
        ),
        ReportSpec(
            name="keys",
            sources=(CALLS,),
            default_group_by=(),
            # What the per-key rollup keeps, so this report by key, day or month always reads it.
            sums={CALLS: PROVIDER_CALL_KEY_ROLLUP.sums},
            derived=("failure_rate",),
            sort="cost_usd",
            anchor="key",
        ),
        ReportSpec(
            name="models",
            sources=(GEN, CALLS),
            default_group_by=(GroupBy.MODEL,),
            sums={
                source: (
                    "requests",
                    "successes",
                    "failures",
                    "total_tokens",
                    "cost_usd",
                    "unpriced_requests",
                    "no_usage_requests",
                    "latency_ms_sum",
                    "latency_count",
                )
                for source in (GEN, CALLS)
            },
            derived=("success_rate", "average_latency_ms", "cost_per_priced_request"),
            maxima=("latency_ms_max",),
        ),
    )
}
REPORT_NAMES = (*REPORTS, "rate-limits")


@dataclass
class ReportResult:
    """A report's answer: the question as understood, one row per group, and the totals."""

    report: str
    source: str
    date_from: Any
    date_to: Any
    group_by: list[str]
    rows: list[dict[str, Any]]
    totals: dict[str, Any]
    truncated: bool = False
    parameters: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "report": self.report,
            "source": self.source,
            "from": _plain(self.date_from),
            "to": _plain(self.date_to),
            "group_by": self.group_by,
            **self.parameters,
            "rows": self.rows,
            "totals": self.totals,
            "truncated": self.truncated,
        }


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")  # fixed point: "0.0000000000", never "0E-10"
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return value


def parse_group_by(raw: str | Sequence[str] | None, *, allowed: Sequence[str] | None = None) -> list[str]:
    """``"model,month"`` → ``["model", "month"]``; an unknown or repeated name is a 400."""
    if raw is None:
        return []
    names = [name.strip() for name in (raw.split(",") if isinstance(raw, str) else raw) if name.strip()]
    allowed = list(allowed if allowed is not None else GroupBy.values)
    for name in names:
        if name not in allowed:
            raise InvalidReportQuery(
                f"Cannot group by {name!r}; choose from {', '.join(allowed)}.",
                code="invalid_choice",
                attr="group_by",
            )
    if len(set(names)) != len(names):
        raise InvalidReportQuery("Name each group_by dimension once.", attr="group_by")
    if GroupBy.DAY in names and GroupBy.MONTH in names:
        raise InvalidReportQuery("Group by day or by month, not both.", attr="group_by")
    return names


def check_range(date_from: datetime.date, date_to: datetime.date) -> None:
    """``to`` on or after ``from``, and at most 400 days from first to last (both included)."""
    if date_to < date_from:
        raise InvalidReportQuery("`to` is before `from`.", code="invalid_range", attr="to")
    if (date_to - date_from).days + 1 > MAX_RANGE_DAYS:
        raise InvalidReportQuery(
            f"A report covers at most {MAX_RANGE_DAYS} days; narrow `from`-`to`.",
            code="range_too_long",
            attr="to",
        )


def rollup_for(source: str, dimensions: Sequence[str], measures: Sequence[str]):
    """The narrowest rollup of ``source`` holding the columns of ``dimensions`` and
    ``measures`` (day and month come from every rollup's ``day``)."""
    needed = {DIMENSION_COLUMNS[d] for d in dimensions if d not in TIME_DIMENSIONS} | set(measures)
    for model in ROLLUPS[source]:
        if needed <= {field.name for field in model._meta.concrete_fields}:
            return model
    raise LookupError(f"No {source} rollup has {sorted(needed)}.")


def _dimension_sql(dimension: str) -> tuple[str, str]:
    """A dimension's expression over a rollup's rows, to group and order by, and what the
    statement selects of it: days and months (from the rollup's ``day``) as ISO text, no user or
    no key as NULL, so the rows need no work per value in Python."""
    if dimension == GroupBy.DAY:
        return "day", "to_char(day::timestamp, 'YYYY-MM-DD')"
    if dimension == GroupBy.MONTH:
        month = "date_trunc('month', day::timestamp)"
        return month, f"to_char({month}, 'YYYY-MM-DD')"
    column = DIMENSION_COLUMNS[dimension]
    if dimension in (GroupBy.USER, "key"):
        return column, f"NULLIF({column}, '')"
    return column, column


def _aggregate_sql(model, name: str, *, maximum: bool) -> str:
    """The SUM (or MAX) of a rollup column over a group. PostgreSQL's ``sum`` of bigints is a
    numeric, which the driver would read as a Decimal: an integer column is summed by
    :data:`INTEGER_SUM` instead, a bigint throughout (one organization's counts over at most
    ``MAX_RANGE_DAYS`` are far below its limit, and beyond it the sum fails, never wraps)."""
    if maximum:
        return f"max({name})"
    if model._meta.get_field(name).get_internal_type().endswith("IntegerField"):
        return f"{INTEGER_SUM}({name})"
    return f"COALESCE(sum({name}), 0)"


def _aggregates(spec: ReportSpec, model, measures: Sequence[str]) -> str:
    """The select list of ``measures`` over ``model``'s rows (:func:`_aggregate_sql`)."""
    return ", ".join(_aggregate_sql(model, name, maximum=name in spec.maxima) for name in measures)


def _rows(model) -> str:
    """FROM and WHERE of one organization's rows of ``model`` over a range of days (the
    parameters: organization key, first day, last day)."""
    return (
        f"FROM {connection.ops.quote_name(model._meta.db_table)} "
        "WHERE organization_id = %s AND day >= %s AND day <= %s"
    )


def _shaper(spec: ReportSpec, model, dimensions: Sequence[str], measures: Sequence[str]):
    """A function turning fetched rows (the dimensions as :func:`_dimension_sql` selects them,
    then the measures) into output rows: the values under their output names, money written
    fixed point ("0.0000000000", never "0E-10"), then the derived figures.

    Decided once per question, not per value: which columns are money (counts are ints already)
    and where each derived figure's sums are. The rows are shaped a column at a time, not by a
    call per row: a year by day is 365 rows, and the per-row call and its loops were most of
    the shaping (0.40 -> 0.31 ms for the failures report's year of rows, in-process)."""
    names = [DIMENSION_OUTPUT[d] for d in dimensions] + [MEASURE_OUTPUT.get(m, m) for m in measures]
    texts = [
        MEASURE_OUTPUT.get(m, m)
        for m in measures
        if model._meta.get_field(m).get_internal_type() == "DecimalField"
    ]
    offset = len(dimensions)

    def position(measure: str) -> int:
        return offset + measures.index(measure)

    derived = [
        (
            name,
            position(DERIVED[name].numerator),
            position(DERIVED[name].denominator),
            [position(measure) for measure in DERIVED[name].minus],
            DERIVED[name].places,
        )
        for name in spec.derived
    ]

    def shape(rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
        # Each row is one statement's dimensions and measures: as long as names.
        output = [dict(zip(names, values, strict=True)) for values in rows]
        for name, numerator, denominator, minus, places in derived:
            wholes = [values[denominator] for values in rows]
            for subtracted in minus:
                wholes = [whole - values[subtracted] for whole, values in zip(wholes, rows, strict=True)]
            for row, values, whole in zip(output, rows, wholes, strict=True):
                row[name] = _ratio(values[numerator], whole, places)
        for name in texts:
            for row in output:
                if row[name] is not None:
                    row[name] = format(row[name], "f")
        return output

    return shape


def _fetch(sql: str, params: Sequence[Any]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def report_run(
    *,
    organization: Organization,
    report: str,
    date_from: datetime.date,
    date_to: datetime.date,
    group_by: Sequence[str] | None = None,
    source: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> ReportResult:
    """Answer ``report`` for ``organization`` over ``[date_from, date_to]`` (UTC days) from the
    rollups. ``group_by`` None means the report's default; ``[]`` means one row of totals.

    One statement over the narrowest rollup that answers (:func:`rollup_for`), grouped by the
    dimensions, busiest first within each day or month; the totals are the groups' sums when
    every group was fetched, else a second statement over the narrowest rollup holding the
    measures. Written here rather than by the ORM, for the per-row cost: the rows come back as
    tuples of ints (:func:`_aggregate_sql`) and are shaped by a plan made once per question
    (:func:`_shaper`)."""
    spec = REPORTS.get(report)
    if spec is None:
        raise InvalidReportQuery(f"No report {report!r}.", attr="report")
    check_range(date_from, date_to)
    source = source or spec.default_source
    if source not in spec.sources:
        raise InvalidReportQuery(
            f"The {report} report reads {', '.join(spec.sources)}, not {source}.",
            code="invalid_choice",
            attr="source",
        )
    dimensions = list(spec.default_group_by if group_by is None else group_by)
    parse_group_by(dimensions)
    if spec.anchor:
        dimensions = [spec.anchor, *(name for name in dimensions if name != spec.anchor)]
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidReportQuery(f"limit must be between 1 and {MAX_LIMIT}.", attr="limit")

    measures = (*spec.sums[source], *spec.maxima)
    model = rollup_for(source, dimensions, measures)
    aggregates = _aggregates(spec, model, measures)
    params = [organization.pk, date_from, date_to]
    fetched: list[tuple] = []
    totals_model = model
    if dimensions:
        keys = {d: _dimension_sql(d) for d in dimensions}
        selected = ", ".join(output for _, output in keys.values())
        group = ", ".join(expression for expression, _ in keys.values())
        order = [keys[d][0] for d in dimensions if d in TIME_DIMENSIONS]
        if len(order) < len(dimensions):
            # Busiest first within a day or month. Grouped by time alone, each day or month is
            # one group, so the measure would order nothing (and cost the plan a sort).
            order.append(f"{len(dimensions) + 1 + measures.index(spec.sort)} DESC")
            order += [keys[d][0] for d in dimensions if d not in TIME_DIMENSIONS]
        fetched = _fetch(
            f"SELECT {selected}, {aggregates} {_rows(model)} GROUP BY {group} "
            f"ORDER BY {', '.join(order)} LIMIT %s",
            [*params, limit + 1],
        )
    truncated = len(fetched) > limit
    if fetched and not truncated:
        # Every group was fetched: the totals are their sums (and maxima), no second query.
        columns = list(zip(*fetched, strict=True))[len(dimensions) :]
        totals_values = tuple(
            max((value for value in column if value is not None), default=None)
            if name in spec.maxima
            else sum(column)
            for name, column in zip(measures, columns, strict=True)
        )
    else:
        # Not every group was fetched (or none was asked for): the totals from the narrowest
        # rollup that holds the measures. Every rollup of a source sums the same rows (each
        # coarser one is written in the statement that writes the finer, and rebuilt from it),
        # so the per-day rollup's few hundred rows give what the ~600,000 rows of the finest
        # one give for the biggest tenant's year by model and user (a second scan of that
        # table's 1.3 GB at 10M, ~0.5 s, where the per-day rollup takes ~1 ms).
        totals_model = rollup_for(source, (), measures)
        totals_values = _fetch(
            f"SELECT {_aggregates(spec, totals_model, measures)} {_rows(totals_model)}", params
        )[0]
    output = _shaper(spec, model, dimensions, measures)(fetched[:limit])
    [totals] = _shaper(spec, totals_model, (), measures)([totals_values])
    if not dimensions:
        output = [dict(totals)]
    return ReportResult(
        report=report,
        source=source,
        date_from=date_from,
        date_to=date_to,
        group_by=[DIMENSION_OUTPUT[d] for d in dimensions],
        rows=output,
        totals=totals,
        truncated=truncated,
    )


# --- rate limits ---------------------------------------------------------------------------------


def _hour(moment: datetime.datetime) -> datetime.datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def rate_limit_report(
    *,
    organization: Organization,
    since: datetime.datetime,
    until: datetime.datetime,
    threshold: int = DEFAULT_RATE_LIMIT_THRESHOLD,
    group_by: str | Sequence[str] = (),
    limit: int = DEFAULT_LIMIT,
) -> ReportResult:
    """Users who made more than ``threshold`` provider calls within one clock hour (UTC), for
    the hours from ``since``'s to ``until``'s (both included), busiest first.

    The default question, "who is over the limit in the last hour", is ``since = now - 1h``,
    ``until = now``: the current clock hour and the one before it. Calls with no user are not a
    user and are left out. Reads the per-user daily rollup, then the hourly one only for the
    user-days whose busiest hour may be over the threshold; ``group_by`` may only be ``user``.
    """
    since, until = _hour(since), _hour(until)
    if until < since:
        raise InvalidReportQuery("`to` is before `from`.", code="invalid_range", attr="to")
    if (until - since) > datetime.timedelta(days=MAX_RANGE_DAYS):
        raise InvalidReportQuery(
            f"A report covers at most {MAX_RANGE_DAYS} days; narrow `from`-`to`.",
            code="range_too_long",
            attr="to",
        )
    parse_group_by(group_by, allowed=[GroupBy.USER])
    if threshold < 0:
        raise InvalidReportQuery("threshold cannot be negative.", attr="threshold")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidReportQuery(f"limit must be between 1 and {MAX_LIMIT}.", attr="limit")
    # The range's whole UTC days are read per user and day; the hours of a partial day at
    # either end straight from the hourly rollup (``whole_start`` = ``whole_end``: none).
    end = until + datetime.timedelta(hours=1)
    first_whole = since.date() if since.hour == 0 else since.date() + datetime.timedelta(days=1)
    last_whole = end.date() - datetime.timedelta(days=1)
    if first_whole <= last_whole:
        whole_start = datetime.datetime.combine(first_whole, datetime.time.min, tzinfo=UTC)
        whole_end = datetime.datetime.combine(last_whole, datetime.time.min, tzinfo=UTC) + datetime.timedelta(
            days=1
        )
    else:
        whole_start = whole_end = end
    # Only the user-days that may hold an hour over the threshold are opened: the day's busiest
    # hour is at least as busy as any of its hours, and its bound (``UserDailyRollup``: the sum
    # of the day's rows, which only add) at least that. A day is over the threshold if one of its
    # rows is (through the index on the bound) or if their sum is, which takes two rows, so one
    # not folded (through the index on those). ``candidates``: those days' hours; ``edges``:
    # every user's hours of the partial days at either end of the range. Together they hold
    # every hour over the threshold, so the users over it, their busiest hours and the count of
    # such hours come from them alone; each such user's totals from their days and edges.
    # The days' bounds are computed once, in a materialised CTE: a condition calling a function
    # that is not leakproof cannot be an index condition under row-level security. The hours
    # join their candidate day by (user, UTC date), an equality a hash or merge join can use,
    # inside the range of whole days, which the index reads in one pass; the same day's bounds
    # are kept too, so for a few candidate days a nested loop can still read just their hours.
    # Each candidate day used to be a LATERAL subquery, which PostgreSQL pulled up into a join on
    # the user alone with the hour range as a filter: with a low threshold (most user-days
    # candidates) it compared every hour of a user with every candidate day of the user (91
    # million comparisons for the 10M bench's biggest tenant over a year at threshold 0, 6.4 s;
    # 0.77 s now). ``totals`` and ``busiest`` are materialised: the planner expects one user
    # (the CTEs hide the count) and put each inside a nested loop, recomputed per user.
    # Sums by INTEGER_SUM, as every report's: bigints throughout, so the figures come back as ints.
    # (Reading every hourly row of a year: 470 ms for the 10M bench's biggest tenant.)
    hourly, daily = models.UserHourlyRollup._meta.db_table, models.UserDailyRollup._meta.db_table
    sql = f"""
        WITH candidate_days AS MATERIALIZED (
            SELECT user_ref, day, day::timestamp AT TIME ZONE 'UTC' AS day_start,
                   (day + 1)::timestamp AT TIME ZONE 'UTC' AS day_end FROM (
            SELECT user_ref, day
              FROM {daily}
             WHERE organization_id = %(organization)s AND busiest_hour_bound > %(threshold)s
               AND day >= %(first_whole)s AND day <= %(last_whole)s
             UNION
            SELECT unfolded.user_ref, unfolded.day
              FROM (SELECT DISTINCT user_ref, day
                      FROM {daily}
                     WHERE organization_id = %(organization)s AND NOT folded
                       AND day >= %(first_whole)s AND day <= %(last_whole)s) unfolded
             CROSS JOIN LATERAL (
                    SELECT {INTEGER_SUM}(busiest_hour_bound) AS busiest_hour_bound
                      FROM {daily} r
                     WHERE r.organization_id = %(organization)s AND r.day = unfolded.day
                       AND r.user_ref = unfolded.user_ref) summed
             WHERE summed.busiest_hour_bound > %(threshold)s) days
        ), edges AS (
            SELECT user_ref, hour, {INTEGER_SUM}(requests) AS requests,
                   {INTEGER_SUM}(rate_limited) AS rate_limited
              FROM (SELECT user_ref, hour, requests, rate_limited FROM {hourly}
                     WHERE organization_id = %(organization)s AND hour >= %(since)s AND hour < %(whole_start)s
                     UNION ALL
                    SELECT user_ref, hour, requests, rate_limited FROM {hourly}
                     WHERE organization_id = %(organization)s AND hour >= %(whole_end)s AND hour < %(end)s) e
             GROUP BY user_ref, hour
        ), candidates AS (
            SELECT h.user_ref, h.hour, {INTEGER_SUM}(h.requests) AS requests
              FROM {hourly} h
              JOIN candidate_days c
                ON c.user_ref = h.user_ref AND c.day = (h.hour AT TIME ZONE 'UTC')::date
               AND h.hour >= c.day_start AND h.hour < c.day_end
             WHERE h.organization_id = %(organization)s
               AND h.hour >= %(whole_start)s AND h.hour < %(whole_end)s
             GROUP BY h.user_ref, h.hour
        ), hours AS (
            SELECT user_ref, hour, requests FROM candidates
             UNION ALL
            SELECT user_ref, hour, requests FROM edges
        ), users AS (
            SELECT user_ref,
                   max(requests) AS busiest_hour_requests,
                   count(*) FILTER (WHERE requests > %(threshold)s) AS hours_over_threshold,
                   count(*) OVER () AS users_over_threshold
              FROM hours
             GROUP BY user_ref
            HAVING max(requests) > %(threshold)s
             ORDER BY busiest_hour_requests DESC, user_ref
             LIMIT %(limit)s
        ), totals AS MATERIALIZED (
            SELECT u.user_ref,
                   whole.requests + COALESCE(edge.requests, 0) AS requests,
                   whole.rate_limited + COALESCE(edge.rate_limited, 0) AS rate_limited
              FROM users u
             CROSS JOIN LATERAL (
                    SELECT {INTEGER_SUM}(requests) AS requests,
                           {INTEGER_SUM}(rate_limited) AS rate_limited
                      FROM {daily} r
                     WHERE r.organization_id = %(organization)s AND r.user_ref = u.user_ref
                       AND r.day >= %(first_whole)s AND r.day <= %(last_whole)s) whole
              LEFT JOIN (SELECT user_ref, {INTEGER_SUM}(requests) AS requests,
                                {INTEGER_SUM}(rate_limited) AS rate_limited
                           FROM edges GROUP BY user_ref) edge ON edge.user_ref = u.user_ref
        ), busiest AS MATERIALIZED (
            SELECT DISTINCT ON (user_ref) user_ref, hour
              FROM hours
             WHERE requests > %(threshold)s
             ORDER BY user_ref, requests DESC, hour
        )
        SELECT u.*, t.requests, t.rate_limited, b.hour AS busiest_hour
          FROM users u JOIN totals t USING (user_ref) JOIN busiest b USING (user_ref)
         ORDER BY u.busiest_hour_requests DESC, u.user_ref
    """
    parameters = {
        "organization": organization.pk,
        "since": since,
        "end": end,
        "first_whole": first_whole,
        "last_whole": last_whole,
        "whole_start": whole_start,
        "whole_end": whole_end,
        "threshold": threshold,
        "limit": limit + 1,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, parameters)
        names = [column.name for column in cursor.description]
        fetched = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    output = []
    for values in fetched[:limit]:
        row = {"user_ref": values["user_ref"]}
        row.update(
            busiest_hour=values["busiest_hour"].astimezone(UTC).isoformat(),
            busiest_hour_requests=values["busiest_hour_requests"],
            hours_over_threshold=values["hours_over_threshold"],
            requests=values["requests"],
            rate_limited=values["rate_limited"],
        )
        output.append(row)
    return ReportResult(
        report="rate-limits",
        source=ReportSource.PROVIDER_CALLS,
        date_from=since,
        date_to=until,
        group_by=["user_ref"],
        rows=output,
        totals={"users_over_threshold": fetched[0]["users_over_threshold"] if fetched else 0},
        truncated=len(fetched) > limit,
        parameters={"threshold": threshold},
    )
