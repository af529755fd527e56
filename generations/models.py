"""Models of the generations app: generations and their trees, runs, campaigns, the response cache.

Why an adjacency list for generation trees (and not django-treebeard)
--------------------------------------------------------------------
A generation tree is append-only: new versions are added under existing nodes, nodes never move.
Each :class:`Generation` keeps ``parent`` (the adjacency list), ``root`` (its tree, null on the
root itself), ``depth`` and ``version`` (1 for the root, 2, 3 … in the order nodes were added).

- Adding a version is one INSERT plus one single-row UPDATE of the root's version counter
  (``tree_last_version``), which also serialises concurrent branches of the same tree: the
  counter is the lock, so versions are gap-free and unique (the database checks ``(root,
  version)`` too). Other trees are not touched.
- A whole tree is one indexed query, ``WHERE id = root OR root_id = root``, nested in Python.
- A lineage (root → node) is a recursive CTE up ``parent`` (django-cte), bounded by ``depth``.

treebeard's materialised path (``MP_Node``) computes a new child's path from its siblings'
paths and then inserts it: two concurrent ``add_child`` calls on the same parent compute the
same path and one fails (or, without the unique index, corrupts the tree); its nested sets
rewrite half the table per insert. Both also store tree position in the row, which ``bulk_create``
cannot compute. None of their strengths (moving subtrees, sibling order) is needed here.
"""

from __future__ import annotations

from collections.abc import Collection

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchConfig, SearchQuery, SearchQueryField, SearchVectorField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Func, Q, Value
from django.db.models.functions import Cast

from generations.choices import ContentFormat, ContentType, GenerationKind, GenerationStatus, TargetChannel
from providers.choices import GenerationMode
from providers.models import MONEY, MeteredUsage
from providers.usage_constraints import usage_and_cost_constraints
from tenancy.models import (
    AliveManager,
    DeletedManager,
    IngestedRequestModel,
    Organization,
    SoftDeleteModel,
    SoftDeleteQuerySet,
    TenantModel,
    TraceContextModel,
    history_reference,
    null_or_at_least,
    per_user_index,
    unique_request_id,
    unique_while_alive,
)

# Full-text search of generation content. English: the content Inkwell stores is marketing copy
# in English, so stemming ("hotels" finds "hotel") and dropping stop words is what a reader
# expects. The GIN index (``generation_tenant_search_idx``) is on the organization's own words,
# ``generation_search_vector(organization_id, content)`` (migration 0021 defines both SQL
# functions and says why), and PostgreSQL uses an expression index only for a query that repeats
# the expression exactly: ``GenerationQuerySet.search`` is therefore the one way to search content.
CONTENT_SEARCH_CONFIG = "english"
SEARCH_TEXT_MAX_LENGTH = 200

# A run's requested models: what the API takes and the admin may save.
MAX_REQUESTED_MODELS = 50
MODEL_NAME_MAX_LENGTH = 200


def validate_models_requested(value) -> None:
    """``GenerationRun.models_requested`` is a list of at most ``MAX_REQUESTED_MODELS`` model
    names, each text of 1 to ``MODEL_NAME_MAX_LENGTH`` characters. The API's serializer says the
    same with its fields; this holds it for the admin's free JSON (a list of objects there made
    every read of the run's status fail)."""
    if (
        not isinstance(value, list)
        or len(value) > MAX_REQUESTED_MODELS
        or not all(isinstance(name, str) and 0 < len(name.strip()) <= MODEL_NAME_MAX_LENGTH for name in value)
    ):
        raise ValidationError(
            f"A list of at most {MAX_REQUESTED_MODELS} model names, each text of 1 to "
            f"{MODEL_NAME_MAX_LENGTH} characters.",
            # Not "invalid": a model form would show its own "Enter a valid JSON." for that code.
            code="invalid_models",
        )


# The organization ids' SQL type (``bigint[]``), for the old index's column and the query's ids.
BIGINT_ARRAY = ArrayField(models.BigIntegerField())


class ContentSearchVector(Func):
    """``to_tsvector('english', content)``: the expression of the content index of migrations
    0009 to 0020, kept for them (and for their reversal by 0021). The search reads
    :class:`TenantSearchVector`."""

    function = "to_tsvector"
    output_field = SearchVectorField()

    def __init__(self):
        super().__init__(SearchConfig(CONTENT_SEARCH_CONFIG), F("content"))


