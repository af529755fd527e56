"""Receivers of other apps' signals. They only hand over to ``analytics.rollups``."""

from __future__ import annotations

from analytics import rollups


def count_recorded_generations(
    sender, *, organization, generations, action, previous=None, written_with=None, **kwargs
):
    """``generations_recorded``: add the generations to the rollups in the sender's transaction,
    or to the statement that writes them (``written_with``), so they commit (or roll back)
    together and the rollups stay exact."""
    rollups.rollups_count_generations(
        organization=organization,
        generations=generations,
        action=action,
        previous=previous,
        written_with=written_with,
    )
