"""Build ``tests/metering/corpus.json``: real-shaped provider responses for the metering tests.

Run ``.venv/bin/python tests/metering/build_corpus.py`` to regenerate (deterministic: a fixed
seed). Each entry is one call as a content service would report it:

- ``provider``, ``model``: what the client sends; ``occurred_at``: when the call happened;
- ``body``: the provider's whole response, in its own shape (OpenAI Chat Completions and
  Responses, Anthropic Messages, Google ``generateContent``, Bedrock Converse and
  Anthropic-on-Bedrock, Cohere v2, and the OpenAI-compatible APIs of Groq, Mistral, DeepSeek,
  xAI, OpenRouter, Azure, Cerebras, Moonshot, Together);
- ``reader``: ``[provider, api_flavor]`` genai-prices reads it with (for the expected cost);
- ``send``: ``body`` (the whole response in ``usage``), ``usage`` (only its usage object) or
  ``raw_response`` (no ``usage``: Inkwell reads it from ``raw_response``);
- ``endpoint``: ``generations`` or ``usage`` (provider calls).

The shapes follow the providers' API references; the counts are random but consistent (cached
tokens within the prompt, modality details summing to their totals).
"""

from __future__ import annotations

import datetime
import json
import random
import uuid
from pathlib import Path

OUT = Path(__file__).with_name("corpus.json")
rng = random.Random(20261130)
UTC = datetime.UTC


def moment(start=datetime.datetime(2025, 7, 1, tzinfo=UTC), end=datetime.datetime(2026, 11, 20, tzinfo=UTC)):
    seconds = rng.randint(0, int((end - start).total_seconds()))
    return (start + datetime.timedelta(seconds=seconds)).isoformat()


def text():
    return rng.choice(["Sunrise yoga by the lake.", "Five names for a bakery.", "A tagline for a clinic."])


def openai_chat(model, *, cached=True, reasoning=False, audio=False, provider_extra=None):
    prompt = rng.randint(20, 60_000)
    completion = rng.randint(5, 4_000)
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {
            "cached_tokens": rng.choice([0, rng.randint(0, prompt)]) if cached else 0,
            "audio_tokens": rng.randint(0, prompt // 4) if audio else 0,
        },
        "completion_tokens_details": {
            "reasoning_tokens": rng.randint(0, completion) if reasoning else 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    usage.update(provider_extra or {})
    return {
        "id": f"chatcmpl-{uuid.UUID(int=rng.getrandbits(128)).hex[:24]}",
        "object": "chat.completion",
        "created": rng.randint(1_750_000_000, 1_790_000_000),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text()}, "finish_reason": "stop"}
        ],
        "usage": usage,
        "system_fingerprint": f"fp_{rng.getrandbits(40):010x}",
    }


def openai_responses(model):
    prompt = rng.randint(20, 80_000)
    output = rng.randint(5, 6_000)
    return {
        "id": f"resp_{rng.getrandbits(96):024x}",
        "object": "response",
        "created_at": rng.randint(1_750_000_000, 1_790_000_000),
        "status": "completed",
        "model": model,
        "output": [
            {"type": "reasoning", "id": f"rs_{rng.getrandbits(64):016x}", "summary": []},
            {
                "type": "message",
                "id": f"msg_{rng.getrandbits(64):016x}",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text(), "annotations": []}],
            },
        ],
        "usage": {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": rng.choice([0, rng.randint(0, prompt)])},
            "output_tokens": output,
            "output_tokens_details": {"reasoning_tokens": rng.randint(0, output)},
            "total_tokens": prompt + output,
        },
    }


def anthropic_message(model, *, searches=None, split_ttl=True):
    write_5m = rng.choice([0, rng.randint(0, 30_000)])
    write_1h = rng.choice([0, rng.randint(0, 10_000)]) if split_ttl else 0
    usage = {
        "input_tokens": rng.randint(1, 50_000),
        "cache_creation_input_tokens": write_5m + write_1h,
        "cache_read_input_tokens": rng.choice([0, rng.randint(0, 100_000)]),
        "output_tokens": rng.randint(1, 8_000),
        "service_tier": "standard",
    }
    if split_ttl:
        usage["cache_creation"] = {
            "ephemeral_5m_input_tokens": write_5m,
            "ephemeral_1h_input_tokens": write_1h,
        }
    if searches is not None:
        usage["server_tool_use"] = {"web_search_requests": searches}
    return {
        "id": f"msg_{rng.getrandbits(96):024x}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text()}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage,
    }


