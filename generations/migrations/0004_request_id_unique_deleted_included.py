"""A request_id is recorded once, ever: the unique constraint on (organization, request_id) now
covers soft-deleted generations too (it was partial: live rows only).

Before the constraint can cover them, rows that already share a request_id (a request replayed
after its generation was deleted, which the partial index let through) are told apart: the one
kept is the live row, or the oldest when all are deleted; every other one is a deleted row (at
most one row per pair is live) and gets ``<request_id>#deleted-<id>``, so it keeps its cost and
place in rollups and trees, and still says which request it came from. Reversing restores the
partial constraint; renamed rows keep their new request_id (nothing would tell them apart again).
"""

from django.db import migrations, models
from django.db.models import Count


def rename_deleted_duplicates(apps, schema_editor):
    """Give every deleted duplicate of an (organization, request_id) a request_id of its own."""
    Generation = apps.get_model("generations", "Generation")
    rows = Generation._base_manager  # every row, deleted ones included
    duplicated = rows.values("organization_id", "request_id").annotate(count=Count("id")).filter(count__gt=1)
    request_id_length = Generation._meta.get_field("request_id").max_length
    for pair in duplicated.iterator():
        same = rows.filter(organization_id=pair["organization_id"], request_id=pair["request_id"])
        _kept, *others = same.order_by(models.F("deleted_at").asc(nulls_first=True), "created_at", "id")
        for row in others:
            suffix = f"#deleted-{row.pk}"
            rows.filter(pk=row.pk).update(
                request_id=row.request_id[: request_id_length - len(suffix)] + suffix
            )


class Migration(migrations.Migration):
    dependencies = [
        ("generations", "0003_generation_metered_usage_occurred_at"),
    ]

    operations = [
        migrations.RunPython(rename_deleted_duplicates, migrations.RunPython.noop, elidable=False),
        migrations.RemoveConstraint(
            model_name="generation",
            name="generation_unique_request_id_per_org",
        ),
        migrations.AddConstraint(
            model_name="generation",
            constraint=models.UniqueConstraint(
                fields=("organization", "request_id"),
                name="generation_unique_request_id_per_org",
                violation_error_message="This request_id was already recorded in this organization.",
            ),
        ),
    ]
