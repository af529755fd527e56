"""Input and output serializers of the generations API: no queries of their own, no business rules.

Inputs are plain ``Serializer`` classes naming every accepted field; they map API names onto
model fields (``model`` → ``model_name``, ``provider`` → ``provider_name``) and leave idempotency,
trees, usage normalisation and pricing to ``generations.services``.
"""

from __future__ import annotations

from rest_framework import serializers

from generations.choices import (
    ContentFormat,
    ContentType,
    GenerationKind,
    GenerationStatus,
    RunStatus,
    TargetChannel,
)
from generations.models import (
    MAX_REQUESTED_MODELS,
    MODEL_NAME_MAX_LENGTH,
    CacheEntry,
    Campaign,
    Generation,
    GenerationRun,
)
from generations.selectors import LIST_DEFERRED, run_status
from generations.services import MAX_BULK_ITEMS
from providers.api import metered
from providers.choices import GenerationMode
from styleguides import selectors as styleguide_selectors
from styleguides.models import (
    ContentPillar,
    ContentSeries,
    Vertical,
)
from tenancy.api.fields import (
    RequestIdField,
    TenantPrimaryKeyRelatedField,
    TraceContextFields,
)
from tenancy.api.parsers import unstorable_text
from tenancy.api.representation import FastRepresentationMixin
from tenancy.api.strict import from_json_body

MAX_CONTENT_CHARS = 1024 * 1024  # content and prompt: 1 MiB of text each, bulk or not
MAX_ERROR_MESSAGE_CHARS = 10_000
MAX_INT32 = 2**31 - 1
MONEY = {"max_digits": 20, "decimal_places": 10}


class NoUnstorableText:
    """PostgreSQL's jsonb cannot store U+0000 (nor UTF-8 a lone surrogate); refuse them anywhere
    in a JSON value (keys too).

    A value of a JSON request body is not walked again: ``StrictJSONParser`` walked the whole
    body already and refused any such string by its path (a ``POST generations/`` walked it once
    there and three times more here: about 1 % of its Python, ``bench/profile_post.py``). What a
    serializer is given otherwise (an integration's translation of a span, a callback's payload)
    is walked here."""

    requires_context = True

    def __call__(self, value, field: serializers.Field) -> None:
        if from_json_body(field):
            return
        if unstorable_text(value, max_depth=None):
            raise serializers.ValidationError(
                "JSON strings cannot contain the NUL character (U+0000) or a lone UTF-16 surrogate."
            )


no_nul_characters = NoUnstorableText()


def _json_object(**kwargs):
    return serializers.DictField(required=False, validators=[no_nul_characters], **kwargs)


def _json_value(**kwargs):
    return serializers.JSONField(validators=[no_nul_characters], **kwargs)


class GenerationResultFields(metered.UsageInputSerializer):
    """What a generation produced and what it consumed: shared by create, bulk, branch, update."""

    usage_inputs_before = "generation_time_ms"

    status = serializers.ChoiceField(choices=GenerationStatus.choices, default=GenerationStatus.PENDING)
    content = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, max_length=MAX_CONTENT_CHARS
    )
    content_format = serializers.ChoiceField(choices=ContentFormat.choices, required=False)
    usage = serializers.DictField(
        required=False,
        validators=[no_nul_characters],
        help_text=f"{metered.USAGE_HELP} Without it (and without token fields) the usage is read from "
        "`raw_response`.",
    )
    generation_time_ms = serializers.IntegerField(
        min_value=0, max_value=MAX_INT32, required=False, allow_null=True
    )
    error_message = serializers.CharField(
        required=False, allow_blank=True, max_length=MAX_ERROR_MESSAGE_CHARS
    )
    error_details = _json_object()
    metadata = _json_object()
    raw_response = _json_value(required=False, allow_null=True)
    completed_at = serializers.DateTimeField(required=False, allow_null=True)
    branch_name = serializers.CharField(required=False, allow_blank=True, max_length=100)


