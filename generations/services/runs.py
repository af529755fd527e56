"""Runs (one prompt sent to several models) and campaigns: their creation, audited."""

from __future__ import annotations

from django.db import transaction

from generations.models import Campaign, GenerationRun
from tenancy import services as tenancy_services
from tenancy.actors import SYSTEM, Actor
from tenancy.models import Organization


@transaction.atomic
def run_create(*, organization: Organization, actor: Actor = SYSTEM, **fields) -> GenerationRun:
    """Start a multi-model run (its status and totals come from its generations)."""
    run = GenerationRun(organization=organization, **fields)
    return tenancy_services.audited_save(organization=organization, actor=actor, instance=run)


@transaction.atomic
def campaign_create(*, organization: Organization, actor: Actor = SYSTEM, **fields) -> Campaign:
    """Create a campaign."""
    campaign = Campaign(organization=organization, **fields)
    return tenancy_services.audited_save(organization=organization, actor=actor, instance=campaign)
