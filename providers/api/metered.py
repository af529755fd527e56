"""The API face of the metering core: what generations and provider calls (both ``MeteredUsage``
rows) take and show alike. Their apps' serializers use these, so a metered call reads and answers
the same way on every ingesting endpoint."""

from __future__ import annotations

from rest_framework import serializers

from providers.metering import TOKEN_COLUMNS

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


def token_field(**kwargs) -> serializers.IntegerField:
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


def refuse_usage_with_tokens(attrs: dict) -> None:
    """A metered call's usage comes one way: a provider ``usage`` object or our token fields."""
    sent = sorted(set(TOKEN_INPUTS) & set(attrs))
    if "usage" in attrs and sent:
        raise serializers.ValidationError(
            {"usage": f"Send a provider usage object or token fields, not both ({', '.join(sent)})."}
        )


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
