"""Row-level security on every table with an organization (tenancy/rls.py: the second tenant wall)."""

from django.db import migrations

from tenancy.rls import EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [("testapp", "0001_initial"), ("tenancy", "0003_row_level_security")]

    operations = [
        EnableRowLevelSecurity("widget"),
    ]
