"""The keys from provider calls, performance metrics and model performance to generations and
runs say ``ON DELETE RESTRICT`` in the database, as generations' own do (see
``generations/migrations/0019_restrict_deletes_at_database.py`` and ``tenancy.foreign_keys``):
retention deletes or unlinks these rows before the generations and runs they point at, so the
database's immediate check holds, at half the look-ups of ``NO ACTION``. Non-atomic: no write is
blocked while a key is validated."""

from django.db import migrations

from tenancy.foreign_keys import SetDeleteAction


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("analytics", "0021_providercall_trace_fields"),
    ]

    operations = [
        SetDeleteAction("providercall", "generation", "RESTRICT"),
        SetDeleteAction("performancemetric", "generation", "RESTRICT"),
        SetDeleteAction("modelperformance", "run", "RESTRICT"),
    ]
