"""Every bad input is a clear 4xx JSON error and writes nothing (issue 11, issue 9 point 4).

One table of bad requests across the API: JSON the database cannot hold, nesting, dates at the
edge of the calendar, NUL in a path, unknown body fields and unknown query parameters.
"""

from __future__ import annotations

import base64
import json

import pytest

from analytics.models import ModelPerformance, ProviderCall
from generations.models import CacheEntry, Generation
from styleguides.models import StyleGuide
from tenancy.models import AuditEvent
from tests.analytics.factories import PerformanceMetricFactory, ProviderCallFactory
from tests.generations.factories import GenerationFactory, GenerationRunFactory
from tests.providers.factories import BudgetFactory, make_credential
from tests.styleguides.factories import (
    BrandRuleFactory,
    ContentPillarFactory,
    ContentSeriesFactory,
    StyleGuideFactory,
)

pytestmark = pytest.mark.django_db


def generation(**overrides):
    data = {"request_id": "req-1", "content_type": "blog", "prompt": "p", "content": "c", "status": "success"}
    data.update(overrides)
    return data


def provider_call(**overrides):
    data = {
        "request_id": "call-1",
        "endpoint": "/v1/chat/completions",
        "provider": "openai",
        "model": "gpt-4o",
    }
    data.update(overrides)
    return data


def nested(depth: int) -> str:
    """A JSON value nesting ``depth`` levels of objects."""
    return '{"a":' * depth + "1" + "}" * depth


def written() -> tuple[int, ...]:
    return (
        Generation.all_objects.count(),
        ProviderCall.objects.count(),
        StyleGuide.all_objects.count(),
        CacheEntry.objects.count(),
        AuditEvent.objects.count(),
    )


RAW_BODIES = [
    # (method, url, raw JSON body, expected code, expected attr)
    (
        "post",
        "/api/v1/generations/",
        '{"request_id": "r", "metadata": ' + nested(1000) + "}",
        "parse_error",
        None,
    ),
    (
        "post",
        "/api/v1/generations/",
        '{"request_id": "r", "metadata": ' + nested(100) + "}",
        "parse_error",
        None,
    ),
    (
        "post",
        "/api/v1/generations/bulk/",
        '{"items": [{"request_id": "r", "metadata": ' + nested(5000) + "}]}",
        "parse_error",
        None,
    ),
    ("post", "/api/v1/generations/bulk/", "[" * 100_000 + "]" * 100_000, "parse_error", None),
    # One level past the limit (the body itself is the first level).
    (
        "post",
        "/api/v1/generations/",
        '{"request_id": "r", "metadata": ' + nested(64) + "}",
        "parse_error",
        None,
    ),
    # A key twice in one object: which value to record would be the parser's guess.
    (
        "post",
        "/api/v1/generations/",
        '{"request_id": "r", "model": "gpt-4o", "model": "claude-sonnet-4-0"}',
        "parse_error",
        None,
    ),
    (
        "post",
        "/api/v1/generations/bulk/",
        '{"items": [{"request_id": "r", "metadata": {"a": 1, "b": 2, "a": 3}}]}',
        "parse_error",
        None,
    ),
    ("post", "/api/v1/campaigns/", '{"name": "A", "name": "B"}', "parse_error", None),
    (
        "post",
        "/api/v1/generations/",
        '{"request_id": "r", "content_type": "blog", "metadata": {"note": "\\ud800"}}',
        "invalid_text",
        "metadata.note",
    ),
    (
        "post",
        "/api/v1/generations/bulk/",
        '{"items": [{"request_id": "r", "metadata": {"k\\u0000": 1}}]}',
        "invalid_text",
        "items.0.metadata",
    ),
    # Escapes in upper case, and in a key of the top-level object.
    (
        "post",
        "/api/v1/generations/",
        '{"request_id": "r", "content_type": "blog", "content": "x\\uD83D"}',
        "invalid_text",
        "content",
    ),
    (
        "post",
        "/api/v1/generations/",
        '{"request_id": "r", "content_type": "blog", "metadata": {"\\u0000": 1}}',
        "invalid_text",
        "metadata",
    ),
    (
        "put",
        "/api/v1/cache/k/",
        '{"response": {"text": "\\udfff"}, "ttl_seconds": 60}',
        "invalid_text",
        "response.text",
    ),
    (
        "put",
        "/api/v1/cache/k/",
        '{"response": {"text": "a\\u0000b"}, "ttl_seconds": 60}',
        "invalid_text",
        "response.text",
    ),
    # JSON has no infinity, but Python reads a number past a float's range as ``inf``: an id
    # lookup would overflow (a 500), a text field would store "inf", jsonb would refuse it.
    (
        "post",
        "/api/v1/metrics/",
        '{"generation": 1e999999, "total_duration_ms": 5}',
        "invalid_number",
        "generation",
    ),
    (
        "post",
        "/api/v1/brand-rules/",
        '{"guide": -1e400, "name": "r", "rule_type": "banned_term"}',
        "invalid_number",
        "guide",
    ),
    (
        "post",
        "/api/v1/generations/",
        '{"request_id": 1e400, "content_type": "blog"}',
        "invalid_number",
        "request_id",
    ),
    (
        "post",
        "/api/v1/generations/bulk/",
        '{"items": [{"request_id": "r", "metadata": {"n": [1, 1e999]}}]}',
        "invalid_number",
        "items.0.metadata.n.1",
    ),
    # Past the largest finite float by a little, without an exponent of three digits.
    (
        "post",
        "/api/v1/generations/",
        '{"request_id": "r", "content_type": "blog", "metadata": {"n": 1.8e308}}',
        "invalid_number",
        "metadata.n",
    ),
    (
        "put",
        "/api/v1/cache/k/",
        '{"response": {"n": 1e999}, "ttl_seconds": 60}',
        "invalid_number",
        "response.n",
    ),
]