class OrganizationArray(Func):
    """``ARRAY[organization_id]``: the first column of the search index of migrations 0014 to
    0020, kept for them (and for their reversal by 0021)."""

    template = "ARRAY[%(expressions)s]"
    output_field = BIGINT_ARRAY

    def __init__(self):
        super().__init__(F("organization"))


class TenantSearchVector(Func):
    """``generation_search_vector(organization_id, content)``: the content's words as its
    organization's own (lexeme ``'502 hotel'`` for ``hotel`` in organization 502), the expression
    of ``generation_tenant_search_idx``.

    Keyed by organization, a word's list of rows in the index is one tenant's, stored together:
    a search reads a few index pages whatever the other tenants write. (A multi-column GIN index
    of the organization and the plain words reads the word's list of every tenant's rows: the
    median tenant's rows of a common word lay on ~1,800 of its pages each at ten million rows.)
    """

    function = "generation_search_vector"
    output_field = SearchVectorField()

    # The column itself, not Django's ``SearchVector`` (which wraps it in ``COALESCE``, a
    # function PostgreSQL deems leaky: under the wall no index condition); ``content`` is never
    # NULL and the SQL function is STRICT.

    def __init__(self):
        super().__init__(F("organization"), F("content"))


class TenantSearchQuery(Func):
    """``generation_search_query(organization_ids, websearch_to_tsquery('english', text))``: the
    query with each word made each organization's, matched against :class:`TenantSearchVector`."""

    function = "generation_search_query"
    output_field = SearchQueryField()

    def __init__(self, organization_ids, text: str):
        super().__init__(
            organization_ids,
            SearchQuery(text, search_type="websearch", config=CONTENT_SEARCH_CONFIG),
        )


class Matches(Func):
    """``vector @@ query`` as a condition (Django's ``SearchVectorExact`` takes only its own
    ``SearchQuery`` on the right)."""

    arg_joiner = " @@ "
    template = "(%(expressions)s)"
    output_field = models.BooleanField()


def content_matches(text: str, *, organization_ids: Collection[int] | None) -> Q:
    """The condition that a generation's content matches ``text`` (``websearch_to_tsquery``
    syntax) in one of ``organization_ids`` (None: every organization, for superusers), for
    ``filter()`` or a ``Q``; matched in WHERE through ``generation_tenant_search_idx``, never
    computed for the SELECT list.

    The organizations are named in the query itself, although the caller's queryset is already
    scoped: the index holds each organization's words apart, so the query must say whose words
    it looks for. Every organization is one more branch of the query: a superuser's search of
    all of them reads every tenant's lists of the words (as a search of the plain words would).

    ``text`` is at most ``SEARCH_TEXT_MAX_LENGTH`` characters (the API refuses longer, the admin
    skips it): a query's word needs room in its lexeme for the organization.
    """
    if len(text) > SEARCH_TEXT_MAX_LENGTH:
        raise ValueError(f"A search is at most {SEARCH_TEXT_MAX_LENGTH} characters.")
    if organization_ids is None:
        # The ids as a constant, not ``ARRAY(SELECT id …)``: under the wall PostgreSQL 15 does
        # not take a subquery's result as a condition of the index (18 does), and read every row.
        organization_ids = Organization.objects.order_by().values_list("pk", flat=True)
    ids = sorted({int(pk) for pk in organization_ids})
    if not ids:
        return Q(pk__in=[])
    query = TenantSearchQuery(Cast(Value(ids, output_field=BIGINT_ARRAY), BIGINT_ARRAY), text)
    return Q(Matches(TenantSearchVector(), query))


