"""``flush`` as the tables' owner: TRUNCATE is not granted to the app role; see tenancy/rls.py."""

from django.core.management.commands import flush

from tenancy import rls


class Command(flush.Command):
    def handle(self, *args, **options):
        with rls.database_owner():
            return super().handle(*args, **options)