@pytest.mark.parametrize(("method", "url", "raw", "code", "attr"), RAW_BODIES)
def test_json_the_database_cannot_hold_is_a_400(api_client, method, url, raw, code, attr):
    before = written()

    response = api_client.generic(method.upper(), url, raw, content_type="application/json")

    assert response.status_code == 400, response.content
    error = response.json()["errors"][0]
    assert (error["code"], error["attr"]) == (code, attr)
    assert error["detail"]
    assert written() == before


def test_a_repeated_key_is_named_in_the_error(api_client):
    raw = '{"request_id": "r", "metadata": {"tone": "warm", "tone": "cold"}}'
    response = api_client.generic("POST", "/api/v1/generations/", raw, content_type="application/json")

    assert response.status_code == 400, response.content
    assert '"tone" appears twice' in response.json()["errors"][0]["detail"]
    assert not Generation.all_objects.exists()


def test_the_same_key_in_two_objects_is_no_repeat(api_client):
    raw = '{"request_id": "r", "metadata": {"a": {"k": 1}, "b": {"k": 2}}}'
    response = api_client.generic("POST", "/api/v1/generations/", raw, content_type="application/json")
    assert response.status_code == 201, response.content


def test_text_that_only_looks_unstorable_is_stored_as_sent(api_client):
    """Brackets inside strings and an escaped backslash before ``u0000`` are ordinary text: the
    walk of the parsed body finds nothing to refuse in them."""
    content = "[" * 80 + "{" * 80 + " a literal \\u0000, and 1e999 as text"
    raw = json.dumps(generation(content=content, metadata={"ratio": 2.5e-3}))
    assert "\\\\u0000" in raw  # sent as an escaped backslash followed by u0000

    response = api_client.generic("POST", "/api/v1/generations/", raw, content_type="application/json")

    assert response.status_code == 201, response.content
    stored = Generation.objects.get(pk=response.json()["id"])
    assert (stored.content, stored.metadata) == (content, {"ratio": 0.0025})


