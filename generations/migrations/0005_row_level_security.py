"""Row-level security on every table with an organization (tenancy/rls.py: the second tenant wall)."""

from django.db import migrations

from tenancy.rls import EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [
        ("generations", "0004_request_id_unique_deleted_included"),
        ("tenancy", "0003_row_level_security"),
    ]

    operations = [
        EnableRowLevelSecurity("campaign"),
        EnableRowLevelSecurity("generationrun"),
        EnableRowLevelSecurity("generation"),
        EnableRowLevelSecurity("cacheentry"),
        EnableRowLevelSecurity("cachedailystats"),
    ]