class Campaign(SoftDeleteModel, TenantModel):
    """A marketing campaign that groups generations, optionally under a content pillar/series."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # SET_NULL: pillars and series are soft-deleted; a purge of one leaves its campaigns.
    pillar = models.ForeignKey(
        "styleguides.ContentPillar", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    series = models.ForeignKey(
        "styleguides.ContentSeries", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            unique_while_alive("organization", "name", name="campaign_unique_name_per_org"),
            models.CheckConstraint(
                condition=Q(starts_on__isnull=True)
                | Q(ends_on__isnull=True)
                | Q(ends_on__gte=F("starts_on")),
                name="campaign_ends_after_start",
                violation_error_message="A campaign cannot end before it starts.",
            ),
        ]
        indexes = [models.Index(fields=["organization", "-created_at"], name="campaign_org_created_idx")]

    def __str__(self):
        return self.name


class GenerationRun(SoftDeleteModel, TenantModel):
    """One request (a business idea to name, a brief to draft) fanned out to several models.

    Only the request is stored; which models completed, the totals and the status are derived
    from the run's generations when read (``selectors.run_detail``, ``run_figures_attach``), so
    they can never disagree.
    """

    prompt = models.TextField(blank=True, help_text="The request every model of the run answers.")
    content_type = models.CharField(max_length=20, choices=ContentType.choices, default=ContentType.OTHER)
    mode = models.CharField(
        max_length=20, choices=GenerationMode.choices, default=GenerationMode.PROFESSIONAL
    )
    deep_thinking = models.BooleanField(default=False)
    models_requested = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_models_requested],
        help_text="Model names, as requested.",
    )
    # Null, not "", when there is no user: as on Generation.
    user_ref = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    error_details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # The list's cursor order exactly (id breaks ties), so the page is the index's first
        # rows whatever the planner estimates; on (organization, created_at) alone it chose at 10M
        # rows to read and sort every run of the tenant.
        indexes = [
            models.Index(fields=["organization", "-created_at", "-id"], name="run_org_created_id_idx"),
            # ``?user_ref=`` of one among hundreds of users: walking the tenant's runs in order
            # read all of them (8,443 in 2.8 ms at 1M generations) for a rare or unknown user.
            per_user_index("-created_at", "-id", name="run_org_user_created_idx"),
        ]

    def __str__(self):
        return f"Run {self.pk} ({self.mode})"


class GenerationQuerySet(SoftDeleteQuerySet):
    """Generation queries with the domain's verbs."""

    def in_tree(self, root_id: int):
        """Every node of the tree whose root is ``root_id`` (the root included): one index scan."""
        return self.filter(Q(pk=root_id) | Q(root_id=root_id))

    def failed(self):
        return self.filter(status=GenerationStatus.FAILED)

    def search(self, text: str, *, organization_ids: Collection[int] | None):
        """Generations of ``organization_ids`` (None: all) whose content matches ``text``, read
        through the content GIN index.

        ``text`` is web-search syntax (``websearch_to_tsquery``: words, "quoted phrases", ``or``,
        ``-word``), which never raises a syntax error, whatever a user types.
        """
        return self.filter(content_matches(text, organization_ids=organization_ids))


