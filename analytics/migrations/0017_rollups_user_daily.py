"""Rollup per user and day with a bound on the day's busiest hour: the rate-limit report read
every hourly row of its range (265,851 a year for the biggest tenant of the 10M bench); it now
reads one row per user and day and opens the hourly rows only of the user-days whose busiest
hour may be over its threshold. Filled from the hourly rollup (exact: each day's sums, and its
busiest hour's exact count, so every filled row is as if folded); row-level security like every
tenant table. Reverse drops it.

The previous release, still serving while this runs and until the deploy ends, writes hourly
rows only: its calls are missing from this rollup. One ``manage.py fold_rollups`` run after the
deploy recomputes the days from the hourly rollup, counts and busiest-hour bounds exact again:
the periodic one (every 5 minutes, yesterday and today) does it by itself, a deploy that began
before yesterday needs one run with ``--from``."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

from tenancy.rls import EnableRowLevelSecurity

FILL = """
INSERT INTO analytics_userdailyrollup
       (organization_id, day, user_ref, requests, rate_limited, busiest_hour_bound, folded, updated_at)
SELECT organization_id, (hour AT TIME ZONE 'UTC')::date, user_ref,
       sum(requests), sum(rate_limited), max(requests), true, now()
  FROM (SELECT organization_id, hour, user_ref, sum(requests) AS requests,
               sum(rate_limited) AS rate_limited
          FROM analytics_userhourlyrollup
         GROUP BY organization_id, hour, user_ref) hourly
 GROUP BY organization_id, (hour AT TIME ZONE 'UTC')::date, user_ref
HAVING sum(requests) <> 0
"""


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0016_archive_foreign_keys_without_index"),
        ("tenancy", "0003_row_level_security"),
    ]

    operations = [
        migrations.CreateModel(
            name="UserDailyRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("updated_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("day", models.DateField()),
                ("user_ref", models.CharField(max_length=200)),
                ("requests", models.BigIntegerField(default=0)),
                ("rate_limited", models.BigIntegerField(default=0)),
                (
                    "busiest_hour_bound",
                    models.BigIntegerField(
                        default=0,
                        help_text="Summed per day: at least the requests of the day's busiest hour.",
                    ),
                ),
                (
                    "folded",
                    models.BooleanField(
                        db_default=False,
                        default=False,
                        help_text="Written by a fold or rebuild: the only row of its day, its bound exact.",
                    ),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="tenancy.organization",
                    ),
                ),
            ],
            options={
                "ordering": ["-day", "user_ref"],
                "indexes": [
                    models.Index(fields=["organization", "day", "user_ref"], name="user_daily_rollup_idx"),
                    models.Index(
                        fields=["organization", "busiest_hour_bound", "day"],
                        include=("user_ref",),
                        name="user_daily_rollup_busiest_idx",
                    ),
                    models.Index(
                        condition=models.Q(("folded", False)),
                        fields=["organization", "day", "user_ref"],
                        name="user_daily_rollup_unfolded_idx",
                    ),
                    models.Index(
                        fields=["organization", "user_ref", "day"],
                        include=("requests", "rate_limited"),
                        name="user_daily_rollup_user_idx",
                    ),
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            ("requests__gte", 0),
                            ("rate_limited__gte", 0),
                            ("rate_limited__lte", models.F("requests")),
                            ("busiest_hour_bound__gte", 0),
                            ("busiest_hour_bound__lte", models.F("requests")),
                        ),
                        name="user_daily_rollup_counts_consistent",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("user_ref", ""), _negated=True), name="user_daily_rollup_has_user"
                    ),
                ],
            },
        ),
        EnableRowLevelSecurity("userdailyrollup"),
        migrations.RunSQL(FILL, reverse_sql=migrations.RunSQL.noop),
    ]