def test_an_escaped_surrogate_pair_is_one_character_and_a_lone_one_in_capitals_is_refused(api_client):
    """The parser's reading of the text sends both to the walk of the parsed body (an escape that
    could be half a pair): a pair is an ordinary character, stored; a lone surrogate, however its
    hex digits are written, is the 400 that names where it is, and nothing is written."""
    raw = '{"request_id": "pair", "content_type": "blog", "content": "sun \\uD83C\\uDF1E"}'
    response = api_client.generic("POST", "/api/v1/generations/", raw, content_type="application/json")
    assert response.status_code == 201, response.content
    assert Generation.objects.get(pk=response.json()["id"]).content == "sun \N{SUN WITH FACE}"

    raw = '{"request_id": "lone", "content_type": "blog", "metadata": {"note": "a \\uDBFF b"}}'
    response = api_client.generic("POST", "/api/v1/generations/", raw, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["attr"] == "metadata.note"
    assert not Generation.objects.filter(request_id="lone").exists()


def test_nesting_up_to_the_limit_is_accepted(api_client):
    raw = json.dumps(generation(metadata=json.loads(nested(60))))
    response = api_client.generic("POST", "/api/v1/generations/", raw, content_type="application/json")
    assert response.status_code == 201, response.content
    # Stored whole, not truncated or flattened on the way in.
    assert Generation.objects.get(pk=response.json()["id"]).metadata == json.loads(nested(60))


@pytest.mark.parametrize(
    ("method", "url", "code", "attr"),
    [
        ("get", "/api/v1/cache/a%00b/", "invalid", None),
        ("put", "/api/v1/cache/a%00b/", "invalid", None),
        ("delete", "/api/v1/cache/a%00b/", "invalid", None),
        ("get", "/api/v1/generations/?search=a%00b", "invalid", "search"),
        ("get", "/api/v1/reports/cost/?to=0001-01-01", "out_of_bounds", "to"),
        ("get", "/api/v1/reports/cost/?from=0001-01-01&to=2025-01-02", "out_of_bounds", "from"),
        ("get", "/api/v1/reports/volume/?to=0001-01-01", "out_of_bounds", "to"),
        ("get", "/api/v1/reports/cache/?to=0001-01-01", "out_of_bounds", "to"),
        ("get", "/api/v1/reports/cost/?to=9999-12-31", "out_of_bounds", "to"),
        ("get", "/api/v1/reports/rate-limits/?from=0001-01-01", "out_of_bounds", "from"),
        ("get", "/api/v1/cache/stats/?to=0001-01-01", "out_of_bounds", "to"),
        ("get", "/api/v1/cache/stats/?from=9999-12-31", "out_of_bounds", "from"),
        # Alone, a `from` after today is after the default `to` (was a 200 with since > until).
        ("get", "/api/v1/cache/stats/?from=2999-12-31", "invalid_range", "from"),
        ("get", "/api/v1/cache/stats/?from=2026-02-02&to=2026-02-01", "invalid_range", "from"),
        ("get", "/api/v1/weekly-summaries/?week_from=0001-01-01", "out_of_bounds", "week_from"),
        # Bounds that can match nothing, as the reports answer them.
        (
            "get",
            "/api/v1/weekly-summaries/?week_from=2026-12-31&week_to=2026-01-01",
            "invalid_range",
            "week_from",
        ),
        (
            "get",
            "/api/v1/usage/?called_after=2026-02-02T00:00:00Z&called_before=2026-02-01T00:00:00Z",
            "invalid_range",
            "called_after",
        ),
        ("get", "/api/v1/generations/?created_after=0001-01-01T00:00:00%2B01:00", "invalid", "created_after"),
        ("get", "/api/v1/usage/?called_after=0001-01-01T00:00:00", "out_of_bounds", "called_after"),
        ("get", "/api/v1/generations/?created_at_after=2025-01-01", "unknown_parameter", "created_at_after"),
        ("get", "/api/v1/reports/cost/?created_at_after=2025-01-01", "unknown_parameter", "created_at_after"),
        ("get", "/api/v1/style-guides/?rules=1", "unknown_parameter", "rules"),
        ("get", "/api/v1/cache/stats/?page_size=5", "unknown_parameter", "page_size"),
        ("get", "/api/v1/generations/1/?page_size=5", "unknown_parameter", "page_size"),
    ],
)
def test_bad_paths_and_query_parameters_are_a_400(api_client, method, url, code, attr):
    before = written()

    response = getattr(api_client, method)(
        url, {"ttl_seconds": 60, "response": {}} if method == "put" else None
    )

    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    error = response.json()["errors"][0]
    assert (error["code"], error["attr"]) == (code, attr)
    assert error["detail"]
    # A named parameter's value is a validation error, wherever it was refused (NUL included).
    assert response.json()["type"] == ("validation_error" if attr else "client_error")
    assert written() == before


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/generations/?page_size=5&cursor=&search=x&format=json&status=success&created_after=2025-01-01T00:00:00Z",
        "/api/v1/reports/cost/?from=2025-01-01&to=2025-01-31&group_by=model&format=json",
        "/api/v1/usage/?called_after=2025-01-01T00:00:00Z&generation=1",
    ],
)
def test_documented_query_parameters_are_accepted(api_client, url):
    assert api_client.get(url).status_code == 200


