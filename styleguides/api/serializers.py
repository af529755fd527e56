"""Input and output serializers of the styleguides API: no queries of their own, no business rules
(services validate and write; selectors load what these read)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from styleguides.choices import StyleGuideStatus
from styleguides.compliance import EffectiveRule, SkippedRule, Violation
from styleguides.models import (
    GUIDE_TERM_FIELDS,
    BrandRule,
    ContentPillar,
    ContentSeries,
    ContextSnippet,
    PromptTemplate,
    PromptTemplateVersion,
    StyleGuide,
    StyleGuideVersion,
    Vertical,
)
from styleguides.services import RULE_STAYS_ON_ITS_GUIDE, RenderedPrompt
from styleguides.versioning import guide_has_unpublished_changes
from tenancy.api.dataclass_serializers import dataclass_serializer
from tenancy.api.fields import TenantPrimaryKeyRelatedField
from tenancy.api.strict import CreateOnlyFieldsMixin

# What a guide says, shown alike for its draft and each published version: body, voice, words.
GUIDE_WRITING_FIELDS = ("body", "tone", "audience", "reading_level", *GUIDE_TERM_FIELDS)
# Slugs are derived from names when left out (``tenancy.slugs``).
SLUG_FROM_NAME = {"slug": {"required": False, "help_text": "Derived from the name when left out."}}


class OwnedSerializer(serializers.ModelSerializer):
    """A row an organization owns or a global one (``organization`` null): says which."""

    is_global = serializers.SerializerMethodField()

    # Subclasses' Meta extend this one: the timestamps are the server's.
    class Meta:
        read_only_fields = ["created_at", "updated_at"]

    def get_is_global(self, obj) -> bool:
        return obj.organization_id is None


class VersionedSerializer(OwnedSerializer):
    """An owned row with numbered versions: its latest number (annotated by the selectors)."""

    latest_version = serializers.SerializerMethodField()

    # Versioned rows (guides, templates, snippets) have slugs, derived from the name when left out.
    class Meta(OwnedSerializer.Meta):
        extra_kwargs = SLUG_FROM_NAME

    def get_latest_version(self, obj) -> int | None:
        return getattr(obj, "latest_version", None)


class VerticalSerializer(serializers.ModelSerializer):
    class Meta:
        model = Vertical
        fields = ["id", "slug", "name", "description", "default_tone", "audience"]


class VerticalSlugField(serializers.SlugRelatedField):
    """A vertical named by its slug (``"healthcare"``)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", Vertical.objects.all())
        super().__init__(slug_field="slug", **kwargs)


class BrandRuleSerializer(CreateOnlyFieldsMixin, OwnedSerializer):
    """A rule of a guide. ``parameters`` depend on ``rule_type`` (see ``styleguides.compliance``);
    they are validated when the rule is saved, so an invalid regex is a 400 and nothing is written.
    ``guide`` is fixed once the rule is created."""

    guide = TenantPrimaryKeyRelatedField(queryset=StyleGuide.objects.all(), allow_global=True)

    # On update `guide` is read-only; strict input refuses it with this pointer.
    unknown_field_hints = {"guide": RULE_STAYS_ON_ITS_GUIDE}

    class Meta(OwnedSerializer.Meta):
        model = BrandRule
        fields = [
            "id",
            "guide",
            "is_global",
            "name",
            "rule_type",
            "parameters",
            "severity",
            "message",
            "is_active",
            "created_at",
            "updated_at",
        ]
        # A rule never moves: its guide's published versions and its overrides of inherited
        # rules are by guide.
        create_only_fields = ["guide"]


class NestedBrandRuleSerializer(BrandRuleSerializer):
    class Meta(BrandRuleSerializer.Meta):
        fields = ["id", "name", "rule_type", "parameters", "severity", "message", "is_active"]


