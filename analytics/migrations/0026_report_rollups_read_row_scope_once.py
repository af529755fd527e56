"""The walls of the six rollups the reports and budget checks read are rewritten to read the
row scope once per statement (``tenancy.rls.policy_clauses``' ``once`` form: the settings in
scalar subqueries, InitPlans), instead of evaluating ``current_setting``, ``string_to_array``
and a cast for every row a report reads. The rows admitted are the same.

Every read of these tables is one tenant's index range (``organization_id = … AND day …``,
plus a user or key), so the plans do not move; only the wall's filter gets cheaper. On the 1M
bench build, in the biggest tenant's scope: a year's cost report by model 26.5 -> 16.3 ms, the
failures report's statement 1.19-1.23 -> 0.93 ms, volume 1.45 -> 1.20, cache 1.20 -> 0.97. The
per-user hourly and daily rollups keep the per-row form: the rate-limit report joins them, and
its plans there got slower (7.1 -> 8.5-9.1 ms over 30 days, 17 -> 27-29 ms over 90, with a
threshold of 5). Reverse puts the per-row form back.
"""

from django.db import migrations

from tenancy.rls import ReadRowScopeOnce

REPORT_ROLLUPS = (
    "generationdayrollup",
    "generationmodeldailyrollup",
    "generationdailyrollup",
    "providercallmodeldailyrollup",
    "providercalldailyrollup",
    "providercallkeydailyrollup",
)


class Migration(migrations.Migration):
    dependencies = [("analytics", "0025_integer_sum_aggregate")]

    operations = [ReadRowScopeOnce(model_name) for model_name in REPORT_ROLLUPS]
