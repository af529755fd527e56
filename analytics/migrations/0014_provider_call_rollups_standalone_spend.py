"""Budgets count a provider call's own cost only when it was recorded without a generation; that
fact is now kept (``ProviderCall.recorded_with_generation``) instead of read from the link, which
retention and purges null when they delete the generation (the call was then counted twice). And
the provider-call rollups count the calls recorded without a generation (``standalone_requests``,
``standalone_cost_usd``): whole days of an organization's or a user's budget come from the
rollups, as the generations' do, and stay counted after retention archives the raw calls (spent
stays spent).

The columns only, each with a constant column default (``db_default``): PostgreSQL ≥ 11 adds
such a column without rewriting the table (a brief ACCESS EXCLUSIVE lock, no scan), and the
default stays, so code of the previous release still running during the deploy, which inserts
rows without these columns, writes false and 0 instead of failing NOT NULL. They are filled in
the next migration (``0015``), in batches that commit one by one. Reverse drops the columns."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0013_provider_call_recorded_by_key_not_editable"),
    ]

    operations = [
        migrations.AddField(
            model_name="providercall",
            name="recorded_with_generation",
            field=models.BooleanField(
                db_default=False,
                default=False,
                editable=False,
                help_text="Recorded with a generation: its cost is counted there.",
            ),
        ),
        migrations.AddField(
            model_name="providercalldailyrollup",
            name="standalone_cost_usd",
            field=models.DecimalField(
                db_default=0,
                decimal_places=10,
                default=0,
                help_text="What the calls recorded without a generation cost.",
                max_digits=20,
            ),
        ),
        migrations.AddField(
            model_name="providercalldailyrollup",
            name="standalone_requests",
            field=models.BigIntegerField(
                db_default=0, default=0, help_text="Calls recorded without a generation."
            ),
        ),
        migrations.AddField(
            model_name="providercallmodeldailyrollup",
            name="standalone_cost_usd",
            field=models.DecimalField(
                db_default=0,
                decimal_places=10,
                default=0,
                help_text="What the calls recorded without a generation cost.",
                max_digits=20,
            ),
        ),
        migrations.AddField(
            model_name="providercallmodeldailyrollup",
            name="standalone_requests",
            field=models.BigIntegerField(
                db_default=0, default=0, help_text="Calls recorded without a generation."
            ),
        ),
    ]
