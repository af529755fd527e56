"""``loaddata`` in the named row-level security bypass: fixtures hold global rows and any tenant's."""

from django.core.management.commands import loaddata

from tenancy import rls


class Command(loaddata.Command):
    def handle(self, *args, **options):
        with rls.rls_bypass(reason="loaddata", using=options["database"]):
            return super().handle(*args, **options)
