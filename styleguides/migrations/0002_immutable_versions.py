"""Published versions never change: a trigger refuses any UPDATE that alters a value.

The one change allowed is the "by" user becoming NULL (``on_delete=SET_NULL`` when a user is
deleted; the ``*_by_label`` column keeps who it was). An UPDATE that writes identical values is
allowed too, so ``loaddata`` can reload seed versions idempotently.
"""

from django.db import migrations

TABLES = {
    "styleguides_styleguideversion": "published_by_id",
    "styleguides_prompttemplateversion": "created_by_id",
    "styleguides_contextsnippetversion": "created_by_id",
}

FUNCTION = """
CREATE FUNCTION styleguides_refuse_version_update() RETURNS trigger AS $$
DECLARE
    by_column text := TG_ARGV[0];
BEGIN
    IF (to_jsonb(NEW) - by_column) IS DISTINCT FROM (to_jsonb(OLD) - by_column)
       OR (to_jsonb(NEW) -> by_column <> 'null'::jsonb
           AND to_jsonb(NEW) -> by_column IS DISTINCT FROM to_jsonb(OLD) -> by_column) THEN
        RAISE EXCEPTION 'rows of % are immutable once written', TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""


def _trigger(table: str, by_column: str) -> str:
    return (
        f"CREATE TRIGGER {table}_immutable BEFORE UPDATE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION styleguides_refuse_version_update('{by_column}');"
    )


class Migration(migrations.Migration):
    dependencies = [("styleguides", "0001_initial")]

    operations = [
        migrations.RunSQL(FUNCTION, "DROP FUNCTION styleguides_refuse_version_update();"),
        *[
            migrations.RunSQL(_trigger(table, column), f"DROP TRIGGER {table}_immutable ON {table};")
            for table, column in TABLES.items()
        ],
    ]
