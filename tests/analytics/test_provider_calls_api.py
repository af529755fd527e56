"""``usage/``: provider calls are ingested idempotently, priced through providers' metering core,
counted in the hourly rollup in the same transaction, and refused with a clear 400 when bad."""

from __future__ import annotations

import datetime
from decimal import Decimal

import genai_prices
import pytest
from django.db.models import Sum
from django.utils import timezone

from analytics import rollups, services
from analytics.models import (
    ProviderCall,
    ProviderCallDailyRollup,
    ProviderCallModelDailyRollup,
    UserHourlyRollup,
)
from providers.credentials import fingerprint_of_digest
from providers.metering import MAX_TOKEN_COUNT, Meter, usage_from_tokens
from providers.models import AIModel
from providers.services import model_price_change
from tenancy.models import AuditEvent
from tenancy.rls import rls_bypass
from tests.analytics.factories import ProviderCallFactory, fingerprint_of, rollup_sums
from tests.api_cases import TenantReadAPITests
from tests.generations.factories import GenerationFactory
from tests.generations.otel_support import sync_prices

pytestmark = pytest.mark.django_db
URL = "/api/v1/usage/"
KEY_FINGERPRINT = fingerprint_of("sk-test-analytics-0001")


def body(**overrides):
    data = {
        "request_id": "call-1",
        "endpoint": "/v1/chat/completions",
        "provider": "openai",
        "model": "gpt-4o",
        "input_tokens": 12000,
        "output_tokens": 800,
        "cache_read_tokens": 4096,
        "api_latency_ms": 1800,
        "total_request_time_ms": 2100,
        "status_code": 200,
        "user_ref": "user-7",
        "key_fingerprint": KEY_FINGERPRINT,
        "occurred_at": "2026-03-02T10:15:00Z",
    }
    data.update(overrides)
    return {name: value for name, value in data.items() if value is not ...}


def written() -> tuple[int, int, int, int]:
    return (
        ProviderCall.objects.count(),
        ProviderCallDailyRollup.objects.count(),
        UserHourlyRollup.objects.count(),
        AuditEvent.objects.filter(object_type="analytics.providercall").count(),
    )


class TestProviderCallReadAPI(TenantReadAPITests):
    model = ProviderCall
    url = URL

    @pytest.fixture
    def make_object(self):
        return lambda organization, **fields: ProviderCallFactory(organization=organization, **fields)


def test_a_call_is_priced_at_occurred_at_and_counted_in_its_day(api_client, organization, priced_models):
    response = api_client.post(URL, body(), format="json")

    assert response.status_code == 201, response.content
    call = ProviderCall.objects.get(pk=response.json()["id"])
    model = AIModel.objects.get(name="gpt-4o")
    expected = Meter().cost(
        model=model,
        usage=usage_from_tokens(input_tokens=12000, output_tokens=800, cache_read_tokens=4096),
        at=datetime.datetime(2026, 3, 2, 10, 15, tzinfo=datetime.UTC),
    )
    assert call.organization == organization
    assert call.cost_status == "priced"
    assert call.cost_usd == expected.cost_usd > 0
    assert response.json()["resolved_model"] == "gpt-4o"
    assert call.total_tokens == 12800
    rollup = rollup_sums(ProviderCallDailyRollup)
    assert rollup.day == datetime.date(2026, 3, 2)
    hourly = rollup_sums(UserHourlyRollup)
    assert (hourly.hour, hourly.user_ref, hourly.requests) == (
        datetime.datetime(2026, 3, 2, 10, tzinfo=datetime.UTC),
        "user-7",
        1,
    )
    assert (rollup.requests, rollup.successes, rollup.failures) == (1, 1, 0)
    assert rollup.cost_usd == call.cost_usd
    # Sent as the key's SHA-256, stored keyed (as credentials carry it).
    assert call.key_fingerprint == fingerprint_of_digest(KEY_FINGERPRINT)
    assert (rollup.user_ref, rollup.key_fingerprint, rollup.model_name) == (
        "user-7",
        fingerprint_of_digest(KEY_FINGERPRINT),
        "gpt-4o",
    )
    # Not audited row by row (DESIGN §3): the call records the key that wrote it.
    assert call.recorded_by_key_id == api_client.api_key.pk
    assert not AuditEvent.objects.for_object(call).exists()


