"""Database constraints every table that records token usage and its cost carries.

Generations and provider calls both inherit :class:`providers.models.MeteredUsage` (the
normalised usage and the cost computed from it by ``providers.metering``); the rules on those
columns are the same, so they are written once.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from providers.choices import CostStatus


def usage_and_cost_constraints(*, prefix: str, subject: str) -> list[models.CheckConstraint]:
    """Non-negative token counts and costs, and ``cost_status`` agreeing with ``cost_usd``.

    ``prefix`` names the constraints (``<prefix>_tokens_not_negative`` …); ``subject`` is the row
    in the messages ("generation", "call"). The model needs ``input_tokens``, ``output_tokens``,
    ``cache_read_tokens``, ``cache_write_tokens``, ``total_tokens``, ``cost_usd``,
    ``client_cost_usd`` and ``cost_status``.
    """
    return [
        models.CheckConstraint(
            condition=Q(input_tokens__gte=0)
            & Q(output_tokens__gte=0)
            & Q(cache_read_tokens__gte=0)
            & Q(cache_write_tokens__gte=0)
            & Q(total_tokens__gte=0),
            name=f"{prefix}_tokens_not_negative",
            violation_error_message="Token counts cannot be negative.",
        ),
        models.CheckConstraint(
            condition=(Q(cost_usd__isnull=True) | Q(cost_usd__gte=0))
            & (Q(client_cost_usd__isnull=True) | Q(client_cost_usd__gte=0)),
            name=f"{prefix}_cost_not_negative",
            violation_error_message="Costs cannot be negative.",
        ),
        models.CheckConstraint(
            condition=Q(cost_status=CostStatus.PRICED, cost_usd__isnull=False)
            | Q(cost_status__in=[CostStatus.UNPRICED, CostStatus.NO_USAGE], cost_usd__isnull=True),
            name=f"{prefix}_cost_status_matches_cost",
            violation_error_message=(
                f"A priced {subject} has a cost; an unpriced one, or one without usage, has none."
            ),
        ),
    ]
