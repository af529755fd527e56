"""Django's PostgreSQL backend, running as the non-superuser app role (see ``tenancy.rls``)."""
