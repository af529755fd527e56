"""Rollups and summaries that reports read: daily per generation and provider call, hourly and
daily per user, weekly summaries (kept exact at ingest by ``analytics.rollups``; they survive retention).

The daily and hourly rollups are **append-only delta tables**: a group (organization, day, …)
may have many rows, each an ingest's (or an edit's, possibly negative) contribution, and its
figures are the SUM of its rows (the MAX for maxima). No unique key, so concurrent writers of one
organization never wait on each other's row lock; ``analytics.rollups.rollups_fold`` compacts a
range into one row per group in a single statement. Every reader aggregates, so answers are the
same folded or not. Consequently no CHECK constraint binds a row's measures (an edit's delta is
negative): the sums per group are what stays non-negative (``tests/analytics/test_rollups.py``).
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from analytics.choices import ERROR_TYPE_COLUMNS
from providers.models import MONEY_SUM, TokenCounts
from tenancy.models import TenantModel

RATE = {"max_digits": 9, "decimal_places": 4}


class RollupRow(models.Model):
    """A row of an organization's rollup: ``updated_at`` is when it was written (or folded)."""

    # PROTECT: organizations are deactivated, never deleted out from under their history.
    # No index of its own: every report reads by organization and time, through the rollup's
    # group index (with one of its own, the planner preferred it and filtered the days).
    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True


class RequestOutcomes(models.Model):
    """How many requests a row counts (a rollup group's, a week's, a model's in a run) and how
    many of them succeeded or failed (the rest were pending, partial or cancelled)."""

    requests = models.BigIntegerField(default=0)
    successes = models.BigIntegerField(default=0)
    failures = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class RollupMeasures(RequestOutcomes, TokenCounts):
    """Measures both rollups share (counts, tokens by kind, cost, latency)."""

    cost_usd = models.DecimalField(**MONEY_SUM, default=0, help_text="Sum over priced rows.")
    unpriced_requests = models.BigIntegerField(
        default=0, help_text="Rows whose model or price is unknown (cost_status unpriced)."
    )
    no_usage_requests = models.BigIntegerField(
        default=0, help_text="Rows that reported no usage (cost_status no_usage)."
    )
    latency_ms_sum = models.BigIntegerField(default=0)
    latency_count = models.BigIntegerField(default=0, help_text="Rows with a latency.")
    latency_ms_max = models.IntegerField(null=True, blank=True)

    class Meta:
        abstract = True


class GenerationMeasures(RollupMeasures):
    """The generations' rollups' measures: outcomes, cache hits and retries on top."""

    counted = "generations"  # for str()

    partials = models.BigIntegerField(default=0)
    cancelled = models.BigIntegerField(default=0)
    cache_hits = models.BigIntegerField(default=0)
    retries = models.BigIntegerField(default=0)
    retried_requests = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


def with_error_type_columns(measures: type[models.Model]) -> type[models.Model]:
    """``measures`` with a counter column per error type of ``ERROR_TYPE_COLUMNS``, the registry
    the rollup writers and reports read, so an error type is declared once (its migration
    follows from it). A class decorator: the columns are added after the class body's own."""
    for column in ERROR_TYPE_COLUMNS.values():
        measures.add_to_class(column, models.BigIntegerField(default=0))
    return measures


@with_error_type_columns
class ProviderCallMeasures(RollupMeasures):
    """The provider calls' rollups' measures: failures by error type (a column per entry of
    ``analytics.choices.ERROR_TYPE_COLUMNS``: ``timeouts``, ``rate_limited`` …) and slow calls on
    top."""

    slow_requests = models.BigIntegerField(default=0)
    # What budgets count of the calls themselves: a call recorded with a generation is counted
    # through that generation's cost (``ProviderCall.recorded_with_generation``, kept when
    # retention or a purge unlinks the call, so it is never counted twice), and a call retention
    # archives stays counted here: spent stays spent. Column defaults too (``db_default``): the
    # rollup writers of code not knowing the columns (during a deploy) insert rows without them.
    standalone_requests = models.BigIntegerField(
        default=0, db_default=0, help_text="Calls recorded without a generation."
    )
    standalone_cost_usd = models.DecimalField(
        **MONEY_SUM, default=0, db_default=0, help_text="What the calls recorded without a generation cost."
    )

    counted = "calls"  # for str()

    class Meta:
        abstract = True


MODEL_GROUP = ("organization", "day", "provider_name", "model_name", "content_type")


