"""A run's requested models are validated as a list of model names (the admin saved any JSON).

State only: Django's validators run in Python, the column is unchanged; reversing drops the
validator again."""

from django.db import migrations, models

import generations.models


class Migration(migrations.Migration):
    dependencies = [
        ("generations", "0016_organization_without_single_column_index"),
    ]

    operations = [
        migrations.AlterField(
            model_name="generationrun",
            name="models_requested",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="Model names, as requested.",
                validators=[generations.models.validate_models_requested],
            ),
        ),
    ]
