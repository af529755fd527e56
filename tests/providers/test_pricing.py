"""The metering core's cost equals genai-prices' calc_price, to the last decimal; unknown →
unpriced, never $0."""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal

import genai_prices
import pytest

from providers.choices import CostStatus
from providers.metering import COST_QUANTUM, Meter, UnreadableUsage, usage_from_tokens
from providers.models import AIModel, ModelPrice

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
NOW = datetime.datetime(2025, 11, 1, 12, tzinfo=UTC)


def Usage(input_tokens=0, output_tokens=0, *, cache_read_tokens=0, cache_write_tokens=0):
    return usage_from_tokens(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read_tokens,
        cache_write_tokens=cache_write_tokens,
    )


def cost_of(*, model, usage, at):
    return Meter().cost(usage=usage, model=model, at=at)


def exact(value: Decimal) -> Decimal:
    return value.quantize(COST_QUANTUM, rounding=ROUND_HALF_UP)


# (provider, model, usage, at): chosen to cover every price shape our four providers use —
# cache reads and writes, models without a cache price (cached tokens cost the input price),
# tiers above 200k input tokens, dated price changes, and per-request fees.
CASES = [
    ("openai", "gpt-4o", Usage(1_000, 500), NOW),
    ("openai", "gpt-4o", Usage(12_345, 678, cache_read_tokens=10_000), NOW),
    ("openai", "gpt-4o-mini", Usage(250_000, 4_000, cache_read_tokens=200_000), NOW),
    ("openai", "gpt-4o-2024-05-13", Usage(9_000, 100, cache_read_tokens=5_000), NOW),
    ("openai", "gpt-4.1", Usage(1_000_000, 32_768, cache_read_tokens=999_999), NOW),
    (
        "openai",
        "o3",
        Usage(50_000, 20_000, cache_read_tokens=1_234),
        datetime.datetime(2025, 5, 1, tzinfo=UTC),
    ),
    (
        "openai",
        "o3",
        Usage(50_000, 20_000, cache_read_tokens=1_234),
        datetime.datetime(2025, 7, 1, tzinfo=UTC),
    ),
    ("openai", "gpt-5", Usage(123_456, 7_890, cache_read_tokens=100_000), NOW),
    ("openai", "gpt-5.4", Usage(300_000, 10_000, cache_read_tokens=50_000), NOW),
    (
        "openai",
        "gpt-5.6-luna",
        Usage(40_000, 3_000, cache_read_tokens=10_000, cache_write_tokens=20_000),
        NOW,
    ),
    ("anthropic", "claude-sonnet-4-5", Usage(1_200, 800, cache_read_tokens=200, cache_write_tokens=300), NOW),
    (
        "anthropic",
        "claude-sonnet-4-5",
        Usage(250_000, 2_000, cache_read_tokens=150_000, cache_write_tokens=60_000),
        NOW,
    ),
    ("anthropic", "claude-haiku-4-5", Usage(7, 3, cache_write_tokens=7), NOW),
    ("anthropic", "claude-opus-4-1", Usage(10_000, 1_000, cache_read_tokens=9_000), NOW),
    (
        "anthropic",
        "claude-3-haiku",
        Usage(33_333, 4_444, cache_read_tokens=11_111, cache_write_tokens=22_222),
        NOW,
    ),
    (
        "anthropic",
        "claude-opus-4-6",
        Usage(300_000, 1_000, cache_read_tokens=100_000),
        datetime.datetime(2026, 3, 12, tzinfo=UTC),
    ),
    (
        "anthropic",
        "claude-opus-4-6",
        Usage(300_000, 1_000, cache_read_tokens=100_000),
        datetime.datetime(2026, 3, 13, tzinfo=UTC),
    ),
    ("google", "gemini-2.5-pro", Usage(100_000, 5_000, cache_read_tokens=80_000), NOW),
    ("google", "gemini-2.5-pro", Usage(200_001, 5_000, cache_read_tokens=80_000), NOW),
    ("google", "gemini-2.5-flash", Usage(64_000, 8_192, cache_read_tokens=32_000), NOW),
    ("google", "gemini-2.5-flash-lite", Usage(1, 1), NOW),
    (
        "google",
        "gemini-3-flash-preview",
        Usage(10_000, 2_000, cache_read_tokens=5_000),
        datetime.datetime(2026, 1, 4, tzinfo=UTC),
    ),
    (
        "google",
        "gemini-3-flash-preview",
        Usage(10_000, 2_000, cache_read_tokens=5_000),
        datetime.datetime(2026, 1, 5, tzinfo=UTC),
    ),
    ("google", "gemini-1.5-flash", Usage(150_000, 1_000, cache_read_tokens=140_000), NOW),
    ("perplexity", "sonar", Usage(1_500, 700), NOW),
    ("perplexity", "sonar-pro", Usage(15_000, 2_000), NOW),
    ("perplexity", "sonar-deep-research", Usage(20_000, 9_000), NOW),
    ("perplexity", "perplexity/sonar", Usage(10_000, 1_000, cache_read_tokens=4_000), NOW),
    ("perplexity", "r1-1776", Usage(3_000, 3_000), NOW),
    ("perplexity", "sonar-reasoning-pro", Usage(0, 0), NOW),
]