class DailyModelGroup(RollupRow):
    """The group keys every daily rollup starts with (``MODEL_GROUP``, as
    ``analytics.rollups.MODEL_KEYS``): organization, UTC day, provider, model and content type.
    The per-user rollups add theirs; :meth:`group_index` is the index reports read them through."""

    day = models.DateField()
    provider_name = models.CharField(max_length=50, blank=True)
    model_name = models.CharField(max_length=200, blank=True)
    content_type = models.CharField(max_length=20, blank=True)

    class Meta:
        abstract = True
        ordering = ["-day", "model_name"]

    def __str__(self):
        return f"{self.day} {self.model_name or '?'}: {self.requests} {self.counted}"

    @staticmethod
    def group_index(*more_keys: str, name: str) -> models.Index:
        """The index on the group keys, in order: every report reads by organization and day."""
        return models.Index(fields=[*MODEL_GROUP, *more_keys], name=name)


class GenerationModelDailyRollup(DailyModelGroup, GenerationMeasures):
    """Generations per organization, UTC day, provider, model and content type: the
    :class:`GenerationDailyRollup` without its user, so a day holds at most models by content
    types groups however many users there are. Every report not grouped by user reads it, and
    the weekly summaries. Append-only deltas like the others, written in the same statement.
    """

    class Meta(DailyModelGroup.Meta):
        indexes = [DailyModelGroup.group_index(name="generation_model_rollup_idx")]


class GenerationDayRollup(RollupRow, GenerationMeasures):
    """Generations per organization and UTC day, every provider, model, content type and user
    together: the :class:`GenerationModelDailyRollup` without its model, so a day holds one
    group whatever the tenant's mix. Every report grouped by day or month only (or not at all)
    reads it: the failures report's default, a year per day, reads 365 rows here against ~45 a
    day in the per-model rollup for the biggest tenant of the bench. Append-only deltas like the
    others, written in the same statement (``analytics.rollups.GENERATION_DAY_ROLLUP``).

    No latency maximum: a lowered time would have to be clamped against the whole day's raw
    rows; the reports that need it (``models``) read the per-model rollup.
    """

    day = models.DateField()
    latency_ms_max = None  # see the docstring

    class Meta:
        ordering = ["-day"]
        indexes = [models.Index(fields=["organization", "day"], name="generation_day_rollup_idx")]

    def __str__(self):
        return f"{self.day}: {self.requests} generations"


class DailyUserGroup(RollupRow):
    """The group keys of the per-day-and-user rollups: organization, UTC day and user reference,
    every provider, model, content type (and key) together. No latency maximum, as
    :class:`GenerationDayRollup`: a lowered time would have to be clamped against the day's raw
    rows; the ``models`` report reads the full per-user rollups. Each concrete rollup drops the
    measures' field itself (``latency_ms_max = None``): Django takes a field from every abstract
    parent, so it must be removed after the measures class brings it."""

    day = models.DateField()
    user_ref = models.CharField(max_length=200, blank=True, help_text="Empty: no user (or purged).")

    class Meta:
        abstract = True
        ordering = ["-day", "user_ref"]

    def __str__(self):
        return f"{self.day} {self.user_ref or '?'}: {self.requests} {self.counted}"


class GenerationUserDailyRollup(DailyUserGroup, GenerationMeasures):
    """Generations per organization, UTC day and user reference: the
    :class:`GenerationDailyRollup` without its model, so a day holds one group per user whatever
    the models. Reports grouped by user (alone, or with the day or month) read it, and a user's
    budget check: for the biggest tenant of the 10M bench a year is ~62,000 rows here against
    ~595,000 in the per-user-and-model rollup, which took a report by user 0.6-0.8 s. Append-only
    deltas like the others, written in the same statement
    (``analytics.rollups.GENERATION_USER_ROLLUP``)."""

    latency_ms_max = None  # see DailyUserGroup

    class Meta(DailyUserGroup.Meta):
        indexes = [
            models.Index(fields=["organization", "day", "user_ref"], name="generation_user_rollup_idx")
        ]


class ProviderCallUserDailyRollup(DailyUserGroup, ProviderCallMeasures):
    """Provider calls per organization, UTC day and user reference: the
    :class:`ProviderCallDailyRollup` without model, content type and key, what reports of the
    calls grouped by user (alone, or with the day or month) and a user's budget check read (a year
    of the biggest tenant of the 10M bench: ~62,000 rows against ~896,000, 1.0-1.3 s there).
    Append-only deltas like the others (``analytics.rollups.PROVIDER_CALL_USER_ROLLUP``)."""

    latency_ms_max = None  # see DailyUserGroup

    class Meta(DailyUserGroup.Meta):
        indexes = [
            models.Index(fields=["organization", "day", "user_ref"], name="provider_call_user_rollup_idx")
        ]


class ProviderCallModelDailyRollup(DailyModelGroup, ProviderCallMeasures):
    """Provider calls per organization, UTC day, provider, model and content type: the
    :class:`ProviderCallDailyRollup` without user and key, what reports not grouped by user or
    key read."""

    class Meta(DailyModelGroup.Meta):
        indexes = [DailyModelGroup.group_index(name="provider_call_model_rollup_idx")]