class GenerationCreateSerializer(GenerationResultFields, TraceContextFields):
    """``POST generations/``: one generation, idempotent by ``request_id``."""

    request_id = RequestIdField()
    user_ref = serializers.CharField(max_length=200, required=False, allow_null=True, allow_blank=False)
    campaign = TenantPrimaryKeyRelatedField(queryset=Campaign.objects.all(), required=False, allow_null=True)
    run = TenantPrimaryKeyRelatedField(queryset=GenerationRun.objects.all(), required=False, allow_null=True)
    content_type = serializers.ChoiceField(choices=ContentType.choices, default=ContentType.OTHER)
    agent_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    vertical = serializers.SlugRelatedField(
        slug_field="slug", queryset=Vertical.objects.all(), required=False, allow_null=True
    )
    style_guide_version = TenantPrimaryKeyRelatedField(
        queryset=styleguide_selectors.citable_style_guide_versions(),
        allow_global=True,
        required=False,
        allow_null=True,
    )
    template_version = TenantPrimaryKeyRelatedField(
        queryset=styleguide_selectors.citable_template_versions(),
        allow_global=True,
        required=False,
        allow_null=True,
    )
    provider = metered.provider_field()
    model = metered.model_field()
    target_channel = serializers.ChoiceField(choices=TargetChannel.choices, required=False, allow_blank=True)
    prompt = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, max_length=MAX_CONTENT_CHARS
    )
    parameters = _json_object()
    raw_request = _json_value(required=False, allow_null=True)
    occurred_at = serializers.DateTimeField(
        required=False, help_text="When the call happened (default now; not in the future): prices it."
    )
    parent = TenantPrimaryKeyRelatedField(
        queryset=Generation.objects.all(), required=False, allow_null=True, help_text="Parent generation id."
    )
    kind = serializers.ChoiceField(
        choices=GenerationKind.choices,
        required=False,
        help_text="With a parent: revision (default) or variant for another vertical.",
    )
    conversation_id = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="Conversation or session id."
    )


class GenerationBulkItemSerializer(GenerationCreateSerializer):
    """One item of ``POST generations/bulk/``: foreign keys are ids resolved by the service in one
    query per kind (a ``TenantPrimaryKeyRelatedField`` would query once per item), and a parent
    may be named by ``parent_request_id``, another item of the batch."""

    campaign = serializers.IntegerField(source="campaign_id", required=False, allow_null=True)
    run = serializers.IntegerField(source="run_id", required=False, allow_null=True)
    parent = serializers.IntegerField(source="parent_id", required=False, allow_null=True)
    vertical = serializers.SlugField(source="vertical_slug", required=False, allow_null=True)
    style_guide_version = serializers.IntegerField(
        source="style_guide_version_id", required=False, allow_null=True
    )
    template_version = serializers.IntegerField(source="template_version_id", required=False, allow_null=True)
    parent_request_id = RequestIdField(required=False, allow_blank=True)


class GenerationBulkSerializer(serializers.Serializer):
    """``POST generations/bulk/``: ``{"items": [...]}``, 1 to 1,000 items, all written or none."""

    items = GenerationBulkItemSerializer(many=True, allow_empty=False, max_length=MAX_BULK_ITEMS)


class GenerationBranchSerializer(GenerationCreateSerializer):
    """``POST generations/{id}/branch/``: a child of the generation in the URL. Unset fields are
    inherited from the parent; ``request_id`` is optional (a new one is made)."""

    request_id = RequestIdField(required=False)
    content_type = serializers.ChoiceField(choices=ContentType.choices, required=False)
    parent = None


IMMUTABLE_FIELDS = frozenset(
    {
        "request_id",
        "parent",
        "parent_request_id",
        "kind",
        "model",
        "provider",
        "campaign",
        "run",
        "vertical",
        "style_guide_version",
        "template_version",
    }
)


class GenerationUpdateSerializer(GenerationResultFields):
    """``PATCH generations/{id}/``: status (forward only), and the result while not finished."""

    status = serializers.ChoiceField(choices=GenerationStatus.choices, required=False)

    def validate(self, attrs):
        refused = IMMUTABLE_FIELDS & set(self.initial_data)
        if refused:
            name = sorted(refused)[0]
            raise serializers.ValidationError(
                {name: "Cannot be changed after creation (a generation never moves in its tree)."}
            )
        return super().validate(attrs)