@pytest.mark.parametrize(
    ("url", "payload", "unknown"),
    [
        (
            "/api/v1/generations/",
            generation(usageMetadata={"promptTokenCount": 3}, usage={}),
            ["usageMetadata"],
        ),
        ("/api/v1/generations/", generation(id=5, costUsd=1), ["id", "costUsd"]),
        (
            "/api/v1/generations/bulk/",
            {"items": [generation(), generation(request_id="r2", extra=1)]},
            ["items.1.extra"],
        ),
        ("/api/v1/generations/bulk/", {"items": [generation()], "atomic": True}, ["atomic"]),
        ("/api/v1/usage/", provider_call(latency_ms=1800), ["latency_ms"]),
        ("/api/v1/style-guides/", {"name": "G", "slug": "g", "kind": "brand", "rules": []}, ["rules"]),
    ],
)
def test_unknown_body_fields_are_a_400_naming_them(api_client, url, payload, unknown):
    before = written()

    response = api_client.post(url, payload, format="json")

    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert [e["attr"] for e in errors] == unknown
    assert {e["code"] for e in errors} == {"unknown_field"}
    assert written() == before


def test_unknown_field_on_update_is_refused_and_changes_nothing(api_client, organization):
    guide = StyleGuideFactory(organization=organization, name="Voice")
    response = api_client.patch(
        f"/api/v1/style-guides/{guide.pk}/", {"name": "New", "rules": []}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "rules"
    guide.refresh_from_db()
    assert guide.name == "Voice"


def test_invalid_choice_lists_the_valid_values(api_client):
    response = api_client.post("/api/v1/generations/", generation(status="done"), format="json")
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["attr"], error["code"]) == ("status", "invalid_choice")
    assert '"success"' in error["detail"] and '"pending"' in error["detail"]
    assert not Generation.all_objects.exists()


@pytest.mark.parametrize(
    ("path", "attr", "valid"),
    [
        ("/api/v1/generations/?status=done", "status", '"success"'),  # a multiple-choice filter
        ("/api/v1/generations/?target_channel=fax", "target_channel", '"email"'),
        ("/api/v1/style-guides/?kind=poem", "kind", '"brand"'),
    ],
)
def test_invalid_choice_in_a_filter_lists_the_valid_values(api_client, path, attr, valid):
    response = api_client.get(path)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["attr"], error["code"]) == (attr, "invalid_choice")
    assert "Valid choices:" in error["detail"] and valid in error["detail"]


def test_role_error_says_which_role_is_needed(api_client, viewer_api_client):
    response = api_client.post(
        "/api/v1/credentials/", {"provider": "openai", "name": "x", "api_key": "k" * 40}
    )
    assert response.status_code == 403
    assert response.json()["errors"][0]["detail"] == (
        "This action needs the admin role or higher; the caller's role is editor."
    )
    response = viewer_api_client.post("/api/v1/generations/", generation(), format="json")
    assert response.status_code == 403
    assert "needs the editor role" in response.json()["errors"][0]["detail"]


MISSING_ID = 2_000_000_000


def _foreign_rows(organization):
    """One row of ``organization`` per foreign-id filter, keyed by (url, parameter)."""
    guide = StyleGuideFactory(organization=organization)
    pillar = ContentPillarFactory(organization=organization)
    gen = GenerationFactory(organization=organization)
    run = GenerationRunFactory(organization=organization)
    ModelPerformance.objects.create(organization=organization, run=run, model_name="gpt-4o")
    ProviderCallFactory(organization=organization, generation=gen)
    PerformanceMetricFactory(organization=organization, generation=gen)
    BrandRuleFactory(guide=guide)
    ContentSeriesFactory(organization=organization, pillar=pillar)
    credential = make_credential(organization)
    BudgetFactory(organization=organization, credential=credential)
    StyleGuideFactory(organization=organization, parent=guide)
    return {
        ("/api/v1/usage/", "generation"): gen.pk,
        ("/api/v1/metrics/", "generation"): gen.pk,
        ("/api/v1/brand-rules/", "guide"): guide.pk,
        ("/api/v1/content-series/", "pillar"): pillar.pk,
        ("/api/v1/budgets/", "credential"): credential.pk,
        ("/api/v1/style-guides/", "parent"): guide.pk,
        ("/api/v1/model-performance/", "run"): run.pk,
    }


