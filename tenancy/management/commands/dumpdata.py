"""``dumpdata`` in the named row-level security bypass: an operator's backup sees every tenant."""

from django.core.management.commands import dumpdata

from tenancy import rls


class Command(dumpdata.Command):
    def handle(self, *args, **options):
        with rls.rls_bypass(reason="dumpdata", using=options["database"]):
            return super().handle(*args, **options)
