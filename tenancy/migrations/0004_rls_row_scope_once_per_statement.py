"""Every tenant wall reads the row scope once per statement, not once per row (tenancy/rls.py,
``policy_clauses``). After every app's migrations so far, so it rewrites every wall they made;
tables walled later are made in this form."""

from django.db import migrations

from tenancy.rls import ReadRowScopeOncePerStatement


class Migration(migrations.Migration):
    dependencies = [
        ("tenancy", "0003_row_level_security"),
        ("providers", "0006_organization_without_single_column_index"),
        ("styleguides", "0006_organization_without_single_column_index"),
        ("generations", "0020_generation_org_kind_index"),
        ("analytics", "0024_retention_batch_organization_index_dropped"),
    ]

    operations = [ReadRowScopeOncePerStatement()]
