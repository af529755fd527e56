"""Provider-native usage objects normalise through genai-prices; names and aliases resolve."""

from __future__ import annotations

import pytest

from providers.metering import TOKEN_COLUMNS, UnreadableUsage, read_usage
from providers.selectors import model_resolve

pytestmark = pytest.mark.django_db


def Usage(input_tokens=0, output_tokens=0, *, cache_read_tokens=0, cache_write_tokens=0):
    return (input_tokens, output_tokens, cache_read_tokens, cache_write_tokens)


def usage_from_provider_payload(*, provider, payload):
    usage = read_usage(provider_slugs=[provider.lower()], payload=payload)
    return tuple(usage.__dict__.get(name, 0) for name in TOKEN_COLUMNS)


@pytest.mark.parametrize(
    ("provider", "payload", "expected"),
    [
        (
            "openai",
            {
                "prompt_tokens": 1200,
                "completion_tokens": 300,
                "prompt_tokens_details": {"cached_tokens": 1000},
            },
            Usage(1200, 300, cache_read_tokens=1000),
        ),
        (
            "openai",
            {
                "usage": {
                    "input_tokens": 50,
                    "output_tokens": 7,
                    "input_tokens_details": {"cached_tokens": 10},
                }
            },
            Usage(50, 7, cache_read_tokens=10),
        ),
        (
            # Anthropic reports input_tokens without the cached ones; genai-prices adds them back.
            "anthropic",
            {
                "input_tokens": 100,
                "output_tokens": 40,
                "cache_read_input_tokens": 2000,
                "cache_creation_input_tokens": 500,
            },
            Usage(2600, 40, cache_read_tokens=2000, cache_write_tokens=500),
        ),
        (
            "google",
            {
                "promptTokenCount": 900,
                "candidatesTokenCount": 80,
                "thoughtsTokenCount": 20,
                "cachedContentTokenCount": 600,
            },
            Usage(900, 100, cache_read_tokens=600),
        ),
        ("perplexity", {"prompt_tokens": 10, "completion_tokens": 30}, Usage(10, 30)),
        ("OpenAI", {"prompt_tokens": 1, "completion_tokens": 2}, Usage(1, 2)),
        # Known, with no reader of this shape (Bedrock's OpenAI-compatible endpoint, a gateway's
        # OpenAI-shaped report): the common shapes read it.
        (
            "aws",
            {"prompt_tokens": 100, "completion_tokens": 20, "prompt_tokens_details": {"cached_tokens": 30}},
            Usage(100, 20, cache_read_tokens=30),
        ),
    ],
)
def test_provider_usage_objects_normalise(provider, payload, expected):
    assert usage_from_provider_payload(provider=provider, payload=payload) == expected


@pytest.mark.parametrize(
    ("provider", "payload"),
    [
        ("openai", {}),
        ("openai", {"hello": "world"}),
        ("openai", {"prompt_tokens": "many", "completion_tokens": 1}),
        ("openai", {"prompt_tokens": -5, "completion_tokens": 1}),
        ("anthropic", {"output_tokens": 3}),
        ("google", {"promptTokenCount": 1.5}),
        ("google", []),
    ],
)
def test_junk_usage_is_a_domain_error_on_usage(provider, payload):
    with pytest.raises(UnreadableUsage) as error:
        usage_from_provider_payload(provider=provider, payload=payload)
    assert error.value.attr == "usage"


@pytest.mark.parametrize(
    ("name", "provider", "expected"),
    [
        ("gpt-4o", None, ("openai", "gpt-4o")),
        ("GPT-4o-2024-08-06", None, ("openai", "gpt-4o")),
        ("gpt-4o-2024-08-06", "openai", ("openai", "gpt-4o")),
        ("claude-sonnet-4-5-20250929", None, ("anthropic", "claude-sonnet-4-5")),
        ("claude-sonnet-4-5-20991231", "anthropic", ("anthropic", "claude-sonnet-4-5")),
        ("gemini-2.5-flash-preview-09-2025", "google", ("google", "gemini-2.5-flash")),
        ("sonar-pro", "perplexity", ("perplexity", "sonar-pro")),
    ],
)
def test_model_resolve_by_name_alias_or_snapshot_match(catalogue, name, provider, expected):
    model = model_resolve(name=name, provider=provider)
    assert model is not None
    assert (model.provider.slug, model.name) == expected


@pytest.mark.parametrize(
    ("name", "provider"),
    [("no-such-model", None), ("", None), ("gpt-4o", "anthropic"), ("gpt-4o", "nosuchprovider")],
)
def test_model_resolve_unknown_is_none(catalogue, name, provider):
    assert model_resolve(name=name, provider=provider) is None
