"""Row-level security on every table with an organization (tenancy/rls.py: the second tenant wall)."""

from django.db import migrations

from tenancy.rls import EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [
        ("generations", "0002_links_to_catalogue_and_styleguides"),
        ("tenancy", "0002_row_level_security"),
    ]

    operations = [
        EnableRowLevelSecurity("campaign"),
        EnableRowLevelSecurity("generationrun"),
        EnableRowLevelSecurity("generation"),
        EnableRowLevelSecurity("cacheentry"),
        EnableRowLevelSecurity("cachedailystats"),
    ]