def test_the_same_body_again_answers_the_first_row_and_writes_nothing(api_client, priced_models):
    first = api_client.post(URL, body(), format="json")
    before = written()

    again = api_client.post(URL, body(), format="json")

    assert again.status_code == 200
    assert again.json() == first.json()
    assert written() == before
    assert rollup_sums(ProviderCallDailyRollup).requests == 1


def test_another_body_with_the_same_request_id_is_a_conflict(api_client, priced_models):
    api_client.post(URL, body(), format="json")
    before = written()

    response = api_client.post(URL, body(output_tokens=801), format="json")

    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "conflicting_replay"
    assert written() == before


def test_request_ids_are_per_organization(api_client, other_api_client, priced_models):
    assert api_client.post(URL, body(), format="json").status_code == 201
    assert other_api_client.post(URL, body(output_tokens=5), format="json").status_code == 201


@pytest.mark.parametrize(
    ("provider", "model", "usage", "flavor", "tokens"),
    [
        pytest.param(
            "openai",
            "gpt-4o",
            {
                "prompt_tokens": 12000,
                "completion_tokens": 800,
                "prompt_tokens_details": {"cached_tokens": 4096},
            },
            "chat",
            (12000, 800, 4096, 0),
            id="openai",
        ),
        pytest.param(
            "anthropic",
            "claude-sonnet-4-0",
            {
                "input_tokens": 3000,
                "output_tokens": 500,
                "cache_read_input_tokens": 20000,
                "cache_creation_input_tokens": 1500,
            },
            "default",
            (24500, 500, 20000, 1500),
            id="anthropic",
        ),
        pytest.param(
            "google",
            "gemini-2.5-flash",
            {"promptTokenCount": 9000, "candidatesTokenCount": 700, "cachedContentTokenCount": 2000},
            "default",
            (9000, 700, 2000, 0),
            id="google",
        ),
    ],
)
def test_provider_native_usage_is_normalised_and_priced_like_genai_prices(
    api_client, priced_models, provider, model, usage, flavor, tokens
):
    occurred_at = datetime.datetime(2026, 3, 2, 10, tzinfo=datetime.UTC)
    payload = body(provider=provider, model=model, usage=usage, occurred_at=occurred_at.isoformat())
    for name in ("input_tokens", "output_tokens", "cache_read_tokens"):
        payload.pop(name)

    response = api_client.post(URL, payload, format="json")

    assert response.status_code == 201, response.content
    call = ProviderCall.objects.get(pk=response.json()["id"])
    assert (call.input_tokens, call.output_tokens, call.cache_read_tokens, call.cache_write_tokens) == tokens
    assert call.client_usage == usage
    root = "usageMetadata" if provider == "google" else "usage"
    extracted = genai_prices.extract_usage({root: usage}, provider_id=provider, api_flavor=flavor)
    expected = genai_prices.calc_price(
        extracted.usage, call.model.name, provider_id=provider, genai_request_timestamp=occurred_at
    ).total_price
    assert call.cost_usd == Decimal(expected).quantize(Decimal("1e-10"))


def test_an_unknown_model_is_unpriced_never_zero(api_client, priced_models):
    response = api_client.post(URL, body(model="our-own-finetune-v3"), format="json")

    assert response.status_code == 201
    assert response.json()["cost_usd"] is None
    assert response.json()["cost_status"] == "unpriced"
    rollup = rollup_sums(ProviderCallDailyRollup)
    assert (rollup.unpriced_requests, rollup.cost_usd) == (1, 0)


