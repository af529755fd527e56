"""209 real-shaped provider responses (``corpus.json``, built by ``build_corpus.py``) recorded
through the real API, each priced to the last decimal as genai-prices prices it for the same
provider, model and moment, and the ones genai-prices cannot price stored unpriced, never $0;
plus the examples of issue 9."""

from __future__ import annotations

import datetime
import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import genai_prices
import pytest
from genai_prices.data_snapshot import find_provider_by_id, get_snapshot

from analytics.models import ProviderCall
from generations.models import Generation
from providers.price_sync import price_sync

pytestmark = pytest.mark.django_db

CORPUS = json.loads((Path(__file__).with_name("corpus.json")).read_text())
QUANTUM = Decimal("1e-10")
ROOTS = {"google": "usageMetadata"}


def expected(item) -> tuple[Decimal | None, genai_prices.Usage]:
    """genai-prices' own answer: the usage its extractor reads and the price it computes."""
    reader, flavour = item["reader"]
    provider = find_provider_by_id(get_snapshot().providers, reader)
    _, usage = provider.extract_usage(item["body"], api_flavor=flavour)
    try:
        calculation = genai_prices.calc_price(
            usage,
            item["model"],
            provider_id=item["provider"] or None,
            genai_request_timestamp=datetime.datetime.fromisoformat(item["occurred_at"]),
        )
    except LookupError:
        return None, usage
    return calculation.total_price.quantize(QUANTUM, rounding=ROUND_HALF_UP), usage


def record(client, index: int, item) -> dict:
    """POST the call as a content service would: to generations/ or usage/, with the whole
    response in ``usage``, only its usage object, or (generations) only ``raw_response``."""
    send = item["send"]
    body = item["body"]
    payload = {"request_id": f"corpus-{index}", "provider": item["provider"], "model": item["model"]}
    payload["occurred_at"] = item["occurred_at"]
    if send == "usage":
        payload["usage"] = body[ROOTS.get(item["reader"][0], "usage")]
    elif send == "raw_response" and item["endpoint"] == "generations":
        payload["raw_response"] = body
    else:
        payload["usage"] = body
    if item["endpoint"] == "generations":
        payload["status"] = "success"
        response = client.post("/api/v1/generations/", payload, format="json")
    else:
        payload.update(endpoint="/v1/chat/completions", status_code=200)
        response = client.post("/api/v1/usage/", payload, format="json")
    assert response.status_code == 201, (index, response.content)
    return response.json()


def test_the_corpus_is_large_and_varied():
    assert len(CORPUS) >= 200
    providers = {item["provider"] for item in CORPUS}
    assert {"openai", "anthropic", "google"} <= providers
    assert len(providers - {"openai", "anthropic", "google", ""}) >= 6
    flavours = {tuple(item["reader"]) for item in CORPUS}
    assert {("openai", "chat"), ("openai", "responses"), ("aws", "default"), ("aws", "anthropic")} <= flavours
    assert {item["send"] for item in CORPUS} == {"body", "usage", "raw_response"}
    assert {item["endpoint"] for item in CORPUS} == {"generations", "usage"}


def test_every_response_is_priced_as_genai_prices_prices_it_or_unpriced_never_zero(api_client):
    # Every provider and model genai-prices prices, with every unit of every price version.
    price_sync()
    mismatches = []
    priced = unpriced = 0
    for index, item in enumerate(CORPUS):
        cost, usage = expected(item)
        row = record(api_client, index, item)
        got = None if row["cost_usd"] is None else Decimal(row["cost_usd"])
        if cost is None:
            unpriced += 1
            if (row["cost_status"], got) != ("unpriced", None):
                mismatches.append(
                    (index, item["provider"], item["model"], "want unpriced", row["cost_status"], got)
                )
        else:
            priced += 1
            if (row["cost_status"], got) != ("priced", cost):
                mismatches.append((index, item["provider"], item["model"], cost, row["cost_status"], got))
        tokens = (row["input_tokens"], row["output_tokens"])
        if tokens != (usage.input_tokens, usage.output_tokens):
            mismatches.append((index, item["provider"], item["model"], "tokens", tokens))
        # Every unit genai-prices read is kept, not only the token columns.
        if row["usage"] != {key: value for key, value in usage.__dict__.items() if value is not None}:
            mismatches.append((index, item["provider"], item["model"], "units", row["usage"]))
    assert not mismatches, f"{len(mismatches)} mismatches: {mismatches}"
    assert priced >= 180 and unpriced >= 9
    assert Generation.objects.filter(cost_status="priced", cost_usd=0).count() == 0
    assert Generation.objects.count() + ProviderCall.objects.count() == len(CORPUS)