def test_foreign_id_filters_answer_the_same_for_another_tenants_id_and_a_missing_one(
    organization, other_organization, admin_api_client
):
    # The caller has rows of its own, matched by its own ids: an ignored filter would list them.
    own = _foreign_rows(organization)
    foreign = _foreign_rows(other_organization)
    for (url, parameter), their_id in foreign.items():
        mine = admin_api_client.get(url, {parameter: own[(url, parameter)]})
        assert mine.status_code == 200 and mine.json()["results"], url
        theirs = admin_api_client.get(url, {parameter: their_id})
        missing = admin_api_client.get(url, {parameter: MISSING_ID})
        assert (theirs.status_code, theirs.json()["results"]) == (200, []), url
        assert (missing.status_code, missing.json()["results"]) == (200, []), url
        bad = admin_api_client.get(url, {parameter: "x"})
        assert bad.status_code == 400, url


def _cursor(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("url", ["/api/v1/generations/", "/api/v1/usage/", "/api/v1/weekly-summaries/"])
@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("page_size", "0"),
        ("page_size", "-1"),
        ("page_size", "ten"),
        ("page_size", "501"),
        ("page_size", "1000000000"),
        ("page_size", "5_0"),
        ("page_size", "\u0665"),
        ("cursor", "garbage"),
        ("cursor", _cursor("p=not-a-date")),
        ("cursor", _cursor("o=-5")),
    ],
    ids=[
        "size-zero",
        "size-negative",
        "size-text",
        "size-past-the-largest-page",
        "size-huge",
        "size-with-underscore",
        "size-arabic-indic-digit",
        "cursor-garbage",
        "cursor-bad-position",
        "cursor-bad-offset",
    ],
)
def test_a_page_size_or_cursor_that_cannot_be_one_is_a_400_naming_it(admin_api_client, url, parameter, value):
    response = admin_api_client.get(url, {parameter: value})

    assert response.status_code == 400, response.content
    error = response.json()["errors"][0]
    assert error["attr"] == parameter
    assert error["detail"]


WRONG_JSON_TYPES = [
    # (url, body, the field named, its code): what DRF would coerce (0 → "0", "yes" → true, "7" → 7, 7.0 → 7)
    ("/api/v1/generations/", generation(user_ref=12345), "user_ref", "invalid"),
    ("/api/v1/generations/", generation(prompt=["p"]), "prompt", "invalid"),
    ("/api/v1/generations/", generation(generation_time_ms="1200"), "generation_time_ms", "invalid"),
    ("/api/v1/generations/", generation(generation_time_ms=1200.0), "generation_time_ms", "invalid"),
    (
        "/api/v1/generations/bulk/",
        {"items": [generation(), generation(request_id="r2", content=7)]},
        "items.1.content",
        "invalid",
    ),
    ("/api/v1/usage/", provider_call(success="true"), "success", "invalid"),
    ("/api/v1/usage/", provider_call(success=1), "success", "invalid"),
    ("/api/v1/campaigns/", {"name": "Spring", "description": 0}, "description", "invalid"),
    ("/api/v1/generations/", generation(parent="5"), "parent", "incorrect_type"),
    ("/api/v1/generations/", generation(parent=5.0), "parent", "incorrect_type"),
    ("/api/v1/runs/", {"prompt": "p", "content_type": "blog", "user_ref": 0}, "user_ref", "invalid"),
    # Money as text is written as JSON writes a number: Python's Decimal reads these too.
    ("/api/v1/generations/", generation(client_cost_usd="1_000"), "client_cost_usd", "invalid"),
    ("/api/v1/generations/", generation(client_cost_usd="\u0661\u0662"), "client_cost_usd", "invalid"),
    ("/api/v1/generations/", generation(client_cost_usd="\u0663.\u0665"), "client_cost_usd", "invalid"),
    ("/api/v1/generations/", generation(client_cost_usd="  7  "), "client_cost_usd", "invalid"),
    ("/api/v1/generations/", generation(client_cost_usd="0x10"), "client_cost_usd", "invalid"),
    (
        "/api/v1/generations/bulk/",
        {"items": [generation(), generation(request_id="r2", client_cost_usd="1_0")]},
        "items.1.client_cost_usd",
        "invalid",
    ),
]


