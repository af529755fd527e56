"""``CompiledPrice`` (genai-prices' calculation with its per-price work done once) gives
exactly what ``ModelPrice.calc_price`` gives, for every shape of price in genai-prices'
snapshot and every usage of the corpus, errors included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from genai_prices import types as gp
from genai_prices.data_snapshot import find_provider_by_id, get_snapshot

from providers.metering import CompiledPrice, snapshot_from_units, units_from_snapshot

CORPUS = json.loads((Path(__file__).with_name("corpus.json")).read_text())


def _prices() -> list[gp.ModelPrice]:
    """One price of every shape (set of units, tiered or not) in the snapshot, conditional
    prices included."""
    shapes: dict[tuple, gp.ModelPrice] = {}
    for provider in get_snapshot().providers:
        for model in provider.models:
            prices = model.prices if isinstance(model.prices, list) else [model.prices]
            for price in prices:
                price = getattr(price, "prices", price)
                units = units_from_snapshot(price)
                shape = tuple(sorted((key, isinstance(value, dict)) for key, value in units.items()))
                shapes.setdefault(shape, price)
    return list(shapes.values())


def _usages() -> list[gp.Usage]:
    usages = []
    for item in CORPUS:
        reader, flavour = item["reader"]
        provider = find_provider_by_id(get_snapshot().providers, reader)
        try:
            usages.append(provider.extract_usage(item["body"], api_flavor=flavour)[1])
        except (ValueError, LookupError, TypeError):
            continue
    # Above every tier threshold, and impossible usages (more cached than input tokens).
    usages.append(gp.Usage(input_tokens=1_500_000, output_tokens=9_000, cache_read_tokens=300_000))
    usages.append(gp.Usage(input_tokens=10, cache_read_tokens=50))
    usages.append(gp.Usage(input_tokens=100, input_audio_tokens=200))
    return usages


def _outcome(call):
    try:
        return call()
    except (ValueError, KeyError) as exc:
        return (type(exc), str(exc))


@pytest.mark.parametrize("price", _prices(), ids=lambda price: ",".join(sorted(units_from_snapshot(price))))
def test_compiled_price_equals_calc_price_to_the_last_decimal(price):
    stored = snapshot_from_units(units_from_snapshot(price))  # what Meter prices with
    compiled = CompiledPrice(stored)
    for usage in _usages():
        expected = _outcome(lambda: price.calc_price(usage)["total_price"])  # noqa: B023
        assert _outcome(lambda: compiled.total_price(usage)) == expected, usage  # noqa: B023
