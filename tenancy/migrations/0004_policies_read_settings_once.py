"""The walls' ``USING`` conditions read the session's settings once per statement, not once per
row (``tenancy.rls.visible_sql``): the same rows, less work for every statement that reads many.

Policies created after this by any app's ``EnableRowLevelSecurity`` already have this form."""

from django.db import migrations

from tenancy.rls import read_settings_once


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        read_settings_once(schema_editor, once=True)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        read_settings_once(schema_editor, once=False)


class Migration(migrations.Migration):
    dependencies = [("tenancy", "0003_row_level_security")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