class GenerationDailyRollup(DailyModelGroup, GenerationMeasures):
    """Generations per organization, UTC day, provider, model, content type and user reference:
    what reports grouped by user read (the others read :class:`GenerationModelDailyRollup`).

    Append-only deltas written in the ingest transaction (``analytics.rollups``), so the sum of a
    group's rows always equals an aggregation of the generations (soft-deleted ones included:
    their cost was incurred) and their performance metrics; ``manage.py rollup`` rebuilds a range,
    ``manage.py rollup --fold`` compacts one. Per group, ``successes`` + ``partials`` +
    ``failures`` + ``cancelled`` ≤ ``requests`` (the rest are pending or processing).
    """

    user_ref = models.CharField(max_length=200, blank=True, help_text="Empty: no user (or purged).")

    class Meta(DailyModelGroup.Meta):
        indexes = [DailyModelGroup.group_index("user_ref", name="generation_rollup_group_idx")]


class ProviderCallDailyRollup(DailyModelGroup, ProviderCallMeasures):
    """Provider calls per organization, UTC day, provider, model, content type (of the linked
    generation), user reference and key fingerprint, kept exact like the generations' rollup:
    what reports grouped by user read, and the keys report when grouped by more than day or month
    (the others read :class:`ProviderCallModelDailyRollup` or :class:`ProviderCallKeyDailyRollup`).

    ``failures`` splits into the error-type columns; ``slow_requests`` counts calls whose API
    latency exceeded 5 s.
    """

    user_ref = models.CharField(max_length=200, blank=True, help_text="Empty: no user (or purged).")
    key_fingerprint = models.CharField(max_length=64, blank=True)

    class Meta(DailyModelGroup.Meta):
        indexes = [
            DailyModelGroup.group_index("user_ref", "key_fingerprint", name="provider_call_rollup_group_idx")
        ]


class ProviderCallKeyDailyRollup(RollupRow, RequestOutcomes):
    """Provider calls per organization, UTC day and key fingerprint, with only the measures the
    keys report sums: what that report reads when it is not also grouped by user, model,
    provider or content type (then it reads :class:`ProviderCallDailyRollup`). The per-user
    rollup holds a row per day, model, content type, user and key (2.4 calls a row for the
    biggest tenant of the 10M bench); this one a row per day and key. Append-only deltas like
    the others, written in the same statement (``analytics.rollups.PROVIDER_CALL_KEY_ROLLUP``).
    """

    day = models.DateField()
    key_fingerprint = models.CharField(max_length=64, blank=True, help_text="Empty: no key reported.")
    rate_limited = models.BigIntegerField(default=0)
    total_tokens = models.BigIntegerField(default=0)
    cost_usd = models.DecimalField(**MONEY_SUM, default=0, help_text="Sum over priced rows.")
    unpriced_requests = models.BigIntegerField(default=0)
    no_usage_requests = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-day", "key_fingerprint"]
        indexes = [
            models.Index(
                fields=["organization", "day", "key_fingerprint"], name="provider_call_key_rollup_idx"
            )
        ]

    def __str__(self):
        return f"{self.day} {self.key_fingerprint[:12] or '?'}: {self.requests} calls"


class UserHourlyRollup(RollupRow):
    """Provider calls per organization, UTC hour and user: what the rate-limit report reads
    ("who made more than N requests in an hour"). Calls without a user are not counted here."""

    hour = models.DateTimeField(help_text="Start of the UTC hour.")
    user_ref = models.CharField(max_length=200)
    requests = models.BigIntegerField(default=0)
    rate_limited = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-hour", "user_ref"]
        indexes = [models.Index(fields=["organization", "hour", "user_ref"], name="user_hourly_rollup_idx")]
        constraints = [
            # Hourly deltas only ever add calls: each row stays consistent on its own.
            models.CheckConstraint(
                condition=Q(requests__gte=0) & Q(rate_limited__gte=0) & Q(rate_limited__lte=F("requests")),
                name="user_hourly_rollup_counts_consistent",
            ),
            models.CheckConstraint(condition=~Q(user_ref=""), name="user_hourly_rollup_has_user"),
        ]

    def __str__(self):
        return f"{self.hour:%Y-%m-%d %H:00} {self.user_ref}: {self.requests} calls"


