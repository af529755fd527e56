"""``migrate`` as the tables' owner (schema changes), not as the app role; see tenancy/rls.py."""

from django.core.management.commands import migrate

from tenancy import rls


class Command(migrate.Command):
    def handle(self, *args, **options):
        with rls.database_owner():
            return super().handle(*args, **options)
