"""Reads of the generations app: scoped, optimised querysets and the tree queries.

Every selector takes ``organization`` first and never returns another tenant's rows.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.postgres.aggregates import ArrayAgg
from django.db.models import CharField, Count, F, Func, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_cte import CTE, with_cte

from generations.choices import GenerationKind, GenerationStatus, RunStatus
from generations.models import CacheDailyStats, CacheEntry, Campaign, Generation, GenerationRun
from providers.spending import SpendScope, SpendTotals
from styleguides import selectors as styleguide_selectors
from styleguides.models import Vertical
from tenancy.errors import DomainError
from tenancy.models import Organization

# Columns a tree node shows; the heavy ones (content, prompt, raw JSON) stay unread.
NODE_FIELDS = (
    "id",
    "request_id",
    "parent_id",
    "depth",
    "version",
    "kind",
    "branch_name",
    "status",
    "model_name",
    "content_type",
    "created_at",
    "deleted_at",
)
LIST_DEFERRED = ("raw_request", "raw_response", "prompt", "parameters", "error_details")


# What a list row shows of its relations (``GenerationListSerializer``), read as columns of the
# row's own query (LEFT JOINs) instead of related model instances: a page of 50 builds 50
# model instances, not 200 (building them was a fifth of a list request's time).
LIST_RELATION_NAMES = {
    "vertical_slug": F("vertical__slug"),
    "model_canonical_name": F("model__name"),
    "provider_slug": F("provider__slug"),
}


def _with_relation_names(queryset: QuerySet[Generation]) -> QuerySet[Generation]:
    return queryset.annotate(**LIST_RELATION_NAMES)


def generation_list(*, organization: Organization) -> QuerySet[Generation]:
    """Live generations of the organization, newest first, with the names the list shows of
    their vertical, model and provider (:data:`LIST_RELATION_NAMES`)."""
    return _with_relation_names(Generation.objects.filter(organization=organization)).defer(*LIST_DEFERRED)


def generation_detail(*, organization: Organization) -> QuerySet[Generation]:
    """Live generations with every relation the detail view shows."""
    generations = Generation.objects.filter(organization=organization)
    return generations.select_related("vertical", "model", "provider")


def generation_tree(*, organization: Organization, generation: Generation) -> dict[str, Any]:
    """The whole tree ``generation`` belongs to, nested from its root, in one query.

    ``WHERE id = root OR root_id = root`` (both indexed) reads every node; children are ordered
    by version. Soft-deleted nodes keep their place (``is_deleted``) so live descendants are
    not orphaned.
    """
    # Plain rows, not model instances: a 500-node tree built 1,000 of them (nodes, verticals).
    nodes = list(
        Generation.all_objects.filter(organization=organization)
        .in_tree(generation.tree_root_id)
        .order_by("depth", "version")
        .values(*NODE_FIELDS, vertical_slug=F("vertical__slug"))
    )
    by_id = {node["id"]: _node(node) for node in nodes}
    root = None
    for node in nodes:
        parent_id = node["parent_id"]
        if parent_id is None:
            root = by_id[node["id"]]
        elif parent_id in by_id:
            by_id[parent_id]["children"].append(by_id[node["id"]])
    return root or {}


def _node(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "request_id": row["request_id"],
        "parent": row["parent_id"],
        "depth": row["depth"],
        "version": row["version"],
        "kind": row["kind"],
        "branch_name": row["branch_name"],
        "status": row["status"],
        "model": row["model_name"],
        "content_type": row["content_type"],
        "vertical": row["vertical_slug"],
        "created_at": row["created_at"],
        "is_deleted": row["deleted_at"] is not None,
        "children": [],
    }


def generation_lineage(*, organization: Organization, generation: Generation) -> list[Generation]:
    """The path root → ``generation`` (both included), by a recursive CTE up ``parent``.

    One query whatever the depth, the names of the relations the list serializer shows
    included (:data:`LIST_RELATION_NAMES`); soft-deleted
    ancestors are included (the path is history; the API shows them without their content).
    """

    def ancestors(cte):
        start = Generation.all_objects.filter(pk=generation.pk).values("id", "parent_id")
        step = cte.join(Generation.all_objects.all(), id=cte.col.parent_id).values("id", "parent_id")
        return start.union(step, all=True)

    cte = CTE.recursive(ancestors, name="lineage")
    queryset = with_cte(
        cte, select=cte.join(Generation.all_objects.filter(organization=organization), id=cte.col.id)
    )
    return list(_with_relation_names(queryset).order_by("depth"))


def generation_variants(*, organization: Organization, generation: Generation) -> QuerySet[Generation]:
    """The live variants of ``generation`` (its children for other verticals), by vertical then
    version: one source piece adapted for hospitality, healthcare, tech and athletics."""
    queryset = Generation.objects.filter(
        organization=organization, parent=generation, kind=GenerationKind.VARIANT
    )
    return _with_relation_names(queryset).order_by("vertical__slug", "version")


# --- runs -------------------------------------------------------------------------------------

_ACTIVE = [GenerationStatus.PENDING, GenerationStatus.PROCESSING]
_SUCCEEDED = [GenerationStatus.SUCCESS, GenerationStatus.PARTIAL]


class RequestedModelAnswered(Func):
    """The name, among a run's ``models_requested``, that one of its generations answers: the
    one spelled as the generation's model name, else the first that names the model metering
    resolved the generation to at ingestion (``Generation.model``: its canonical name or one of
    its aliases). Case-insensitive, like the catalogue's own matching
    (``providers.selectors.model_resolve``); NULL when the generation answers none of them.

    Compared in SQL with the model each generation already carries (one LEFT JOIN of the
    figures query), so a page of runs costs no query more: resolving the requested names
    through the catalogue instead cost a query per name on a cold process, past the list's
    pinned query count (``tests/test_scale.py``).
    """

    # The exact spelling first: a run that requested both ``gpt-4o`` and its dated alias gets
    # each generation counted against the name it was sent as, so both can report.
    # ``models_requested`` is any JSON in the admin: what is not a list requests nothing, rather
    # than failing every read of the run. Aliases are stored lower-cased (``AIModel.save``).
    template = (
        "(SELECT requested.name FROM jsonb_array_elements_text("
        "CASE WHEN jsonb_typeof(%(requested)s) = 'array' THEN %(requested)s ELSE '[]'::jsonb END"
        ") WITH ORDINALITY AS requested(name, position) "
        "WHERE lower(requested.name) IN (lower(%(recorded)s), lower(%(canonical)s)) "
        "OR lower(requested.name) = ANY(%(aliases)s) "
        "ORDER BY lower(requested.name) <> lower(%(recorded)s), requested.position LIMIT 1)"
    )
    output_field = CharField()

    def __init__(self, *, requested: str, recorded: str, canonical: str, aliases: str):
        super().__init__(F(requested), F(recorded), F(canonical), F(aliases))

    def as_sql(self, compiler, connection, **extra_context):
        """The template with each column compiled once, its parameters in the order of use."""
        names = ("requested", "recorded", "canonical", "aliases")
        compiled = dict(zip(names, map(compiler.compile, self.get_source_expressions()), strict=True))
        params = [param for name in re.findall(r"%\((\w+)\)s", self.template) for param in compiled[name][1]]
        return self.template % {name: sql for name, (sql, _) in compiled.items()}, params


def _run_model_name() -> Coalesce:
    """How a run names the model of one of its generations: the requested name it answers
    (:class:`RequestedModelAnswered`), else the name it was recorded with. So ``GPT-4o`` or an
    alias the catalogue knows counts as the ``gpt-4o`` the run requested, and
    ``models_reported`` covers ``models_requested`` exactly when every requested model has
    answered."""
    answered = RequestedModelAnswered(
        requested="models_requested",
        recorded="generations__model_name",
        canonical="generations__model__name",
        aliases="generations__model__aliases",
    )
    return Coalesce(answered, F("generations__model_name"))


def _run_figures() -> dict[str, Any]:
    """What a run derives from its generations, as annotations of ``GenerationRun``:
    ``generation_count``, ``active_count``, ``succeeded_count``, ``cancelled_count``,
    ``models_completed``, ``models_reported``, ``total_cost_usd``, ``total_tokens``,
    ``unpriced_count``.

    Cost and tokens count soft-deleted generations too (money spent stays spent), and so does
    ``models_reported`` (a model that answered has reported, whatever became of its row); the
    counts and ``models_completed`` describe the live generations. The two model lists name a
    model as the run requested it (:func:`_run_model_name`)."""
    live = Q(generations__deleted_at__isnull=True)
    return {
        "generation_count": Count("generations", filter=live),
        "active_count": Count("generations", filter=live & Q(generations__status__in=_ACTIVE)),
        "succeeded_count": Count("generations", filter=live & Q(generations__status__in=_SUCCEEDED)),
        "cancelled_count": Count(
            "generations", filter=live & Q(generations__status=GenerationStatus.CANCELLED)
        ),
        "unpriced_count": Count("generations", filter=live & Q(generations__cost_usd__isnull=True)),
        "models_completed": ArrayAgg(
            _run_model_name(),
            filter=live & Q(generations__status__in=_SUCCEEDED),
            distinct=True,
            default=[],
            order_by=_run_model_name(),
        ),
        "total_cost_usd": Coalesce(Sum("generations__cost_usd"), Decimal(0)),
        "total_tokens": Coalesce(Sum("generations__total_tokens"), 0),
        "models_reported": ArrayAgg(
            _run_model_name(),
            filter=Q(generations__status__in=sorted(GenerationStatus.terminal())),
            distinct=True,
            default=[],
            order_by=_run_model_name(),
        ),
    }


def run_list(*, organization: Organization) -> QuerySet[GenerationRun]:
    """Live runs of the organization, without their figures: a list page is cut first and
    :func:`run_figures_attach` then aggregates the page's runs only (aggregating before the
    ``LIMIT`` grouped every run of the tenant on every request: 1.8 s at 8,000 runs)."""
    return GenerationRun.objects.filter(organization=organization)


def run_detail(*, organization: Organization) -> QuerySet[GenerationRun]:
    """Runs with their figures (:func:`_run_figures`) annotated in the same query: for reading
    one run (detail, the answer of a write), where the ``GROUP BY`` covers that run alone."""
    return GenerationRun.objects.filter(organization=organization).annotate(**_run_figures())


def run_figures_attach(*, organization: Organization, runs: list[GenerationRun]) -> list[GenerationRun]:
    """Set :func:`_run_figures` on each of ``runs`` (a list page), in one query grouped over
    these runs only (their generations through the ``run_id`` index); returns ``runs``."""
    names = list(_run_figures())
    figures = {
        row["pk"]: row
        for row in run_detail(organization=organization)
        .filter(pk__in=[run.pk for run in runs])
        .values("pk", *names)
    }
    for run in runs:
        row = figures.get(run.pk)
        if row is None:  # deleted between the page and this query: shown as it was, empty
            row = {name: [] if name.startswith("models_") else 0 for name in names}
            row["total_cost_usd"] = Decimal(0)
        for name in names:
            setattr(run, name, row[name])
    return runs


def run_status(run: GenerationRun) -> str:
    """A run's status from its figures (:func:`run_detail`, :func:`run_figures_attach`).

    No generation yet: pending; any still pending/processing, or a requested model that has not
    reported (no finished generation of it yet, under any case or alias of its name: the
    figures name models as requested, :func:`_run_model_name`): running; once every requested
    model has
    reported: completed when every requested model succeeded, partial when some did, cancelled
    when all were cancelled, failed otherwise.
    """
    if run.generation_count == 0:
        return RunStatus.PENDING
    if run.active_count or not set(run.models_reported) >= set(run.models_requested or []):
        return RunStatus.RUNNING
    if run.succeeded_count:
        requested = set(run.models_requested or [])
        if set(run.models_completed) >= requested and run.succeeded_count == run.generation_count:
            return RunStatus.COMPLETED
        return RunStatus.PARTIAL
    if run.cancelled_count == run.generation_count:
        return RunStatus.CANCELLED
    return RunStatus.FAILED


def campaign_list(*, organization: Organization) -> QuerySet[Campaign]:
    """Live campaigns of the organization."""
    relations = [
        name for name in ("pillar", "series") if any(f.name == name for f in Campaign._meta.get_fields())
    ]
    return Campaign.objects.filter(organization=organization).select_related(*relations)


# --- the response cache -----------------------------------------------------------------------


def cache_entry_list(*, organization: Organization) -> QuerySet[CacheEntry]:
    """Cache entries of the organization (expired ones included until purged)."""
    return CacheEntry.objects.filter(organization=organization)


@dataclass(frozen=True)
class CacheStats:
    """Hit rate and savings of an organization's response cache over a period."""

    since: datetime.date
    until: datetime.date
    hits: int
    misses: int
    hit_rate: float | None
    cost_saved_usd: Decimal
    live_entries: int
    expired_entries: int