class GenerationSerializer(FastRepresentationMixin, metered.MeteredUsageSerializer):
    """A generation as the API shows it: what was sent next to what Inkwell computed (about 45
    fields, so the output goes through ``FastRepresentationMixin``: same JSON, less per field)."""

    # Null: no vertical sent.
    vertical = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = Generation
        fields = [
            "id",
            "request_id",
            "user_ref",
            "campaign",
            "run",
            "content_type",
            "agent_name",
            "vertical",
            "style_guide_version",
            "template_version",
            *metered.NAME_FIELDS,
            "target_channel",
            "prompt",
            "parameters",
            "metadata",
            "raw_request",
            "raw_response",
            "content",
            "content_format",
            *metered.USAGE_FIELDS,
            "generation_time_ms",
            "status",
            "error_message",
            "error_details",
            "occurred_at",
            "completed_at",
            "parent",
            "root",
            "depth",
            "version",
            "kind",
            "branch_name",
            "trace_id",
            "span_id",
            "parent_span_id",
            "conversation_id",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class GenerationListSerializer(GenerationSerializer):
    """A list row: the large request/response JSON and the prompt are left to the detail view.

    The vertical, model and provider are read from the names the list selectors annotate
    (``selectors.LIST_RELATION_NAMES``), not from related instances: the same values."""

    vertical = serializers.CharField(source="vertical_slug", read_only=True, allow_null=True)
    resolved_model = serializers.CharField(
        source="model_canonical_name",
        read_only=True,
        allow_null=True,
        help_text="The canonical model the name meant.",
    )
    resolved_provider = serializers.CharField(source="provider_slug", read_only=True, allow_null=True)

    class Meta(GenerationSerializer.Meta):
        # Exactly the columns the list selectors defer: one the list showed would be read
        # with a query per row.
        fields = [name for name in GenerationSerializer.Meta.fields if name not in LIST_DEFERRED]
        read_only_fields = fields


class LineageNodeSerializer(GenerationListSerializer):
    """A step of ``generations/{id}/lineage/``: a live generation as the list shows it; a
    soft-deleted ancestor keeps its place in the path as the tree shows it (where it stands,
    ``is_deleted``), its content and every other value null: a deleted row's content is hidden
    from the API, as its detail view's 404 hides it."""

    is_deleted = serializers.SerializerMethodField()
    SKELETON = frozenset(
        {
            "id",
            "request_id",
            "parent",
            "depth",
            "version",
            "kind",
            "branch_name",
            "status",
            "created_at",
            "is_deleted",
        }
    )

    class Meta(GenerationListSerializer.Meta):
        fields = [*GenerationListSerializer.Meta.fields, "is_deleted"]
        read_only_fields = fields

    def get_fields(self):
        fields = super().get_fields()
        for name, field in fields.items():
            if name not in self.SKELETON:
                field.allow_null = True  # null in a deleted ancestor's step (the schema says so)
        return fields

    def get_is_deleted(self, generation) -> bool:
        return generation.deleted_at is not None

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if instance.deleted_at is not None:
            for name in data:
                if name not in self.SKELETON:
                    data[name] = None
        return data


class BulkResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    id = serializers.IntegerField()
    request_id = serializers.CharField()
    created = serializers.BooleanField()


class BulkResponseSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    replayed = serializers.IntegerField()
    results = BulkResultSerializer(many=True)


class TreeNodeSerializer(serializers.Serializer):
    """A node of ``generations/{id}/tree/``; ``children`` nest the same shape."""

    id = serializers.IntegerField()
    request_id = serializers.CharField()
    parent = serializers.IntegerField(allow_null=True)
    depth = serializers.IntegerField()
    version = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=GenerationKind.choices)
    branch_name = serializers.CharField()
    status = serializers.ChoiceField(choices=GenerationStatus.choices)
    model = serializers.CharField()
    content_type = serializers.ChoiceField(choices=ContentType.choices)
    vertical = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    is_deleted = serializers.BooleanField()
    children = serializers.ListField(child=serializers.DictField())


# --- runs, campaigns, cache ---------------------------------------------------------------------


