"""Row-level security on every table with an organization (tenancy/rls.py: the second tenant wall).

Style guides, templates, snippets, their versions, rules and labels have global rows
(no organization): every tenant reads them, only the bypass writes them."""

from django.db import migrations

from tenancy.rls import EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [
        ("styleguides", "0004_tenant_unique_constraints_lead_with_organization"),
        ("tenancy", "0003_row_level_security"),
    ]

    operations = [
        EnableRowLevelSecurity("styleguide", include_global=True),
        EnableRowLevelSecurity("styleguideversion", include_global=True),
        EnableRowLevelSecurity("brandrule", include_global=True),
        EnableRowLevelSecurity("prompttemplate", include_global=True),
        EnableRowLevelSecurity("prompttemplateversion", include_global=True),
        EnableRowLevelSecurity("prompttemplatelabel", include_global=True),
        EnableRowLevelSecurity("contextsnippet", include_global=True),
        EnableRowLevelSecurity("contextsnippetversion", include_global=True),
        EnableRowLevelSecurity("contentpillar"),
        EnableRowLevelSecurity("contentseries"),
    ]