class StyleGuideSerializer(VersionedSerializer):
    """A guide's working draft, its rules, and where it stands against its latest version."""

    vertical = VerticalSlugField(required=False, allow_null=True)
    parent = TenantPrimaryKeyRelatedField(
        queryset=StyleGuide.objects.all(), allow_global=True, required=False, allow_null=True
    )
    status = serializers.ChoiceField(
        choices=[StyleGuideStatus.DRAFT, StyleGuideStatus.ARCHIVED, StyleGuideStatus.PUBLISHED],
        required=False,
        help_text="Set by publishing; set 'archived' to retire a guide.",
    )
    has_unpublished_changes = serializers.SerializerMethodField()
    rules = NestedBrandRuleSerializer(many=True, read_only=True)

    class Meta(VersionedSerializer.Meta):
        model = StyleGuide
        fields = [
            "id",
            "is_global",
            "kind",
            "vertical",
            "parent",
            "name",
            "slug",
            "summary",
            *GUIDE_WRITING_FIELDS,
            "status",
            "latest_version",
            "has_unpublished_changes",
            "rules",
            "created_at",
            "updated_at",
        ]

    def get_has_unpublished_changes(self, obj) -> bool:
        return guide_has_unpublished_changes(obj, latest_hash=obj.latest_version_hash)


class StyleGuideVersionSerializer(serializers.ModelSerializer):
    """An immutable published snapshot of a guide."""

    vertical = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = StyleGuideVersion
        fields = [
            "id",
            "guide",
            "version",
            "name",
            "kind",
            "vertical",
            "parent",
            *GUIDE_WRITING_FIELDS,
            "rules",
            "content_hash",
            "notes",
            "published_by_label",
            "published_at",
        ]
        read_only_fields = fields


class PublishInputSerializer(serializers.Serializer):
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