class GenerationRunSerializer(serializers.ModelSerializer):
    """A run with what it derives from its generations (``selectors.run_detail`` annotations, or
    ``selectors.run_figures_attach`` on a list page)."""

    status = serializers.SerializerMethodField()
    models_completed = serializers.ListField(child=serializers.CharField(), read_only=True)
    models_reported = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="Models with a finished generation (succeeded, partial, failed or cancelled), "
        "named as in `models_requested` when the generation was sent under another case or an "
        "alias of a requested model; the run is `running` until every requested model is here.",
    )
    generation_count = serializers.IntegerField(read_only=True)
    total_tokens = serializers.IntegerField(read_only=True)
    total_cost_usd = serializers.DecimalField(**MONEY, read_only=True)
    unpriced_count = serializers.IntegerField(read_only=True)
    mode = serializers.ChoiceField(choices=GenerationMode.choices, required=False)
    models_requested = serializers.ListField(
        child=serializers.CharField(max_length=MODEL_NAME_MAX_LENGTH),
        required=False,
        max_length=MAX_REQUESTED_MODELS,
    )
    user_ref = serializers.CharField(max_length=200, required=False, allow_null=True, allow_blank=False)
    error_details = _json_object()

    class Meta:
        model = GenerationRun
        fields = [
            "id",
            "prompt",
            "content_type",
            "mode",
            "deep_thinking",
            "models_requested",
            "models_completed",
            "models_reported",
            "status",
            "generation_count",
            "total_tokens",
            "total_cost_usd",
            "unpriced_count",
            "user_ref",
            "error_details",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def get_status(self, run) -> str:
        if not hasattr(run, "generation_count"):
            return RunStatus.PENDING
        return run_status(run)


class CampaignSerializer(serializers.ModelSerializer):
    pillar = TenantPrimaryKeyRelatedField(
        queryset=ContentPillar.objects.all(), required=False, allow_null=True
    )
    series = TenantPrimaryKeyRelatedField(
        queryset=ContentSeries.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "description",
            "pillar",
            "series",
            "starts_on",
            "ends_on",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


class CacheEntryWriteSerializer(serializers.Serializer):
    """``PUT cache/{key}/``: the response to keep and for how long."""

    response = _json_value()
    ttl_seconds = serializers.IntegerField(min_value=1, max_value=90 * 24 * 3600, default=24 * 3600)
    model = serializers.CharField(source="model_name", max_length=200, required=False, allow_blank=True)
    cost_saved_usd = serializers.DecimalField(
        **MONEY, min_value=0, required=False, help_text="What one hit saves (the cost of the call)."
    )


class CacheEntrySerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model_name", read_only=True)

    class Meta:
        model = CacheEntry
        fields = [
            "key",
            "response",
            "model",
            "cost_saved_usd",
            "hit_count",
            "expires_at",
            "last_accessed_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class CacheStatsSerializer(serializers.Serializer):
    """``cache/stats/``: lookups of the response cache (``GET cache/{key}/``). Not the
    ``reported_cache_hits`` of ``reports/cache/``: generations whose performance metric reported
    ``cache_hit`` (the client's own account of serving a generation from any cache)."""

    since = serializers.DateField()
    until = serializers.DateField()
    hits = serializers.IntegerField(help_text="`GET cache/{key}/` lookups answered from a live entry.")
    misses = serializers.IntegerField(help_text="`GET cache/{key}/` lookups of a missing or expired key.")
    hit_rate = serializers.FloatField(
        allow_null=True, help_text="hits / (hits + misses) of the response cache; null without lookups."
    )
    cost_saved_usd = serializers.DecimalField(**MONEY, help_text="Sum of the hit entries' `cost_saved_usd`.")
    live_entries = serializers.IntegerField()
    expired_entries = serializers.IntegerField()


class CacheStatsPeriodSerializer(serializers.Serializer):
    """``?from=&to=`` of ``cache/stats/`` (``from`` is a keyword, hence ``get_fields``)."""

    def get_fields(self):
        return {
            "from": serializers.DateField(required=False, help_text="First day (default: 29 days ago)."),
            "to": serializers.DateField(required=False, help_text="Last day (default: today)."),
        }