class Generation(MeteredUsage, SoftDeleteModel, IngestedRequestModel, TraceContextModel):
    """One generated piece of content, everything about how it was made, and its place in a tree.

    Guarantees (enforced by the database, mirrored by ``services`` for readable errors):

    - ``(organization, request_id)`` is unique over every row, soft-deleted ones included: a
      request is recorded once, ever (``tenancy.idempotency``); a deleted one is restored.
    - tokens, costs and durations are never negative; ``cost_status`` is ``priced`` exactly when
      ``cost_usd`` is set, so an unknown model is visible as ``unpriced``, never as a silent $0.
    - tree shape: a root has no parent, no root, depth 0, version 1, kind ``original``; any
      other node has both, depth ≥ 1, version ≥ 2, kind ``revision`` or ``variant`` (a variant
      names its vertical); ``(root, version)`` is unique.

    What the client sent (``model_name``, ``provider_name``, ``client_usage``,
    ``client_cost_usd``) is kept apart from what Inkwell resolved and computed (``model``,
    ``provider``, the usage and cost columns of :class:`~providers.models.MeteredUsage`, priced
    at ``occurred_at`` by ``providers.metering``). A finished generation that reported no usage
    is ``no_usage``, never $0.
    """

    # SET_NULL: campaigns and runs are soft-deleted; should one ever be purged for good, its
    # generations (and their costs) stay.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.SET_NULL, null=True, blank=True, related_name="generations", db_index=False
    )
    run = models.ForeignKey(
        GenerationRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="generations"
    )
    content_type = models.CharField(max_length=20, choices=ContentType.choices, default=ContentType.OTHER)
    agent_name = models.CharField(max_length=100, blank=True)
    # Verticals are platform data, style guide and template versions immutable history. Nothing
    # reads generations by version; ``?vertical=`` reads generation_org_vertical_idx.
    vertical = history_reference("styleguides.Vertical")
    style_guide_version = history_reference("styleguides.StyleGuideVersion")
    template_version = history_reference("styleguides.PromptTemplateVersion")
    target_channel = models.CharField(max_length=20, choices=TargetChannel.choices, blank=True)
    prompt = models.TextField(blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    raw_request = models.JSONField(null=True, blank=True)
    raw_response = models.JSONField(null=True, blank=True)
    content = models.TextField(blank=True)
    content_format = models.CharField(
        max_length=10, choices=ContentFormat.choices, default=ContentFormat.MARKDOWN
    )

    generation_time_ms = models.IntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=12, choices=GenerationStatus.choices, default=GenerationStatus.PENDING
    )
    error_message = models.TextField(blank=True)
    error_details = models.JSONField(default=dict, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    # The tree (see the module docstring). RESTRICT: a node cannot be hard-deleted from under its
    # children, but deleting a whole tree (root CASCADE) may remove them together.
    parent = models.ForeignKey(
        "self", on_delete=models.RESTRICT, null=True, blank=True, related_name="children"
    )
    # CASCADE: a tree is hard-deleted (retention, GDPR purge) as a whole, from its root.
    root = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    depth = models.IntegerField(default=0)
    version = models.IntegerField(default=1)
    tree_last_version = models.IntegerField(
        default=1, editable=False, help_text="On a root: the last version handed out in its tree."
    )
    kind = models.CharField(max_length=10, choices=GenerationKind.choices, default=GenerationKind.ORIGINAL)
    branch_name = models.CharField(max_length=100, blank=True)

    # The trace context's three ids come from TraceContextModel.
    conversation_id = models.CharField(
        max_length=200, blank=True, help_text="The client's conversation or session id."
    )

    objects = AliveManager.from_queryset(GenerationQuerySet)()
    all_objects = GenerationQuerySet.as_manager()
    deleted_objects = DeletedManager.from_queryset(GenerationQuerySet)()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            unique_request_id("generation_unique_request_id_per_org"),
            # Organization first, as every tenant constraint (tests/test_conventions.py); the tree
            # query (``organization = … AND (id = root OR root_id = root)``) uses it, or root's own index.
            models.UniqueConstraint(
                fields=["organization", "root", "version"], name="generation_unique_version_per_org_tree"
            ),
            *usage_and_cost_constraints(prefix="generation", subject="generation"),
            models.CheckConstraint(
                condition=null_or_at_least(0, "generation_time_ms"),
                name="generation_time_not_negative",
                violation_error_message="Generation time cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=GenerationStatus.values),
                name="generation_status_valid",
                violation_error_message="Unknown status.",
            ),
            models.CheckConstraint(
                condition=Q(
                    parent__isnull=True,
                    root__isnull=True,
                    depth=0,
                    version=1,
                    kind=GenerationKind.ORIGINAL,
                )
                | Q(
                    parent__isnull=False,
                    root__isnull=False,
                    depth__gte=1,
                    version__gte=2,
                    kind__in=[GenerationKind.REVISION, GenerationKind.VARIANT],
                ),
                name="generation_tree_shape",
                violation_error_message="A root has no parent (version 1); any other node has one.",
            ),
            models.CheckConstraint(
                condition=~Q(kind=GenerationKind.VARIANT) | Q(vertical__isnull=False),
                name="generation_variant_has_vertical",
                violation_error_message="A variant names the vertical it adapts its parent for.",
            ),
            models.CheckConstraint(
                condition=~Q(parent=F("pk")),
                name="generation_not_own_parent",
                violation_error_message="A generation cannot be its own parent.",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="generation_org_created_idx"),
            models.Index(fields=["organization", "status", "-created_at"], name="generation_org_status_idx"),
            models.Index(
                fields=["organization", "content_type", "-created_at"], name="generation_org_type_idx"
            ),
            models.Index(
                fields=["organization", "campaign", "-created_at"], name="generation_org_campaign_idx"
            ),
            models.Index(
                fields=["organization", "vertical", "-created_at"], name="generation_org_vertical_idx"
            ),
            # ``?model=`` filters on model_id alone (api/filters.py), so one index serves a rare
            # model; ``?provider=`` (a handful of providers, each common) walks org_created.
            models.Index(fields=["organization", "model", "-created_at"], name="generation_org_model_idx"),
            # ``?kind=revision`` / ``?kind=variant``: the tree's later nodes only (a root is
            # ``original``, the most of any tenant's rows, whose filter walks org_created). At 10M
            # the biggest tenant's page of variants walked org_created past ~3,600 roots (5,323
            # buffers, 15-17 ms warm, a 117 ms p99 cold); through this index 32 buffers, 1.2 ms.
            # Only the non-original nodes pay its write (28 MB against org_created's 301 MB).
            models.Index(
                fields=["organization", "kind", "-created_at"],
                condition=~Q(kind=GenerationKind.ORIGINAL),
                name="generation_org_kind_idx",
            ),
            # Failures are rare and read often (failure reports): a small index of them only.
            models.Index(
                fields=["organization", "-created_at"],
                condition=Q(status=GenerationStatus.FAILED),
                name="generation_failed_idx",
            ),
            # Most generations carry no user; per-user queries read this small index.
            per_user_index("-created_at", name="generation_user_idx"),
            # Only traced calls carry these; ``?trace_id=`` and ``?conversation_id=`` read them.
            models.Index(
                fields=["organization", "trace_id", "created_at"],
                condition=~Q(trace_id=""),
                name="generation_trace_idx",
            ),
            models.Index(
                fields=["organization", "conversation_id", "created_at"],
                condition=~Q(conversation_id=""),
                name="generation_conversation_idx",
            ),
            # Search by content (``?search=``, the admin search): see CONTENT_SEARCH_CONFIG.
            GinIndex(TenantSearchVector(), name="generation_tenant_search_idx"),
        ]

    def __str__(self):
        return f"{self.request_id} ({self.status})"

    @property
    def tree_root_id(self) -> int:
        """The id of this node's tree (its own id on a root)."""
        return self.root_id or self.pk

    @property
    def is_terminal(self) -> bool:
        return self.status in GenerationStatus.terminal()