class UserDailyRollup(RollupRow):
    """Provider calls per organization, UTC day and user, with a bound on the day's busiest
    hour: what the rate-limit report reads first, so it opens the hourly rollup
    (:class:`UserHourlyRollup`) only for the user-days that may hold an hour over its threshold.

    Append-only deltas like the others, written with the hourly rows. ``requests`` and
    ``rate_limited`` sum to the day's exact counts. ``busiest_hour_bound`` sums to an upper
    bound of the day's busiest hour: a folded (or rebuilt) row holds the busiest hour's exact
    count, recomputed from the hourly rows, and every call added since adds 1, whichever hour it
    fell in. Exact once folded, never below the truth. Calls without a user are not counted.

    After deploying ``analytics.0017`` (which creates and fills it), one ``fold_rollups`` run
    over the deploy's days makes them exact: the previous release, serving meanwhile, wrote
    hourly rows only, and the fold recomputes those days from the hourly rollup. The periodic
    run (yesterday and today) does it; a deploy that began earlier needs ``--from``.
    """

    day = models.DateField()
    user_ref = models.CharField(max_length=200)
    requests = models.BigIntegerField(default=0)
    rate_limited = models.BigIntegerField(default=0)
    busiest_hour_bound = models.BigIntegerField(
        default=0, help_text="Summed per day: at least the requests of the day's busiest hour."
    )
    folded = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Written by a fold or rebuild: the only row of its day, its bound exact.",
    )

    class Meta:
        ordering = ["-day", "user_ref"]
        # The rate-limit report never reads every user-day of its range. A user-day may be over
        # its threshold if one of its rows is (they only add: the folded rows, through
        # ``user_daily_rollup_busiest_idx``) or if the sum of its rows is, which takes two rows,
        # so one not folded (``user_daily_rollup_unfolded_idx``, a few days' worth). A user's
        # totals come through ``user_daily_rollup_user_idx``. Folds, rebuilds and purges read
        # ``user_daily_rollup_idx``.
        indexes = [
            models.Index(fields=["organization", "day", "user_ref"], name="user_daily_rollup_idx"),
            models.Index(
                fields=["organization", "busiest_hour_bound", "day"],
                include=["user_ref"],
                name="user_daily_rollup_busiest_idx",
            ),
            models.Index(
                fields=["organization", "day", "user_ref"],
                condition=Q(folded=False),
                name="user_daily_rollup_unfolded_idx",
            ),
            models.Index(
                fields=["organization", "user_ref", "day"],
                include=["requests", "rate_limited"],
                name="user_daily_rollup_user_idx",
            ),
        ]
        constraints = [
            # Deltas only ever add calls (like the hourly rollup's): each row stays consistent.
            models.CheckConstraint(
                condition=Q(requests__gte=0)
                & Q(rate_limited__gte=0)
                & Q(rate_limited__lte=F("requests"))
                & Q(busiest_hour_bound__gte=0)
                & Q(busiest_hour_bound__lte=F("requests")),
                name="user_daily_rollup_counts_consistent",
            ),
            models.CheckConstraint(condition=~Q(user_ref=""), name="user_daily_rollup_has_user"),
        ]

    def __str__(self):
        return f"{self.day} {self.user_ref}: {self.requests} calls"


class WeeklySummary(RequestOutcomes, TenantModel):
    """One organization's week (Monday to Sunday, UTC) at a glance, and how it changed against
    the week before. Written by ``manage.py weekly_summaries`` from the daily rollups; writing
    a week again replaces its row."""

    week_start = models.DateField(help_text="The Monday the week starts on.")
    failure_rate = models.DecimalField(**RATE, null=True, blank=True)
    cost_usd = models.DecimalField(**MONEY_SUM, default=0)
    unpriced_requests = models.BigIntegerField(default=0)
    total_tokens = models.BigIntegerField(default=0)
    top_models = models.JSONField(default=list, blank=True, help_text="Up to five models by cost.")
    previous_requests = models.BigIntegerField(default=0)
    previous_cost_usd = models.DecimalField(**MONEY_SUM, default=0)
    previous_failure_rate = models.DecimalField(**RATE, null=True, blank=True)
    requests_change_pct = models.DecimalField(**RATE, null=True, blank=True, help_text="Null: no prior week.")
    cost_change_pct = models.DecimalField(**RATE, null=True, blank=True)
    failure_rate_change = models.DecimalField(
        **RATE, null=True, blank=True, help_text="Difference of the rates (0.0100 is one point)."
    )

    class Meta:
        ordering = ["-week_start", "organization"]
        verbose_name_plural = "weekly summaries"
        constraints = [
            models.UniqueConstraint(fields=["organization", "week_start"], name="weekly_summary_unique_week"),
            models.CheckConstraint(
                condition=Q(week_start__iso_week_day=1),
                name="weekly_summary_starts_monday",
                violation_error_message="A week starts on a Monday.",
            ),
        ]
        indexes = [models.Index(fields=["organization", "-week_start"], name="weekly_summary_org_week_idx")]

    def __str__(self):
        return f"Week of {self.week_start}"