def google_content(model, *, prompt_modalities=("TEXT",), output_image=False, thinking=False, cached=False):
    details = [{"modality": modality, "tokenCount": rng.randint(1, 40_000)} for modality in prompt_modalities]
    prompt = sum(item["tokenCount"] for item in details)
    text_out = rng.randint(1, 3_000)
    candidates_details = [{"modality": "TEXT", "tokenCount": text_out}]
    if output_image:
        candidates_details.append({"modality": "IMAGE", "tokenCount": 1290 * rng.randint(1, 2)})
    candidates = sum(item["tokenCount"] for item in candidates_details)
    metadata = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": candidates,
        "promptTokensDetails": details,
        "candidatesTokensDetails": candidates_details,
    }
    if thinking:
        metadata["thoughtsTokenCount"] = rng.randint(1, 8_000)
    if cached:
        text_prompt = next(item["tokenCount"] for item in details if item["modality"] == "TEXT")
        cached_tokens = rng.randint(0, text_prompt)
        metadata["cachedContentTokenCount"] = cached_tokens
        metadata["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": cached_tokens}]
    metadata["totalTokenCount"] = prompt + candidates + metadata.get("thoughtsTokenCount", 0)
    return {
        "candidates": [
            {"content": {"parts": [{"text": text()}], "role": "model"}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": metadata,
        "modelVersion": model,
        "responseId": f"{rng.getrandbits(64):016x}",
    }


def bedrock_converse():
    read = rng.choice([0, rng.randint(0, 5_000)])
    write = rng.choice([0, rng.randint(0, 5_000)])
    prompt = rng.randint(1, 20_000)
    output = rng.randint(1, 4_000)
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text()}]}},
        "stopReason": "end_turn",
        "usage": {
            "inputTokens": prompt,
            "outputTokens": output,
            "totalTokens": prompt + output + read + write,
            "cacheReadInputTokens": read,
            "cacheWriteInputTokens": write,
        },
        "metrics": {"latencyMs": rng.randint(200, 9000)},
    }


def cohere_chat():
    billed_in, billed_out = rng.randint(1, 20_000), rng.randint(1, 3_000)
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128))),
        "message": {"role": "assistant", "content": [{"type": "text", "text": text()}]},
        "finish_reason": "COMPLETE",
        "usage": {
            "billed_units": {"input_tokens": billed_in, "output_tokens": billed_out},
            "tokens": {"input_tokens": billed_in + rng.randint(0, 300), "output_tokens": billed_out},
        },
    }


def entry(provider, model, body, reader, *, at=None, send=None, endpoint=None):
    return {
        "provider": provider,
        "model": model,
        "occurred_at": at or moment(),
        "body": body,
        "reader": reader,
        "send": send or rng.choice(["body", "body", "usage", "raw_response"]),
        "endpoint": endpoint or rng.choice(["generations", "usage"]),
    }