def cache_stats(
    *, organization: Organization, since: datetime.date | None = None, until: datetime.date | None = None
) -> CacheStats:
    """Hits, misses, hit rate and cost saved from the daily counters (two small queries)."""
    until = until or timezone.now().date()
    since = since or until - datetime.timedelta(days=29)
    if since > until:  # checked once the defaults are known: a future `from` alone is after today
        raise DomainError("`from` is after `to` (today when not given).", code="invalid_range", attr="from")
    totals = CacheDailyStats.objects.filter(
        organization=organization, day__gte=since, day__lte=until
    ).aggregate(
        hits=Coalesce(Sum("hits"), 0),
        misses=Coalesce(Sum("misses"), 0),
        cost_saved_usd=Coalesce(Sum("cost_saved_usd"), Decimal(0)),
    )
    now = timezone.now()
    entries = CacheEntry.objects.filter(organization=organization).aggregate(
        # Counting expires_at (never null), not id: (organization, expires_at) answers it alone.
        live=Count("expires_at", filter=Q(expires_at__gt=now)),
        expired=Count("expires_at", filter=Q(expires_at__lte=now)),
    )
    lookups = totals["hits"] + totals["misses"]
    return CacheStats(
        since=since,
        until=until,
        hits=totals["hits"],
        misses=totals["misses"],
        hit_rate=round(totals["hits"] / lookups, 4) if lookups else None,
        cost_saved_usd=totals["cost_saved_usd"],
        live_entries=entries["live"],
        expired_entries=entries["expired"],
    )