@pytest.mark.parametrize(
    ("status_code", "error_type"),
    [(429, "rate_limit"), (401, "auth"), (503, "server_error"), (504, "timeout"), (400, "invalid_request")],
)
def test_a_failed_call_gets_the_error_type_its_status_implies(api_client, status_code, error_type):
    response = api_client.post(URL, body(status_code=status_code), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["success"] is False
    assert response.json()["error_type"] == error_type


def test_a_timeout_without_a_response_and_its_rollup_columns(api_client):
    response = api_client.post(
        URL, body(status_code=None, success=False, error_type="timeout", api_latency_ms=30_000), format="json"
    )

    assert response.status_code == 201, response.content
    rollup = rollup_sums(ProviderCallDailyRollup)
    assert (rollup.failures, rollup.timeouts, rollup.slow_requests, rollup.latency_ms_max) == (
        1,
        1,
        1,
        30_000,
    )


def test_a_call_of_a_generation_takes_its_content_type(api_client, organization):
    generation = GenerationFactory(organization=organization, content_type="social")

    response = api_client.post(URL, body(generation=generation.pk), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["content_type"] == "social"
    assert rollup_sums(ProviderCallDailyRollup).content_type == "social"


FUTURE = (timezone.now() + datetime.timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("overrides", "attr"),
    [
        pytest.param({"status_code": 700}, "status_code", id="status-700"),
        pytest.param({"status_code": 99}, "status_code", id="status-99"),
        pytest.param({"api_latency_ms": -1}, "api_latency_ms", id="negative-latency"),
        pytest.param({"total_request_time_ms": -5}, "total_request_time_ms", id="negative-total-time"),
        pytest.param({"input_tokens": -1}, "input_tokens", id="negative-tokens"),
        pytest.param({"cache_read_tokens": 20000}, "cache_read_tokens", id="cache-reads-over-input"),
        pytest.param({"key_fingerprint": "sk-live-abcdef0123456789"}, "key_fingerprint", id="raw-key"),
        pytest.param({"success": True, "error_type": "timeout"}, "error_type", id="success-with-error"),
        # A 500 counted as a success would be missing from the failure reports.
        pytest.param({"success": True, "status_code": 500}, "success", id="success-with-a-5xx"),
        pytest.param({"success": True, "status_code": 429}, "success", id="success-with-a-4xx"),
        # Success follows from the status: was the database's constraint_violation, unnamed.
        pytest.param(
            {"status_code": 200, "error_type": "rate_limit"}, "error_type", id="2xx-with-error-type"
        ),
        pytest.param({"usage": {"prompt_tokens": 1}}, "usage", id="usage-and-tokens"),
        pytest.param({"user_ref": ""}, "user_ref", id="empty-user"),
        pytest.param({"occurred_at": FUTURE}, "occurred_at", id="future"),
        pytest.param({"method": "BREW"}, "method", id="method"),
        pytest.param({"endpoint": ...}, "endpoint", id="no-endpoint"),
        pytest.param({"request_id": ...}, "request_id", id="no-request-id"),
        # Past a column's bounds: the serializer's refusal is the only check these fields get
        # (the row's own check skips what it vouched for: tenancy.api.checked_fields).
        pytest.param({"endpoint": "/v1/" + "e" * 497}, "endpoint", id="endpoint-too-long"),
        pytest.param({"endpoint": ""}, "endpoint", id="endpoint-blank"),
        pytest.param({"model": "m" * 201}, "model", id="model-too-long"),
        pytest.param({"provider": "p" * 51}, "provider", id="provider-too-long"),
        pytest.param({"user_ref": "u" * 201}, "user_ref", id="user-too-long"),
        pytest.param({"error_message": "e" * 10_001}, "error_message", id="error-message-too-long"),
        pytest.param({"api_latency_ms": 2**31}, "api_latency_ms", id="latency-past-int32"),
        pytest.param({"content_type": "poem"}, "content_type", id="content-type"),
        pytest.param({"error_type": "meltdown"}, "error_type", id="error-type"),
        pytest.param({"client_cost_usd": "0.00000000001"}, "client_cost_usd", id="cost-eleven-places"),
        pytest.param({"occurred_at": None}, "occurred_at", id="null-moment"),
    ],
)
def test_bad_input_is_a_clear_400_and_writes_nothing(api_client, overrides, attr):
    before = written()

    response = api_client.post(URL, body(**overrides), format="json")

    assert response.status_code == 400, response.content
    error = response.json()
    assert error["type"] == "validation_error"
    assert attr in {item["attr"] for item in error["errors"]}, error
    assert written() == before


def test_another_organizations_generation_is_refused_like_a_missing_one(api_client, other_organization):
    theirs = GenerationFactory(organization=other_organization)
    before = written()

    response = api_client.post(URL, body(generation=theirs.pk), format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "code": "does_not_exist",
        "detail": f'Invalid pk "{theirs.pk}" - object does not exist.',
        "attr": "generation",
    }
    assert written() == before


def test_a_viewer_key_cannot_record(viewer_api_client):
    assert viewer_api_client.post(URL, body(), format="json").status_code == 403
    assert written() == (0, 0, 0, 0)


def test_filters_find_slow_calls_and_errors(api_client, organization):
    slow = ProviderCallFactory(organization=organization, api_latency_ms=7000)
    failed = ProviderCallFactory(
        organization=organization, success=False, error_type="rate_limit", status_code=429
    )
    ProviderCallFactory(organization=organization)

    slow_ids = [row["id"] for row in api_client.get(URL, {"slow": "true"}).json()["results"]]
    failed_ids = [row["id"] for row in api_client.get(URL, {"success": "false"}).json()["results"]]

    assert slow_ids == [slow.pk]
    assert failed_ids == [failed.pk]


def test_a_single_post_takes_few_queries_once_the_catalogue_is_cached(
    api_client, priced_models, django_assert_max_num_queries
):
    # The first call reads the provider, the model and its prices; later calls meter from the
    # process's catalogue copy, with the key's last_used_at written at most once a minute.
    assert api_client.post(URL, body(request_id="warm-up"), format="json").status_code == 201

    # key, the shared throttle's counter, savepoint, replay look-up, savepoint, INSERT, release,
    # daily + hourly rollups, release
    with django_assert_max_num_queries(10):
        response = api_client.post(URL, body(request_id="call-2"), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["cost_status"] == "priced"


def test_a_price_change_reaches_the_next_call_at_once(api_client, priced_models, organization):
    assert api_client.post(URL, body(request_id="warm-up"), format="json").status_code == 201
    AIModel.objects.filter(name="gpt-4o").first().prices.all().delete()  # signals drop the copy

    response = api_client.post(URL, body(request_id="call-2"), format="json")

    assert response.json()["cost_status"] == "unpriced"


# --- what one call may count: bounded, so no rollup group's sums overflow ---------------------

# The most a price column holds, per million input tokens: 100 input tokens cost
# $999,999.99999999999999, which the cost column rounds to the $10^6 no call may cost.
MOST_EXPENSIVE = Decimal("9999999999.9999999999")


@pytest.fixture
def expensive_gpt_4o(priced_models):
    """gpt-4o priced at :data:`MOST_EXPENSIVE` from now on, output tokens free."""
    model_price_change(
        model=AIModel.objects.get(name="gpt-4o"),
        prices={"input_usd_per_mtok": MOST_EXPENSIVE, "output_usd_per_mtok": Decimal(0)},
    )


def now_body(**overrides):
    """:func:`body` happening now (at the price set now), without cached tokens."""
    return body(occurred_at=..., cache_read_tokens=..., **overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"input_tokens": MAX_TOKEN_COUNT + 1, "output_tokens": 0}, id="input-past-the-cap"),
        pytest.param({"input_tokens": 6 * 10**8, "output_tokens": 4 * 10**8 + 1}, id="sum-past-the-cap"),
        pytest.param(
            {"usage": {"prompt_tokens": 1, "completion_tokens": MAX_TOKEN_COUNT}}, id="usage-object"
        ),
        pytest.param({"input_tokens": 100, "output_tokens": 0}, id="cost-rounding-up-to-the-cap"),
        pytest.param({"input_tokens": 1000, "output_tokens": 0}, id="cost-past-the-cap"),
    ],
)
def test_a_call_past_what_one_call_may_count_is_refused_and_writes_nothing(
    api_client, expensive_gpt_4o, overrides
):
    if "usage" in overrides:
        overrides |= {"input_tokens": ..., "output_tokens": ...}
    before = written()

    response = api_client.post(URL, now_body(**overrides), format="json")

    assert response.status_code == 400, response.content
    [error] = response.json()["errors"]
    assert error["code"] == "invalid_usage"
    assert "cannot be true" in error["detail"]
    assert written() == before


