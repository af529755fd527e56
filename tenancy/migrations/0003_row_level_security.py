"""Row-level security on every table with an organization (tenancy/rls.py: the second tenant wall).

The organization table itself is walled by its id: a tenant sees only its own organization."""

from django.db import migrations

from tenancy.rls import CreateAppRole, EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [("tenancy", "0002_rate_counter")]

    operations = [
        # The non-superuser role the app runs as (tenancy/rls.py); migrate runs as the owner.
        CreateAppRole(),
        EnableRowLevelSecurity("organization", column="id"),
        EnableRowLevelSecurity("membership"),
        EnableRowLevelSecurity("organizationapikey"),
        EnableRowLevelSecurity("auditevent"),
    ]
