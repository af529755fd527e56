"""Rollup cost sums widen from numeric(20, 10) (under $10^10, what one call's column holds) to
``providers.models.MONEY_SUM``, numeric(30, 10): a day's group of calls each under
``providers.metering.MAX_COST_USD`` ($10^6) could pass $10^10 and stop the fold, one statement
for every tenant (``providers.metering`` argues the bound). Same scale, more precision: PostgreSQL
changes the type without rewriting the table or its indexes (a brief ACCESS EXCLUSIVE lock per
table). Reverse narrows them again (and fails if a sum no longer fits)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0017_rollups_user_daily"),
    ]

    operations = [
        migrations.AlterField(
            model_name="generationdailyrollup",
            name="cost_usd",
            field=models.DecimalField(
                decimal_places=10, default=0, help_text="Sum over priced rows.", max_digits=30
            ),
        ),
        migrations.AlterField(
            model_name="generationmodeldailyrollup",
            name="cost_usd",
            field=models.DecimalField(
                decimal_places=10, default=0, help_text="Sum over priced rows.", max_digits=30
            ),
        ),
        migrations.AlterField(
            model_name="modelperformance",
            name="cost_usd",
            field=models.DecimalField(decimal_places=10, default=0, max_digits=30),
        ),
        migrations.AlterField(
            model_name="providercalldailyrollup",
            name="cost_usd",
            field=models.DecimalField(
                decimal_places=10, default=0, help_text="Sum over priced rows.", max_digits=30
            ),
        ),
        migrations.AlterField(
            model_name="providercalldailyrollup",
            name="standalone_cost_usd",
            field=models.DecimalField(
                db_default=0,
                decimal_places=10,
                default=0,
                help_text="What the calls recorded without a generation cost.",
                max_digits=30,
            ),
        ),
        migrations.AlterField(
            model_name="providercallkeydailyrollup",
            name="cost_usd",
            field=models.DecimalField(
                decimal_places=10, default=0, help_text="Sum over priced rows.", max_digits=30
            ),
        ),
        migrations.AlterField(
            model_name="providercallmodeldailyrollup",
            name="cost_usd",
            field=models.DecimalField(
                decimal_places=10, default=0, help_text="Sum over priced rows.", max_digits=30
            ),
        ),
        migrations.AlterField(
            model_name="providercallmodeldailyrollup",
            name="standalone_cost_usd",
            field=models.DecimalField(
                db_default=0,
                decimal_places=10,
                default=0,
                help_text="What the calls recorded without a generation cost.",
                max_digits=30,
            ),
        ),
        migrations.AlterField(
            model_name="weeklysummary",
            name="cost_usd",
            field=models.DecimalField(decimal_places=10, default=0, max_digits=30),
        ),
        migrations.AlterField(
            model_name="weeklysummary",
            name="previous_cost_usd",
            field=models.DecimalField(decimal_places=10, default=0, max_digits=30),
        ),
    ]