def genai_total(provider: str, name: str, usage, at: datetime.datetime):
    return genai_prices.calc_price(usage, name, provider_id=provider, genai_request_timestamp=at)


def test_cases_cover_all_four_providers_cache_tiers_and_request_fees():
    assert len(CASES) >= 20
    assert {case[0] for case in CASES} == {"openai", "anthropic", "google", "perplexity"}
    assert any(case[2].cache_write_tokens for case in CASES)
    assert any(case[2].cache_read_tokens for case in CASES)
    assert any(case[2].input_tokens > 200_000 for case in CASES)


@pytest.mark.parametrize(("provider", "name", "usage", "at"), CASES, ids=lambda v: str(v)[:40])
def test_cost_of_equals_genai_prices_calc_price(catalogue, provider, name, usage, at):
    model = AIModel.objects.get(provider__slug=provider, name=name)
    expected = genai_total(provider, name, usage, at)
    assert expected.model.id == name  # genai-prices priced the same model we did

    result = cost_of(model=model, usage=usage, at=at)

    assert result.cost_status == CostStatus.PRICED
    assert result.cost_usd == exact(expected.total_price), (result, expected)
    assert result.price == ModelPrice.objects.valid_at(at).get(model=model)


def test_tier_above_200k_input_tokens_prices_every_token_at_the_tier_rate(catalogue):
    model = AIModel.objects.get(provider__slug="google", name="gemini-2.5-pro")
    below = cost_of(model=model, usage=Usage(200_000, 0), at=NOW)
    above = cost_of(model=model, usage=Usage(200_001, 0), at=NOW)
    assert below.cost_usd == exact(Decimal("1.25") * 200_000 / 1_000_000)
    assert above.cost_usd == exact(Decimal("2.5") * 200_001 / 1_000_000)


def test_unknown_model_is_unpriced_never_zero(catalogue):
    result = cost_of(model=None, usage=Usage(10, 10), at=NOW)
    assert (result.cost_usd, result.cost_status, result.price) == (None, CostStatus.UNPRICED, None)
    assert (result.input_tokens, result.output_tokens, result.total_tokens) == (10, 10, 20)


def test_no_price_valid_at_the_moment_is_unpriced(catalogue):
    model = AIModel.objects.get(provider__slug="openai", name="gpt-4o")
    ModelPrice.objects.filter(model=model).update(valid_from=NOW + datetime.timedelta(days=1))
    result = cost_of(model=model, usage=Usage(10, 10), at=NOW)
    assert result.cost_usd is None
    assert result.cost_status == CostStatus.UNPRICED


@pytest.mark.parametrize(
    "fields",
    [
        {"input_tokens": -1},
        {"output_tokens": 1.5},
        {"input_tokens": True},
        {"input_tokens": 10, "cache_read_tokens": 8, "cache_write_tokens": 3},
    ],
)
def test_impossible_usage_is_an_unreadable_usage_error(fields):
    with pytest.raises(UnreadableUsage):
        cost_of(model=None, usage=usage_from_tokens(**fields), at=NOW)


def test_total_tokens_counts_input_and_output():
    assert cost_of(model=None, usage=Usage(100, 20, cache_read_tokens=50), at=NOW).total_tokens == 120
