"""Row-level security on every table with an organization (tenancy/rls.py: the second tenant wall)."""

from django.db import migrations

from tenancy.rls import EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0003_provider_call_metered_usage_occurred_at"),
        ("tenancy", "0003_row_level_security"),
    ]

    operations = [
        EnableRowLevelSecurity("providercall"),
        EnableRowLevelSecurity("performancemetric"),
        EnableRowLevelSecurity("modelperformance"),
        EnableRowLevelSecurity("generationdailyrollup"),
        EnableRowLevelSecurity("providercalldailyrollup"),
        EnableRowLevelSecurity("userhourlyrollup"),
        EnableRowLevelSecurity("weeklysummary"),
        EnableRowLevelSecurity("cleanuppreferences"),
        EnableRowLevelSecurity("retentionbatch"),
        EnableRowLevelSecurity("archivedrecord"),
    ]
