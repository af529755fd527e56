"""Generations' trace-context ids take their definition from ``tenancy.models.TraceContextModel``,
shared with provider calls: a database default of "" (metadata only, no rewrite), as provider
calls have, so a row inserted by code that does not know the columns yet still succeeds."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("generations", "0017_run_models_requested_validated"),
    ]

    operations = [
        migrations.AlterField(
            model_name="generation",
            name="parent_span_id",
            field=models.CharField(
                blank=True,
                db_default="",
                default="",
                help_text="The span this call ran under.",
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="generation",
            name="span_id",
            field=models.CharField(
                blank=True,
                db_default="",
                default="",
                help_text="The client's span id (16 hex).",
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="generation",
            name="trace_id",
            field=models.CharField(
                blank=True,
                db_default="",
                default="",
                help_text="The client's trace id (32 hex).",
                max_length=32,
            ),
        ),
    ]