@extend_schema_field({"oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "enum": ["draft"]}]})
class CheckVersionField(serializers.Field):
    """``"draft"``, a version number, or absent (the published chain)."""

    default_error_messages = {"invalid": 'Give a version number or "draft".'}

    def to_internal_value(self, data):
        if data == "draft":
            return data
        # A JSON whole number: "1" or 1.9 would be read as version 1, which is not what was sent.
        if isinstance(data, bool) or not isinstance(data, int) or data < 1:
            self.fail("invalid")
        return data

    def to_representation(self, value):
        return value


class CheckInputSerializer(serializers.Serializer):
    text = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=100_000)
    version = CheckVersionField(
        required=False,
        help_text='Omit for the published guide (its draft if never published); "draft" or a number.',
    )


ViolationSerializer = dataclass_serializer(
    "ViolationSerializer",
    Violation,
    start=serializers.IntegerField(allow_null=True, help_text="Offset of the first character at fault."),
    end=serializers.IntegerField(allow_null=True, help_text="Offset just past the last one."),
)


class TextStatisticsSerializer(serializers.Serializer):
    characters = serializers.IntegerField()
    words = serializers.IntegerField()
    sentences = serializers.IntegerField()
    reading_grade = serializers.FloatField(allow_null=True)


SkippedRuleSerializer = dataclass_serializer("SkippedRuleSerializer", SkippedRule)


class CheckResultSerializer(serializers.Serializer):
    passed = serializers.BooleanField(
        help_text="True when no violation has severity 'error' and no 'error' rule was skipped."
    )
    error_count = serializers.IntegerField()
    warning_count = serializers.IntegerField()
    violations = ViolationSerializer(many=True)
    statistics = TextStatisticsSerializer()
    guide_version_ids = serializers.ListField(child=serializers.IntegerField())
    draft = serializers.BooleanField()
    complete = serializers.BooleanField(
        help_text="False when the check's time budget ran out before every rule was run: "
        "those not run are in skipped_rules."
    )
    skipped_rules = SkippedRuleSerializer(
        many=True,
        help_text="Rules not run because the check's time budget (STYLEGUIDES_CHECK_TIME_BUDGET_SECONDS, "
        "2 s by default) was spent on slow patterns: only 'regex' rules are ever skipped. Check "
        "again with a shorter text, or simplify the patterns.",
    )


EffectiveRuleSerializer = dataclass_serializer(
    "EffectiveRuleSerializer", EffectiveRule, parameters=serializers.JSONField()
)


class EffectiveGuideSerializer(serializers.Serializer):
    """A guide merged with the guides it inherits from (child winning)."""

    guide_id = serializers.IntegerField()
    draft = serializers.BooleanField()
    version_ids = serializers.ListField(child=serializers.IntegerField())
    name = serializers.CharField()
    kind = serializers.CharField()
    vertical_id = serializers.IntegerField(allow_null=True)
    tone = serializers.CharField()
    audience = serializers.CharField()
    reading_level = serializers.IntegerField(allow_null=True)
    body = serializers.CharField()
    banned_terms = serializers.ListField(child=serializers.CharField())
    required_terms = serializers.ListField(child=serializers.CharField())
    rules = EffectiveRuleSerializer(many=True)


# --- Prompt templates -----------------------------------------------------------------------


class TemplateVariableSerializer(serializers.Serializer):
    name = serializers.CharField()
    required = serializers.BooleanField(required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    default = serializers.JSONField(required=False, allow_null=True)


class PromptTemplateSerializer(VersionedSerializer):
    """A template's metadata, its labels and latest version. Creating one also creates version 1
    from ``system_template``, ``user_template`` and ``variables``; sending any of those in an
    update writes the next version (the others carried over from the latest)."""

    labels = serializers.SerializerMethodField()
    system_template = serializers.CharField(write_only=True, required=False, allow_blank=True)
    user_template = serializers.CharField(write_only=True, required=False)
    variables = TemplateVariableSerializer(many=True, write_only=True, required=False)
    notes = serializers.CharField(write_only=True, required=False, allow_blank=True)

    class Meta(VersionedSerializer.Meta):
        model = PromptTemplate
        fields = [
            "id",
            "is_global",
            "name",
            "slug",
            "content_type",
            "description",
            "latest_version",
            "labels",
            "system_template",
            "user_template",
            "variables",
            "notes",
            "created_at",
            "updated_at",
        ]

    def validate(self, attrs):
        if self.instance is None and not attrs.get("user_template"):
            raise serializers.ValidationError({"user_template": "A new template needs a user_template."})
        return attrs

    def get_labels(self, obj) -> dict[str, int]:
        return {label.name: label.version.version for label in obj.labels.all()}


class PromptTemplateVersionSerializer(serializers.ModelSerializer):
    variables = TemplateVariableSerializer(many=True, required=False)

    class Meta:
        model = PromptTemplateVersion
        fields = [
            "id",
            "template",
            "version",
            "system_template",
            "user_template",
            "variables",
            "notes",
            "content_hash",
            "created_by_label",
            "created_at",
        ]
        read_only_fields = ["id", "template", "version", "content_hash", "created_by_label", "created_at"]
        extra_kwargs = {"system_template": {"required": False, "allow_blank": True}}


class LabelInputSerializer(serializers.Serializer):
    name = serializers.RegexField(r"^[a-z0-9][a-z0-9_-]*$", max_length=50)
    version = serializers.IntegerField(min_value=1)


class RenderQuerySerializer(serializers.Serializer):
    """``?version=`` or ``?label=`` of a render: what the body may say instead."""

    version = serializers.IntegerField(required=False, min_value=1)
    label = serializers.CharField(required=False, max_length=50)


class RenderInputSerializer(serializers.Serializer):
    variables = serializers.DictField(required=False, default=dict)
    style_guide = TenantPrimaryKeyRelatedField(
        queryset=StyleGuide.objects.all(), allow_global=True, required=False, allow_null=True
    )
    vertical = VerticalSlugField(required=False, allow_null=True)
    version = serializers.IntegerField(required=False, min_value=1, help_text="Or ?version= in the URL.")
    label = serializers.CharField(required=False, max_length=50, help_text="Or ?label= in the URL.")


RenderedPromptSerializer = dataclass_serializer("RenderedPromptSerializer", RenderedPrompt)


class ContextSnippetSerializer(VersionedSerializer):
    class Meta(VersionedSerializer.Meta):
        model = ContextSnippet
        fields = [
            "id",
            "is_global",
            "name",
            "slug",
            "description",
            "body",
            "latest_version",
            "created_at",
            "updated_at",
        ]


class ContentPillarSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContentPillar
        extra_kwargs = SLUG_FROM_NAME
        fields = ["id", "name", "slug", "description", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]


class ContentSeriesSerializer(serializers.ModelSerializer):
    pillar = TenantPrimaryKeyRelatedField(
        queryset=ContentPillar.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = ContentSeries
        extra_kwargs = SLUG_FROM_NAME
        fields = ["id", "pillar", "name", "slug", "description", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