class CacheEntry(TenantModel):
    """A stored model response, reused instead of paying for the same call again.

    ``key`` is unique per organization (a PUT replaces the entry); ``hit_count`` is incremented
    in the database (``F()``), so concurrent hits are all counted; an entry past ``expires_at``
    answers as missing and is removed by ``manage.py purge_expired_cache``.
    """

    key = models.CharField(max_length=255)
    response = models.JSONField()
    model_name = models.CharField(max_length=200, blank=True)
    # SET_NULL: an entry outlives nothing; losing the link to a removed model is harmless.
    model = models.ForeignKey(
        "providers.AIModel", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    cost_saved_usd = models.DecimalField(
        **MONEY, default=0, help_text="What one hit saves: the cost of the call it replaces."
    )
    hit_count = models.BigIntegerField(default=0)
    expires_at = models.DateTimeField()
    last_accessed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "cache entries"
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="cache_entry_unique_key_per_org"),
            models.CheckConstraint(
                condition=Q(hit_count__gte=0) & Q(cost_saved_usd__gte=0),
                name="cache_entry_counts_not_negative",
            ),
        ]
        indexes = [
            # The list's cursor order exactly (id breaks ties): the page is the index's first rows.
            models.Index(
                fields=["organization", "-created_at", "-id"], name="cache_entry_org_created_id_idx"
            ),
            # cache/stats/ counts live and expired entries from this index alone (index-only).
            models.Index(fields=["organization", "expires_at"], name="cache_entry_org_expires_idx"),
            # The purge walks expired rows across organizations.
            models.Index(fields=["expires_at"], name="cache_entry_expires_idx"),
        ]

    def __str__(self):
        return self.key


class CacheDailyStats(models.Model):
    """Hits, misses and cost saved per organization and day: what ``cache/stats/`` reports.

    Counted at each GET (one plain INSERT of a delta row), so stats survive the purge of expired
    entries and a miss on a key that never existed is counted too. Append-only like the analytics
    rollups: a day may have many rows, its figures are their sums (no hot row per organization
    and day for concurrent GETs to queue on); ``analytics.rollups.rollups_fold`` compacts them.
    """

    # CASCADE: counters mean nothing without their organization (which is deactivated, not deleted).
    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField()
    hits = models.BigIntegerField(default=0)
    misses = models.BigIntegerField(default=0)
    cost_saved_usd = models.DecimalField(**MONEY, default=0)

    class Meta:
        ordering = ["-day"]
        verbose_name_plural = "cache daily stats"
        constraints = [
            models.CheckConstraint(
                condition=Q(hits__gte=0) & Q(misses__gte=0) & Q(cost_saved_usd__gte=0),
                name="cache_stats_not_negative",
            ),
        ]
        indexes = [models.Index(fields=["organization", "day"], name="cache_stats_org_day_idx")]

    def __str__(self):
        return f"{self.organization_id} {self.day}: {self.hits} hits, {self.misses} misses"


# The publishing queue's models live in their own module (generations.publishing.models).
from generations.publishing.models import ScheduledPost, SocialAccount  # noqa: E402, F401