@pytest.mark.parametrize(("url", "payload", "attr", "code"), WRONG_JSON_TYPES)
def test_a_value_of_another_json_type_is_a_400_naming_the_field(api_client, url, payload, attr, code):
    before = written()

    response = api_client.post(url, payload, format="json")

    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert [(e["attr"], e["code"]) for e in errors] == [(attr, code)]
    assert written() == before


@pytest.mark.parametrize("limit", ["1_0", "\u0665", " 5"])
def test_a_budget_limit_in_a_form_decimal_does_not_read_is_refused_and_nothing_is_written(
    admin_api_client, organization, limit
):
    before = written()

    response = admin_api_client.post("/api/v1/budgets/", {"name": "Cap", "limit_usd": limit}, format="json")

    assert response.status_code == 400, response.content
    assert [(e["attr"], e["code"]) for e in response.json()["errors"]] == [("limit_usd", "invalid")]
    assert written() == before


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("0.0042", "0.0042000000"),
        (0.0042, "0.0042000000"),
        ("1e-3", "0.0010000000"),
        (3, "3.0000000000"),
        ("+2.5", "2.5000000000"),
    ],
)
def test_money_as_a_json_number_or_its_text_is_read(api_client, sent, stored):
    response = api_client.post("/api/v1/generations/", generation(client_cost_usd=sent), format="json")

    assert response.status_code == 201, response.content
    assert str(Generation.objects.get(pk=response.json()["id"]).client_cost_usd) == stored


