"""The content search index, split by organization into 16 partial GIN indexes.

``generation_org_search_idx`` held every tenant's rows: a word's posting list spanned the whole
table, and a small tenant's search of common words read about every page of it (3,560 index
pages, ~25 ms, for a tenant of 2,029 rows at 10M generations). Each of
``generation_search_00_idx`` … ``_15_idx`` holds the organizations of one bucket
(``organization_id % 16``), so a word's list there is a sixteenth as long. The query names its
bucket (``generations.models.content_matches``). Reversible: back, the single index returns.

On a large table this blocks writes while sixteen indexes are built: build them first with
``CREATE INDEX CONCURRENTLY`` under these names and definitions, run this migration with
``--fake``, then ``DROP INDEX CONCURRENTLY generation_org_search_idx``.
"""

import django.contrib.postgres.indexes
from django.db import migrations, models
from django.db.models.expressions import CombinedExpression
from django.db.models.lookups import Exact

import generations.models

BUCKETS = 16  # generations.models.SEARCH_INDEX_BUCKETS when this migration was written


def bucket_index(bucket: int) -> django.contrib.postgres.indexes.GinIndex:
    return django.contrib.postgres.indexes.GinIndex(
        generations.models.OrganizationArray(),
        generations.models.ContentSearchVector(),
        condition=models.Q(
            Exact(CombinedExpression(models.F("organization"), "%%", models.Value(BUCKETS)), bucket)
        ),
        name=f"generation_search_{bucket:02d}_idx",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("generations", "0017_run_models_requested_validated"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="generation", name="generation_org_search_idx"),
        *(
            migrations.AddIndex(model_name="generation", index=bucket_index(bucket))
            for bucket in range(BUCKETS)
        ),
    ]
