"""A month of generations for the dashboard tests, rolled up."""

from __future__ import annotations

import datetime
import random
from decimal import Decimal

from django.utils import timezone

from analytics.models import PerformanceMetric
from analytics.rollups import rollup_rebuild
from generations.models import Generation

MODELS = ["gpt-4o", "claude-sonnet-4-0", "gemini-2.5-flash", "gpt-4o-mini"]
USERS = ["ana", "ben", "chloé", None]


def month_of_generations(organization, *, seed: int = 5, per_day: int = 12) -> list[Generation]:
    """``per_day`` generations a day over the last 30 days: four models, four users, some
    failures, some cache hits; rollups rebuilt."""
    rng = random.Random(seed)
    today = timezone.now().date()
    rows = []
    for days_ago in range(30):
        day = today - datetime.timedelta(days=days_ago)
        for n in range(per_day):
            model = MODELS[(n + days_ago) % len(MODELS)]
            rows.append(
                Generation(
                    organization=organization,
                    request_id=f"{organization.slug}-{days_ago}-{n}",
                    created_at=datetime.datetime.combine(day, datetime.time(9 + n % 8), tzinfo=datetime.UTC),
                    model_name=model,
                    provider_name="openai",
                    content_type="blog" if n % 2 else "social",
                    user_ref=USERS[n % len(USERS)],
                    status="failed" if n % 7 == 0 else "success",
                    input_tokens=rng.randrange(500, 5000),
                    output_tokens=rng.randrange(50, 800),
                    total_tokens=6000,
                    cost_usd=Decimal(rng.randrange(1, 30)) / Decimal(100) * (1 + MODELS.index(model)),
                    cost_status="priced",
                    generation_time_ms=rng.randrange(300, 9000),
                )
            )
    Generation.all_objects.bulk_create(rows)
    PerformanceMetric.objects.bulk_create(
        PerformanceMetric(organization=organization, generation=row, cache_hit=index % 4 == 0)
        for index, row in enumerate(rows)
    )
    rollup_rebuild(date_from=today - datetime.timedelta(days=31), date_to=today, organizations=[organization])
    return rows