def test_a_boolean_of_another_json_type_is_refused_on_update_and_changes_nothing(
    admin_api_client, organization
):
    budget = BudgetFactory(organization=organization, is_active=True)

    response = admin_api_client.patch(f"/api/v1/budgets/{budget.pk}/", {"is_active": 0}, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["attr"] == "is_active"
    budget.refresh_from_db()
    assert budget.is_active is True


def test_the_json_types_are_what_the_body_says_and_query_strings_keep_their_text(api_client):
    """The same kinds of fields read from a query string (always text) still parse it."""
    created = api_client.post(
        "/api/v1/generations/", generation(generation_time_ms=1200, user_ref="u-7"), format="json"
    )
    assert created.status_code == 201, created.content
    assert (created.json()["generation_time_ms"], created.json()["user_ref"]) == (1200, "u-7")

    assert api_client.get("/api/v1/reports/cost/?limit=5").status_code == 200
    assert api_client.get("/api/v1/usage/?slow=true").status_code == 200


@pytest.mark.parametrize(
    ("url", "attr", "code"),
    [
        # django-filter read these as "no filter" and answered every row.
        ("/api/v1/usage/?slow=1", "slow", "invalid"),
        ("/api/v1/usage/?slow=null", "slow", "invalid"),
        ("/api/v1/style-guides/?is_global=yes", "is_global", "invalid"),
        ("/api/v1/generations/?root=0.5", "root", "invalid"),
        ("/api/v1/generations/?campaign=1.5", "campaign", "invalid"),
        ("/api/v1/usage/?status_code=0.5", "status_code", "invalid"),
        # The filter would read one of the two values; which one is not the client's choice.
        ("/api/v1/generations/?page_size=5&page_size=6", "page_size", "repeated_parameter"),
        ("/api/v1/usage/?success=true&success=false", "success", "repeated_parameter"),
        ("/api/v1/reports/cost/?group_by=model&group_by=day", "group_by", "repeated_parameter"),
        # Unknown is what matters about a parameter that is also repeated.
        ("/api/v1/usage/?colour=red&colour=blue", "colour", "unknown_parameter"),
    ],
)
def test_a_query_value_the_filter_would_not_apply_is_a_400(api_client, url, attr, code):
    response = api_client.get(url)

    assert response.status_code == 400, response.content
    assert [(e["attr"], e["code"]) for e in response.json()["errors"]] == [(attr, code)]


def test_list_parameters_may_repeat_and_booleans_take_true_or_false(api_client, organization):
    for status in ("failed", "success", "pending"):
        GenerationFactory(organization=organization, status=status)

    both = api_client.get("/api/v1/generations/?status=failed&status=success")

    assert both.status_code == 200, both.content
    assert sorted(row["status"] for row in both.json()["results"]) == ["failed", "success"]
    for value in ("true", "false", "True", ""):
        assert api_client.get(f"/api/v1/usage/?slow={value}").status_code == 200


@pytest.mark.parametrize(
    ("url", "payload", "attr"),
    [
        ("/api/v1/style-guides/", {"kind": "brand", "vertical": "", "name": "G", "slug": "g"}, "vertical"),
        ("/api/v1/generations/", generation(campaign=""), "campaign"),
    ],
)
def test_an_empty_string_for_a_related_row_is_a_400_not_null(admin_api_client, url, payload, attr):
    """DRF reads "" as null for related fields (a form's empty select); JSON has null for that."""
    before = written()

    response = admin_api_client.post(url, payload, format="json")

    assert response.status_code == 400, response.content
    assert [(e["attr"], e["code"]) for e in response.json()["errors"]] == [(attr, "blank")]
    assert written() == before


@pytest.mark.parametrize(("raw", "got"), [("[]", "list"), ('"x"', "str"), ("7", "int")])
def test_a_body_that_is_not_an_object_is_a_400_in_json_words(api_client, raw, got):
    response = api_client.generic("POST", "/api/v1/generations/", raw, content_type="application/json")

    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["detail"] == f"Invalid data. Expected a dictionary, but got {got}."
    assert not Generation.all_objects.exists()


def test_every_bad_filter_value_is_named_in_one_answer(api_client):
    response = api_client.get("/api/v1/usage/?slow=1&status_code=0.5")

    assert response.status_code == 400, response.content
    assert sorted(e["attr"] for e in response.json()["errors"]) == ["slow", "status_code"]


def test_a_boolean_a_view_reads_itself_takes_true_or_false(api_client, organization):
    guide = StyleGuideFactory(organization=organization)
    url = f"/api/v1/style-guides/{guide.pk}/effective/"

    refused = api_client.get(f"{url}?draft=maybe")

    assert refused.status_code == 400, refused.content
    assert [(e["attr"], e["code"]) for e in refused.json()["errors"]] == [("draft", "invalid")]
    for value in ("true", "false", ""):
        assert api_client.get(f"{url}?draft={value}").status_code == 200


@pytest.mark.parametrize("request_id", [" r-1", "r-1 ", "r-1\n", "\tr-1", "   "])
@pytest.mark.parametrize(
    ("url", "body", "attr"),
    [
        ("/api/v1/generations/", lambda rid: generation(request_id=rid), "request_id"),
        ("/api/v1/usage/", lambda rid: provider_call(request_id=rid), "request_id"),
        (
            "/api/v1/generations/bulk/",
            lambda rid: {"items": [generation(request_id=rid)]},
            "items.0.request_id",
        ),
        (
            "/api/v1/generations/bulk/",
            lambda rid: {
                "items": [generation(request_id="p"), generation(request_id="c", parent_request_id=rid)]
            },
            "items.1.parent_request_id",
        ),
    ],
    ids=["generation", "provider-call", "bulk-item", "bulk-parent"],
)
def test_a_request_id_with_whitespace_at_an_end_is_a_400_not_trimmed(api_client, url, body, attr, request_id):
    """A request id is the key a row is recorded under: trimmed, ``"r-1 "`` would have been
    answered as the replay of ``"r-1"``, and the row's key would differ from the client's."""
    before = written()

    response = api_client.post(url, body(request_id), format="json")

    assert response.status_code == 400, response.content
    error = response.json()["errors"][0]
    assert error["attr"] == attr
    assert error["code"] in {"padded", "blank"}, error
    assert written() == before


def test_a_request_id_with_whitespace_inside_is_kept_exactly(api_client):
    first = api_client.post("/api/v1/generations/", generation(request_id="order 42"), format="json")
    branch = api_client.post(
        f"/api/v1/generations/{first.json()['id']}/branch/", {"request_id": " b"}, format="json"
    )

    assert first.status_code == 201, first.content
    assert Generation.objects.get(pk=first.json()["id"]).request_id == "order 42"
    assert (branch.status_code, branch.json()["errors"][0]["code"]) == (400, "padded")
