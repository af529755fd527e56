"""The API face of the metering core: what generations and provider calls (both ``MeteredUsage``
rows) take and show alike. Their apps' serializers use these, so a metered call reads and answers
the same way on every ingesting endpoint."""

from __future__ import annotations

from rest_framework import serializers

from providers.metering import MAX_TOKEN_COUNT, TOKEN_COLUMNS, UnreadableUsage
from providers.models import MONEY

# The token columns a client may send instead of a provider ``usage`` object.
TOKEN_INPUTS = (*TOKEN_COLUMNS, "total_tokens")
# ``provider``/``model`` as the client sent them, then what Inkwell resolved them to.
NAME_FIELDS = ("provider", "model", "resolved_provider", "resolved_model")
# What a ``MeteredUsage`` row used and cost: the client's figures next to Inkwell's.
USAGE_FIELDS = (
    *TOKEN_INPUTS,
    "usage",
    "client_usage",
    "client_cost_usd",
    "cost_usd",
    "cost_status",
)
# The provider usage object's help; an endpoint that reads usage from more places says so after it.
USAGE_HELP = (
    "The provider's own usage object, or its whole response body (any provider "
    "genai-prices reads: OpenAI chat or Responses, Anthropic, Google `usageMetadata`, Bedrock, "
    "Groq, Mistral …), instead of the token fields."
)
# The inputs of :class:`UsageInputSerializer`, in the order they are documented.
USAGE_INPUTS = (*TOKEN_INPUTS, "usage", "client_cost_usd")


def _token_field(**kwargs) -> serializers.IntegerField:
    """An input token count (``input_tokens`` …): whole, not negative, optional."""
    return serializers.IntegerField(min_value=0, max_value=2**62, required=False, **kwargs)


def provider_field() -> serializers.CharField:
    """The input ``provider`` of a metered call: the name as sent, kept in ``provider_name``."""
    return serializers.CharField(
        source="provider_name", max_length=50, required=False, allow_blank=True, help_text="Provider slug."
    )


def model_field() -> serializers.CharField:
    """The input ``model`` of a metered call: the name or alias as sent, kept in ``model_name``."""
    return serializers.CharField(
        source="model_name",
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="Model name or alias.",
    )


class UsageInputSerializer(serializers.Serializer):
    """What a client reports a metered call used: our token fields or the provider's own
    ``usage`` object (not both), and the client's own cost. The fields stand right before the
    subclass's field named ``usage_inputs_before``, so each endpoint documents (and answers
    errors in) its own order; a subclass may redeclare ``usage`` (another help, validators)."""

    input_tokens = _token_field()
    output_tokens = _token_field()
    cache_read_tokens = _token_field()
    cache_write_tokens = _token_field()
    total_tokens = _token_field(help_text="Defaults to input + output.")
    usage = serializers.DictField(required=False, help_text=USAGE_HELP)
    client_cost_usd = serializers.DecimalField(**MONEY, min_value=0, required=False, allow_null=True)

    usage_inputs_before = ""

    def get_fields(self):
        fields = super().get_fields()
        usage_inputs = {name: fields.pop(name) for name in USAGE_INPUTS}
        if self.usage_inputs_before not in fields:
            return {**fields, **usage_inputs}
        ordered = {}
        for name, field in fields.items():
            if name == self.usage_inputs_before:
                ordered.update(usage_inputs)
            ordered[name] = field
        return ordered

    def validate(self, attrs):
        sent = sorted(set(TOKEN_INPUTS) & set(attrs))
        if "usage" in attrs and sent:
            raise serializers.ValidationError(
                {"usage": f"Send a provider usage object or token fields, not both ({', '.join(sent)})."}
            )
        # Metering bounds the counts it reads; a client's total is stored as sent, and summed by
        # the rollups like the others (see ``MAX_TOKEN_COUNT``).
        if (attrs.get("total_tokens") or 0) > MAX_TOKEN_COUNT:
            raise serializers.ValidationError(
                {"total_tokens": f"More than {MAX_TOKEN_COUNT:,} tokens in one call cannot be true."},
                code=UnreadableUsage.code,
            )
        return attrs


class MeteredUsageSerializer(serializers.ModelSerializer):
    """Output of a ``MeteredUsage`` row (a generation, a provider call): ``provider`` and ``model``
    as the client sent them, ``resolved_provider``/``resolved_model`` as Inkwell knows them (null
    when it does not know the name). ``Meta.fields`` places them with :data:`NAME_FIELDS`."""

    provider = serializers.CharField(source="provider_name", read_only=True)
    model = serializers.CharField(source="model_name", read_only=True)
    resolved_provider = serializers.SlugRelatedField(
        source="provider", slug_field="slug", read_only=True, allow_null=True
    )
    resolved_model = serializers.SlugRelatedField(
        source="model",
        slug_field="name",
        read_only=True,
        allow_null=True,
        help_text="The canonical model the name meant.",
    )