def build() -> list[dict]:
    corpus = []
    add = corpus.append
    for _ in range(14):
        model = rng.choice(
            ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-5", "gpt-5-mini", "o3", "o4-mini"]
        )
        add(
            entry(
                "openai",
                model,
                openai_chat(model, reasoning=model.startswith(("o", "gpt-5"))),
                ["openai", "chat"],
            )
        )
    for _ in range(4):
        add(
            entry(
                "openai",
                "gpt-4o-audio-preview",
                openai_chat("gpt-4o-audio-preview", audio=True),
                ["openai", "chat"],
            )
        )
    for _ in range(14):
        model = rng.choice(["gpt-5", "gpt-5-mini", "o3", "o4-mini", "gpt-4.1", "gpt-5.4"])
        add(entry("openai", model, openai_responses(model), ["openai", "responses"]))
    for _ in range(22):
        model = rng.choice(
            [
                "claude-sonnet-4-5",
                "claude-haiku-4-5",
                "claude-opus-4-1",
                "claude-sonnet-4-0",
                "claude-3-5-haiku",
            ]
        )
        body = anthropic_message(
            model, searches=rng.choice([None, 0, rng.randint(1, 12)]), split_ttl=rng.random() < 0.7
        )
        add(entry("anthropic", model, body, ["anthropic", "default"]))
    for _ in range(8):
        add(
            entry(
                "google",
                "gemini-2.0-flash",
                google_content(
                    "gemini-2.0-flash",
                    prompt_modalities=rng.choice([("TEXT", "AUDIO"), ("TEXT",), ("TEXT", "IMAGE")]),
                ),
                ["google", "default"],
            )
        )
    for _ in range(8):
        model = rng.choice(["gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite"])
        modalities = rng.choice([("TEXT",), ("TEXT", "AUDIO"), ("TEXT", "VIDEO"), ("TEXT", "IMAGE", "AUDIO")])
        body = google_content(model, prompt_modalities=modalities, thinking=True, cached=rng.random() < 0.5)
        add(entry("google", model, body, ["google", "default"]))
    for _ in range(6):
        add(
            entry(
                "google",
                "gemini-2.5-flash-image",
                google_content("gemini-2.5-flash-image", output_image=True),
                ["google", "default"],
            )
        )
    others = [
        (
            "groq",
            [
                "llama-3.3-70b-versatile",
                "llama-3.1-8b-instant",
                "openai/gpt-oss-120b",
                "moonshotai/kimi-k2-instruct",
            ],
            "default",
        ),
        ("mistral", ["mistral-large-latest", "mistral-small-latest", "magistral-medium"], "default"),
        ("deepseek", ["deepseek-chat", "deepseek-reasoner", "deepseek-v3.2"], "chat"),
        ("x-ai", ["grok-3", "grok-4-0709", "grok-3-mini"], "chat"),
        (
            "openrouter",
            [
                "openai/gpt-4o",
                "anthropic/claude-sonnet-4.5",
                "google/gemini-2.5-flash",
                "meta-llama/llama-3.3-70b-instruct",
            ],
            "chat",
        ),
        ("azure", ["gpt-4o", "gpt-4o-mini", "o3-2025-04-16", "o4-mini"], "chat"),
        ("cerebras", ["llama-3.3-70b", "gpt-oss-120b", "qwen-3-32b"], "chat"),
        ("moonshotai", ["kimi-k2", "kimi-k2-thinking"], "chat"),
        ("fireworks", ["llama-v3p3-70b-instruct"], "chat"),
    ]
    for provider, models, flavour in others:
        for _ in range(10):
            model = rng.choice(models)
            extra = {}
            if provider == "groq":
                extra = {
                    "queue_time": round(rng.random() / 10, 4),
                    "prompt_time": 0.01,
                    "completion_time": 0.2,
                }
            if provider == "openrouter":
                extra = {"cost": round(rng.random() / 100, 6), "is_byok": False}
            if provider == "deepseek":
                extra = {"prompt_cache_hit_tokens": 0, "prompt_cache_miss_tokens": 0}
            body = openai_chat(model, reasoning=True, provider_extra=extra)
            if provider == "deepseek":
                details = body["usage"]["prompt_tokens_details"]
                body["usage"]["prompt_cache_hit_tokens"] = details["cached_tokens"]
                body["usage"]["prompt_cache_miss_tokens"] = (
                    body["usage"]["prompt_tokens"] - details["cached_tokens"]
                )
            # DeepSeek prices off-peak hours (16:30-00:30 UTC) lower: spread over the day.
            add(entry(provider, model, body, [provider, flavour]))
    for _ in range(5):
        model = rng.choice(["o3-2025-04-16", "o4-mini"])
        add(entry("azure", model, openai_responses(model), ["azure", "responses"]))
    for _ in range(8):
        model = rng.choice(
            [
                "anthropic.claude-3-5-sonnet-20240620-v1:0",
                "amazon.nova-pro-v1:0",
                "meta.llama3-3-70b-instruct-v1:0",
            ]
        )
        add(entry("aws", model, bedrock_converse(), ["aws", "default"]))
    for _ in range(6):
        model = rng.choice(
            ["us.anthropic.claude-sonnet-4-20250514-v1:0", "anthropic.claude-3-5-sonnet-20240620-v1:0"]
        )
        body = anthropic_message("claude-sonnet-4-20250514", split_ttl=False)
        body["id"] = "msg_bdrk_" + body["id"][4:]
        add(entry("aws", model, body, ["aws", "anthropic"]))
    for _ in range(8):
        add(
            entry(
                "cohere",
                rng.choice(["command-r-plus", "command-a", "command-r"]),
                cohere_chat(),
                ["cohere", "default"],
            )
        )
    for _ in range(5):
        model = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
        # genai-prices has no reader of its own for Together: its OpenAI-compatible body is
        # read in the OpenAI chat shape and priced at Together's price.
        add(entry("together", model, openai_chat(model), ["openai", "chat"]))
    # Nobody prices these: they must come back unpriced, never $0.
    for model in [
        "acme-brand-voice-ft-2",
        "local-llama-70b",
        "gpt-4o-but-not-really",
        "claude-internal-eval",
    ]:
        add(entry("openai", model, openai_chat(model), ["openai", "chat"]))
        add(entry("", model, openai_chat(model), ["openai", "chat"]))
    add(
        entry(
            "anthropic",
            "claude-unreleased-9",
            anthropic_message("claude-unreleased-9"),
            ["anthropic", "default"],
        )
    )
    add(entry("google", "gemini-9-ultra", google_content("gemini-9-ultra"), ["google", "default"]))
    return corpus


if __name__ == "__main__":
    corpus = build()
    OUT.write_text(json.dumps(corpus, indent=1, sort_keys=True) + "\n")
    print(f"{len(corpus)} responses written to {OUT}")