# --- references of bulk items -----------------------------------------------------------------


def _campaigns(organization):
    return Campaign.objects.filter(organization=organization)


def _runs(organization):
    return GenerationRun.objects.filter(organization=organization)


def _parents(organization):
    return Generation.objects.filter(organization=organization)


def _style_guide_versions(organization):
    return styleguide_selectors.readable_by(styleguide_selectors.citable_style_guide_versions(), organization)


def _template_versions(organization):
    return styleguide_selectors.readable_by(styleguide_selectors.citable_template_versions(), organization)


# ``<field>_id`` of a bulk item → the rows of the organization it may name (one query per field).
BULK_REFERENCES = {
    "campaign": _campaigns,
    "run": _runs,
    "parent": _parents,
    "style_guide_version": _style_guide_versions,
    "template_version": _template_versions,
}


def verticals_by_slug() -> dict[str, Vertical]:
    """Every vertical by slug (a handful of global rows)."""
    return {vertical.slug: vertical for vertical in Vertical.objects.all()}


# --- spending, for providers' budgets -----------------------------------------------------------


def generation_spend(scope: SpendScope, *, since: datetime.datetime, until: datetime.datetime) -> SpendTotals:
    """What the scope's generations created in ``[since, until)`` cost, and how many there were:
    the spend source budgets count (registered in ``GenerationsConfig.ready``). Soft-deleted
    generations count: money spent stays spent, so deleting a row never refunds a budget.

    Generations do not record which provider credential paid for them, so a budget narrowed to a
    credential gets nothing from this source (analytics' provider calls carry the fingerprint).
    One aggregate over the ``(organization, created_at)`` index.
    """
    if scope.credential_fingerprint:
        return SpendTotals()
    rows = Generation.all_objects.filter(
        organization=scope.organization, created_at__gte=since, created_at__lt=until
    )
    if scope.user_ref:
        rows = rows.filter(user_ref=scope.user_ref)
    totals = rows.aggregate(cost_usd=Coalesce(Sum("cost_usd"), Decimal(0)), requests=Count("id"))
    return SpendTotals(cost_usd=totals["cost_usd"], requests=totals["requests"])
