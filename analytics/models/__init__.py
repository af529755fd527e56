"""Models of the analytics app: provider calls, performance metrics, rollups, weekly summaries,
the organizations' cleanup preferences and the retention archive.

Raw rows and rollups
--------------------
``ProviderCall`` and ``PerformanceMetric`` (and generations' ``Generation``) are the raw rows:
large, indexed for the API's lists and filters, and expired by the retention policy. Reports
never read them: they read the rollups, which are kept exact in the same transaction as each
ingest (``analytics.rollups``) and survive retention and GDPR purges (anonymised), so totals
over years stay answerable after the raw rows are gone.

- :class:`GenerationDailyRollup`: per organization, UTC day, provider, model, content type and
  user reference; counts generations (whatever their soft-delete state: the money was spent),
  plus cache hits and retries from their performance metrics. Reports grouped by user read it.
- :class:`GenerationModelDailyRollup`: the same without the user (at most models by content types
  groups a day): every other report, and the weekly summaries.
- :class:`GenerationDayRollup`: the same per organization and day only (reports grouped by day
  or month alone, organization budgets); :class:`GenerationUserDailyRollup` per day and user
  (reports grouped by user, alone or with the day or month).
- :class:`ProviderCallDailyRollup`: per organization, UTC day, provider, model, content type,
  user reference and key fingerprint (reports grouped by user, the keys report grouped by more
  than time); :class:`ProviderCallModelDailyRollup` without user and key (every other report);
  :class:`ProviderCallKeyDailyRollup` per day and key only, with the keys report's measures;
  :class:`ProviderCallUserDailyRollup` per day and user (reports grouped by user and time).
- :class:`UserHourlyRollup`: provider calls per organization, UTC hour and user, for the
  rate-limit report ("who made more than N requests in an hour"); narrow, so it stays small.
- :class:`UserDailyRollup`: the same per UTC day, with a bound on each day's busiest hour, so
  the rate-limit report opens the hourly rows only of the user-days that may be over its
  threshold.

All of them are append-only delta rows (``analytics.models.rollups``): a group's figures are
the sum of its rows. A dimension that is unknown is stored as ``""`` (not NULL), so grouping
and folding treat it as one group.

Modules by concern: ``raw`` (the raw rows), ``rollups`` (rollups and summaries), ``archive``
(retention preferences, batches and the archive).
"""

from analytics.models.archive import (
    RETENTION_FIELDS,
    ArchivedRecord,
    CleanupPreferences,
    RetentionBatch,
    retention_default_days,
)
from analytics.models.raw import (
    SHA256_HEX,
    SLOW_CALL_MS,
    ModelPerformance,
    PerformanceMetric,
    ProviderCall,
)
from analytics.models.rollups import (
    RATE,
    GenerationDailyRollup,
    GenerationDayRollup,
    GenerationModelDailyRollup,
    GenerationUserDailyRollup,
    ProviderCallDailyRollup,
    ProviderCallKeyDailyRollup,
    ProviderCallModelDailyRollup,
    ProviderCallUserDailyRollup,
    RollupMeasures,
    UserDailyRollup,
    UserHourlyRollup,
    WeeklySummary,
)

__all__ = [
    "RATE",
    "RETENTION_FIELDS",
    "SHA256_HEX",
    "SLOW_CALL_MS",
    "ArchivedRecord",
    "CleanupPreferences",
    "GenerationDailyRollup",
    "GenerationDayRollup",
    "GenerationModelDailyRollup",
    "GenerationUserDailyRollup",
    "ModelPerformance",
    "PerformanceMetric",
    "ProviderCall",
    "ProviderCallDailyRollup",
    "ProviderCallKeyDailyRollup",
    "ProviderCallModelDailyRollup",
    "ProviderCallUserDailyRollup",
    "RetentionBatch",
    "RollupMeasures",
    "UserDailyRollup",
    "UserHourlyRollup",
    "WeeklySummary",
    "retention_default_days",
]