def test_a_client_total_past_the_cap_is_refused_and_writes_nothing(api_client, priced_models):
    before = written()

    response = api_client.post(URL, body(total_tokens=MAX_TOKEN_COUNT + 1), format="json")

    assert response.status_code == 400, response.content
    [error] = response.json()["errors"]
    assert (error["attr"], error["code"]) == ("total_tokens", "invalid_usage")
    assert written() == before


def test_a_call_at_the_caps_is_recorded(api_client, expensive_gpt_4o):
    most_tokens = api_client.post(
        URL, now_body(request_id="tokens", input_tokens=0, output_tokens=MAX_TOKEN_COUNT), format="json"
    )
    most_cost = api_client.post(
        URL, now_body(request_id="cost", input_tokens=99, output_tokens=0), format="json"
    )

    assert most_tokens.status_code == most_cost.status_code == 201, (most_tokens.content, most_cost.content)
    assert most_tokens.json()["total_tokens"] == MAX_TOKEN_COUNT
    assert Decimal(most_cost.json()["cost_usd"]) == Decimal("990000")  # $989,999.99999999999999 rounded


@pytest.mark.django_db(transaction=True)
def test_a_day_of_calls_at_the_caps_folds(organization, expensive_gpt_4o):
    """11,000 calls of one group, each at the most tokens and nearly the most cost: their cost
    sums past $10^10 (what one call's column holds) and the fold writes it as one row."""
    for batch in range(11):
        items = [
            {
                "request_id": f"max-{batch}-{n}",
                "endpoint": "/v1/chat/completions",
                "provider_name": "openai",
                "model_name": "gpt-4o",
                "input_tokens": 99,
                "output_tokens": MAX_TOKEN_COUNT - 99,
                "success": True,
            }
            for n in range(1000)
        ]
        with rls_bypass(reason="test: many calls at the caps"):
            services.provider_call_bulk_record(
                organization=organization, items=items, fingerprints=[item["request_id"] for item in items]
            )
    today = timezone.now().date()

    with rls_bypass(reason="test: fold"):
        rollups.rollups_fold(organization=organization, date_from=today, date_to=today)
        raw = ProviderCall.objects.aggregate(cost=Sum("cost_usd"), tokens=Sum("total_tokens"))
        [row] = ProviderCallModelDailyRollup.objects.filter(organization=organization)

    assert raw == {"cost": Decimal("990000") * 11000, "tokens": MAX_TOKEN_COUNT * 11000}
    assert (row.requests, row.cost_usd, row.total_tokens) == (11000, raw["cost"], raw["tokens"])
    assert ProviderCallDailyRollup.objects.filter(organization=organization).count() == 1


TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_a_call_keeps_its_trace_context_and_is_listed_by_trace(api_client, other_api_client):
    """A call joins the trace it ran in, as a generation does: kept as sent, shown, and
    ``usage/?trace_id=`` lists the trace's calls (only the caller's)."""
    traced = body(
        request_id="traced", trace_id=TRACE, span_id="00f067aa0ba902b7", parent_span_id="a3ce929d0e0e4736"
    )
    created = api_client.post(URL, traced, format="json")
    api_client.post(URL, body(request_id="untraced"), format="json")
    other_api_client.post(URL, body(request_id="theirs", trace_id=TRACE), format="json")

    assert created.status_code == 201, created.content
    assert {name: created.json()[name] for name in ("trace_id", "span_id", "parent_span_id")} == {
        "trace_id": TRACE,
        "span_id": "00f067aa0ba902b7",
        "parent_span_id": "a3ce929d0e0e4736",
    }
    listed = api_client.get(URL, {"trace_id": TRACE}).json()["results"]
    assert [row["request_id"] for row in listed] == ["traced"]
    assert ProviderCall.objects.get(request_id="untraced").trace_id == ""


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("trace_id", "4BF92F3577B34DA6A3CE929D0E0E4736"),  # upper case
        ("trace_id", TRACE[:-1]),  # 31 digits
        ("span_id", "00f067aa0ba902b7ff"),  # 18 digits
        ("parent_span_id", "not-a-span-id-00"),
    ],
)
def test_a_trace_or_span_id_that_is_not_lowercase_hex_of_its_length_is_a_400(api_client, field, value):
    response = api_client.post(URL, body(**{field: value}), format="json")

    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["attr"] == field
    assert not ProviderCall.objects.exists()


def test_a_responses_body_s_web_search_calls_are_billed(api_client):
    """OpenAI bills each ``web_search_call`` of a Responses body ($10 per thousand for gpt-4.1);
    its usage object does not count them (was $0.0028 for $0.0228)."""
    sync_prices({"gpt-4.1"})
    response_body = {
        "object": "response",
        "model": "gpt-4.1-2025-04-14",
        "output": [
            {"type": "web_search_call", "id": "ws_1", "status": "completed"},
            {"type": "web_search_call", "id": "ws_2", "status": "completed"},
            {"type": "web_search_call", "id": "ws_3", "status": "failed"},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Two inns."}],
            },
        ],
        "usage": {"input_tokens": 1000, "output_tokens": 100, "total_tokens": 1100},
    }
    payload = body(provider="openai", model="gpt-4.1", usage=response_body)
    for name in ("input_tokens", "output_tokens", "cache_read_tokens"):
        payload.pop(name)

    response = api_client.post(URL, payload, format="json")

    assert response.status_code == 201, response.content
    call = ProviderCall.objects.get(pk=response.json()["id"])
    assert (call.input_tokens, call.output_tokens, call.usage["web_searches"]) == (1000, 100, 2)
    assert call.cost_usd == Decimal("0.0228")
