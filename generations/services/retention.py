"""What retention and the GDPR purge (``analytics.retention``, ``analytics.purge``) may do to
generations and runs: the rules of which are expired, and the one write that erases a user.

A module of ``generations.services`` apart from ingestion, so the two change independently;
analytics calls these instead of writing generations' rows itself.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.db.models import Exists, OuterRef, QuerySet

from generations.choices import GenerationStatus
from generations.models import Generation, GenerationRun
from tenancy.models import Organization

# Field values a purge writes: content and personal fields, never tokens or costs (spend stays spent).
GENERATION_ERASED = {
    "user_ref": None,
    "prompt": "",
    "content": "",
    "raw_request": None,
    "raw_response": None,
    "metadata": {},
    "parameters": {},
    "error_message": "",
    "error_details": {},
    "branch_name": "",
    "conversation_id": "",
}
RUN_ERASED = {"user_ref": None, "prompt": "", "error_details": {}}


def generations_user_erase(
    *, organization: Organization, user_ref: str, dry_run: bool = False
) -> dict[str, int]:
    """Erase ``user_ref``'s content and personal fields from its generations and runs in
    ``organization`` (deleted rows included); tokens and costs stay. Returns the rows erased per
    kind (``dry_run``: the rows that would be, nothing written). Runs in the caller's transaction."""
    generations = Generation.all_objects.filter(organization=organization, user_ref=user_ref)
    runs = GenerationRun.all_objects.filter(organization=organization, user_ref=user_ref)
    if dry_run:
        return {"generations": generations.count(), "runs": runs.count()}
    return {"generations": generations.update(**GENERATION_ERASED), "runs": runs.update(**RUN_ERASED)}


# Each rule takes several organizations sharing one cutoff: retention's nightly run asks once
# for every organization on the platform's policy, not once per organization.


def generations_created_before(
    *, organizations: Iterable[Organization], cutoff: datetime.datetime, failed: bool = False
) -> QuerySet:
    """Generations of ``organizations`` created before ``cutoff`` (``failed``: only failed
    ones): what the expired trees and the expired failed generations are taken from, and a
    superset of each that an index answers alone (retention cuts its windows from it)."""
    rows = Generation.all_objects.filter(organization__in=organizations, created_at__lt=cutoff)
    return rows.filter(status=GenerationStatus.FAILED) if failed else rows


def expired_generation_trees(*, organizations: Iterable[Organization], cutoff: datetime.datetime) -> QuerySet:
    """Roots of the trees of ``organizations`` whose every node is older than ``cutoff``: a tree
    expires whole, never leaving a version without its root.

    A tree's nodes are looked for within its organization (a tree never spans two), so the
    (organization, root, version) index bounds the search to the organization's nodes. By
    ``root`` alone the planner may merge the roots with the whole ``root_id`` index instead,
    fetching every node of every organization up to the last root's key to test its time: at 2M,
    197 of a retention batch's 334 ms (94,761 nodes read) against 6 ms (608) this way."""
    newer_nodes = Generation.all_objects.filter(
        organization=OuterRef("organization"), root=OuterRef("pk"), created_at__gte=cutoff
    )
    roots = generations_created_before(organizations=organizations, cutoff=cutoff).filter(root__isnull=True)
    return roots.exclude(Exists(newer_nodes))


def expired_failed_generations(
    *, organizations: Iterable[Organization], cutoff: datetime.datetime
) -> QuerySet:
    """Failed generations of ``organizations`` older than ``cutoff`` that no other version
    branches from."""
    children = Generation.all_objects.filter(parent=OuterRef("pk"))
    failed = generations_created_before(organizations=organizations, cutoff=cutoff, failed=True)
    return failed.exclude(Exists(children))


def runs_created_before(*, organizations: Iterable[Organization], cutoff: datetime.datetime) -> QuerySet:
    """Runs of ``organizations`` created before ``cutoff``: what the expired empty runs are taken
    from, and a superset of them that the (organization, created_at) index answers alone
    (retention cuts their windows from it). Unlike the empty runs it does not grow while a run
    archives generations, so its windows can be read before the first batch."""
    return GenerationRun.all_objects.filter(organization__in=organizations, created_at__lt=cutoff)


def expired_empty_runs(*, organizations: Iterable[Organization], cutoff: datetime.datetime) -> QuerySet:
    """Runs of ``organizations`` older than ``cutoff`` that recorded no generation."""
    generations = Generation.all_objects.filter(run=OuterRef("pk"))
    return runs_created_before(organizations=organizations, cutoff=cutoff).exclude(Exists(generations))
