"""A tree's version numbers are unique per ``(organization, root, version)``, not ``(root, version)``.

Every tenant unique constraint starts with ``organization`` (``tests/test_conventions.py``): its
index then serves the organization's own queries, and RLS's ``organization_id = …`` is its first
column. The tree query (``organization = … AND (id = root OR root_id = root)``,
``generations.selectors.generation_tree``) reads it or root's foreign-key index, which stays.

At ten million rows the new unique index is built ``CONCURRENTLY`` (ingestion keeps writing), then
attached as the constraint, and only then is the old one dropped, so versions are never unchecked.
Backwards runs the same dance the other way (operations reverse in reverse order: the old index is
built, attached, then the new constraint dropped).
"""

from django.db import migrations, models

TABLE = "generations_generation"
NEW = "generation_unique_version_per_org_tree"
OLD = "generation_unique_version_per_tree"


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("generations", "0009_generation_content_search"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(model_name="generation", name=OLD),
                migrations.AddConstraint(
                    model_name="generation",
                    constraint=models.UniqueConstraint(fields=("organization", "root", "version"), name=NEW),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    sql=f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {NEW} "
                    f"ON {TABLE} (organization_id, root_id, version)",
                    reverse_sql=f"DROP INDEX CONCURRENTLY IF EXISTS {NEW}",
                ),
                migrations.RunSQL(
                    sql=f"ALTER TABLE {TABLE} ADD CONSTRAINT {NEW} UNIQUE USING INDEX {NEW}",
                    # Dropping the constraint drops its index; the first step's reverse then has none.
                    reverse_sql=f"ALTER TABLE {TABLE} DROP CONSTRAINT {NEW}",
                ),
                migrations.RunSQL(
                    sql=migrations.RunSQL.noop,
                    reverse_sql=f"ALTER TABLE {TABLE} ADD CONSTRAINT {OLD} UNIQUE USING INDEX {OLD}",
                ),
                migrations.RunSQL(
                    sql=f"ALTER TABLE {TABLE} DROP CONSTRAINT {OLD}",
                    reverse_sql=f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {OLD} "
                    f"ON {TABLE} (root_id, version)",
                ),
            ],
        ),
    ]
