"""The compliance check: a table of texts against rules of every type (inherited ones included),
with exact spans; parameter validation when rules are saved; the API endpoint."""

import time
import unicodedata

import pytest
from django.core.exceptions import ValidationError

from styleguides import services
from styleguides.compliance import EffectiveRule, check_text, highlight_segments, validate_rule_parameters
from styleguides.flesch_kincaid import grade_level, sentence_spans, syllable_count
from styleguides.models import BrandRule
from tenancy.models import AuditEvent
from tests.styleguides.factories import StyleGuideFactory

pytestmark = pytest.mark.django_db


def span(text: str, needle: str, nth: int = 0) -> tuple[int, int]:
    """(start, end) of the nth occurrence of ``needle`` in the NFC form of ``text``."""
    text = unicodedata.normalize("NFC", text)
    start = -1
    for _ in range(nth + 1):
        start = text.index(needle, start + 1)
    return start, start + len(needle)


def add_rule(guide, name, rule_type, parameters, severity="error", **fields):
    return services.brand_rule_create(
        organization=guide.organization,
        guide=guide,
        name=name,
        rule_type=rule_type,
        parameters=parameters,
        severity=severity,
        **fields,
    )


@pytest.fixture
def guide(organization):
    """A brand guide inheriting two rules from its parent guide."""
    parent = StyleGuideFactory(organization=organization, name="Parent", slug="parent")
    add_rule(parent, "No cure", "banned_term", {"terms": ["cure"]})
    add_rule(parent, "Sentence length", "max_sentence_length", {"max_words": 12}, "warning")
    child = StyleGuideFactory(organization=organization, parent=parent, banned_terms=["synergy"])
    add_rule(child, "Required CTA", "required_phrase", {"phrases": ["book direct"]}, "warning")
    add_rule(child, "Max length", "max_length", {"limit": 120, "unit": "characters"})
    add_rule(child, "Min length", "min_length", {"limit": 3, "unit": "words"}, "warning")
    add_rule(child, "Percent off", "regex", {"pattern": r"\d+% off"})
    add_rule(child, "Reading level", "reading_level", {"max_grade": 10}, "warning")
    add_rule(child, "No café", "banned_term", {"terms": ["café"]})
    return child


LONG = "Book direct. " + "Stay longer. " * 10
EMOJI = "Book direct now. " + "👍🏽" * 100
SENTENCE = "We would love to welcome you and your family to our little hotel by the sea this summer."
HARD = (
    "Book direct. Comprehensive institutional accommodation necessitates "
    "extraordinary organizational capabilities."
)

CASES = [
    # (id, text, expected violations as (rule, start, end) with None spans for whole-text ones, passed)
    ("clean", "Book direct for the best rate.", set(), True),
    ("inherited banned term", "Book direct: our balm will cure you.", {("No cure", "cure")}, False),
    ("capitalised with comma", "Book direct. Cure, naturally.", {("No cure", "Cure")}, False),
    ("shouting", "BOOK DIRECT. CURE GUARANTEED.", {("No cure", "CURE")}, False),
    ("not inside other words", "Book direct. A secure, curated stay.", set(), True),
    ("not inside a longer word", "Book direct. Procure a room.", set(), True),
    ("before an apostrophe", "Book direct. The cure's secret.", {("No cure", "cure")}, False),
    (
        "guide's own banned list",
        "Book direct. Synergy matters.",
        {("Banned term: synergy", "Synergy")},
        False,
    ),
    ("missing required phrase is a warning", "Visit us soon, friends.", {("Required CTA", None)}, True),
    ("required phrase across a line break", "Book\ndirect, friends.", set(), True),
    ("regex", "Book direct today and save 20% off everything.", {("Percent off", "20% off")}, False),
    ("too long: the excess is the span", LONG, {("Max length", (120, len(LONG)))}, False),
    ("emoji count once", EMOJI, set(), True),
    ("too short", "Book direct.", {("Min length", None)}, True),
    ("inherited sentence length", f"Book direct. {SENTENCE}", {("Sentence length", SENTENCE)}, True),
    ("reading level", HARD, {("Reading level", None)}, True),
    ("unicode term", "Book direct. Our Café opens at 7.", {("No café", "Café")}, False),
    (
        "decomposed input is normalised",
        "Book direct. Our Cafe\u0301 opens at 7.",
        {("No café", "Café")},
        False,
    ),
    (
        "several at once",
        "Book direct. Cure and cure again, 50% off!",
        {("No cure", "Cure"), ("No cure", "cure"), ("Percent off", "50% off")},
        False,
    ),
]


def expected_spans(text, expected):
    resolved = set()
    for rule, where in expected:
        if where is None:
            resolved.add((rule, None, None))
        elif isinstance(where, tuple) and isinstance(where[0], int):
            resolved.add((rule, *where))
        elif isinstance(where, tuple):
            resolved.add((rule, *span(text, where[0], where[1])))
        else:
            resolved.add((rule, *span(text, where)))
    return resolved


@pytest.mark.parametrize(
    ("text", "expected", "passed"), [case[1:] for case in CASES], ids=[c[0] for c in CASES]
)
def test_text_against_rules_of_every_type(guide, text, expected, passed):
    result = services.style_guide_check(
        organization=guide.organization, guide=guide, text=text, version="draft"
    )
    found = {(v.rule, v.start, v.end) for v in result.violations}
    assert found == expected_spans(text, expected)
    assert result.passed is passed
    normalised = unicodedata.normalize("NFC", text)
    for violation in result.violations:
        if violation.start is not None:
            assert normalised[violation.start : violation.end] == violation.excerpt


def test_the_table_covers_every_rule_type_and_both_severities(guide):
    rule_types = set(
        BrandRule.objects.filter(guide__in=[guide, guide.parent]).values_list("rule_type", flat=True)
    )
    assert rule_types == {
        "banned_term",
        "required_phrase",
        "max_length",
        "min_length",
        "regex",
        "max_sentence_length",
        "reading_level",
    }
    assert len(CASES) >= 15


def test_violation_carries_rule_severity_message_and_source_guide(guide):
    result = services.style_guide_check(
        organization=guide.organization, guide=guide, text="Book direct. Cure it.", version="draft"
    )
    (violation,) = result.violations
    rule = BrandRule.objects.get(name="No cure")
    assert violation.rule_id == rule.pk
    assert violation.guide_id == guide.parent_id
    assert violation.severity == "error"
    assert violation.message == 'Avoid "Cure".'


def test_child_rule_of_the_same_name_overrides_and_inactive_switches_off(guide):
    add_rule(guide, "No cure", "banned_term", {"terms": ["cure"]}, "warning", message="Careful with cure.")
    result = services.style_guide_check(
        organization=guide.organization, guide=guide, text="Book direct. Cure it.", version="draft"
    )
    assert [(v.severity, v.message) for v in result.violations] == [("warning", "Careful with cure.")]
    assert result.passed

    services.brand_rule_update(
        organization=guide.organization,
        instance=BrandRule.objects.get(guide=guide, name="No cure"),
        is_active=False,
    )
    result = services.style_guide_check(
        organization=guide.organization, guide=guide, text="Book direct. Cure it.", version="draft"
    )
    assert result.violations == []


def test_published_check_uses_published_rules_not_draft_edits(guide):
    services.style_guide_publish(organization=guide.organization, guide=guide.parent)
    services.style_guide_publish(organization=guide.organization, guide=guide)
    add_rule(guide, "Draft only", "banned_term", {"terms": ["balm"]})
    text = "Book direct: our balm will cure you."
    published = services.style_guide_check(organization=guide.organization, guide=guide, text=text)
    draft = services.style_guide_check(
        organization=guide.organization, guide=guide, text=text, version="draft"
    )
    assert {v.rule for v in published.violations} == {"No cure"}
    assert {v.rule for v in draft.violations} == {"No cure", "Draft only"}
    assert published.guide_version_ids == [guide.versions.get().pk, guide.parent.versions.get().pk]
    assert not published.draft and draft.draft


def test_regex_require_mode_and_case_options():
    rules = [
        EffectiveRule(
            "Has a link",
            "regex",
            validate_rule_parameters("regex", {"pattern": r"https://\S+", "mode": "require"}),
            "error",
        ),
        EffectiveRule(
            "Brand capitalised",
            "banned_term",
            validate_rule_parameters("banned_term", {"terms": ["inkwell"], "case_sensitive": True}),
            "error",
        ),
        EffectiveRule(
            "Prefix",
            "banned_term",
            validate_rule_parameters("banned_term", {"terms": ["eco"], "whole_word": False}),
            "warning",
        ),
    ]
    result = check_text("Try inkwell and Inkwell, ecological.", rules)
    found = {(v.rule, v.start, v.end) for v in result.violations}
    assert found == {("Has a link", None, None), ("Brand capitalised", 4, 11), ("Prefix", 25, 28)}
    assert check_text("See https://example.com now, Inkwell.", rules[:2]).passed


@pytest.mark.parametrize(
    ("rule_type", "parameters", "message"),
    [
        ("regex", {"pattern": "(unclosed"}, "Invalid regular expression"),
        ("regex", {"pattern": "[z-a]"}, "Invalid regular expression"),
        ("regex", {"pattern": "a*"}, "matches empty text"),
        ("regex", {"pattern": ""}, "non-empty"),
        # Unrolled when compiled: gigabytes from 13 characters (a worker's memory).
        ("regex", {"pattern": "a{1000000000}"}, "multiply to more than"),
        ("regex", {"pattern": "(a{200}){200}"}, "multiply to more than"),
        ("regex", {"pattern": "x{3,99999999999999999999}"}, "multiply to more than"),
        ("banned_term", {"terms": []}, "non-empty list"),
        ("banned_term", {"terms": ["ok", ""]}, "non-empty text"),
        ("banned_term", {"terms": ["x"], "colour": "red"}, "Unknown parameter"),
        ("max_length", {"limit": 0}, "at least 1"),
        ("max_length", {"limit": 10, "unit": "pages"}, "one of"),
        ("min_length", {}, "at least 1"),
        ("max_sentence_length", {"max_words": "twenty"}, "at least 1"),
        ("reading_level", {}, "max_grade"),
        ("reading_level", {"max_grade": 6, "min_grade": 9}, "cannot be above"),
        ("required_phrase", {"phrases": ["x"], "match": "most"}, "'all' or 'any'"),
    ],
)
def test_bad_rule_parameters_are_refused_when_saved_and_nothing_is_written(
    organization, rule_type, parameters, message
):
    guide = StyleGuideFactory(organization=organization)
    with pytest.raises(ValidationError) as caught:
        add_rule(guide, "Bad", rule_type, parameters)
    assert message in str(caught.value.message_dict["parameters"])
    assert not BrandRule.objects.filter(guide=guide).exists()


def test_highlight_segments_merge_overlaps_errors_winning():
    rules = [
        EffectiveRule(
            "A", "banned_term", {"terms": ["big cat"], "case_sensitive": False, "whole_word": True}, "warning"
        ),
        EffectiveRule(
            "B", "banned_term", {"terms": ["cat"], "case_sensitive": False, "whole_word": True}, "error"
        ),
    ]
    text = "A big cat sat."
    segments = highlight_segments(text, check_text(text, rules).violations)
    assert [(s.text, s.severity) for s in segments] == [
        ("A ", None),
        ("big ", "warning"),
        ("cat", "error"),
        (" sat.", None),
    ]
    assert "".join(s.text for s in segments) == text


@pytest.mark.parametrize(
    ("word", "syllables"),
    [
        ("cat", 1),
        ("make", 1),
        ("table", 2),
        ("water", 2),
        ("beautiful", 3),
        ("played", 1),
        ("tasted", 2),
        ("café", 2),
    ],
)
def test_syllable_heuristic(word, syllables):
    assert syllable_count(word) == syllables


def test_flesch_kincaid_grade_orders_texts_by_difficulty():
    easy = "The cat sat on the mat. It was warm. We had tea."
    hard = (
        "Institutional accommodation necessitates comprehensive organizational capabilities, "
        "particularly regarding interdepartmental communication infrastructure."
    )
    assert grade_level(easy) < 3
    assert grade_level(hard) > 16
    assert grade_level("") is None
    assert sentence_spans("One. Two!\n- Three") == [(0, 4), (5, 9), (10, 17)]


def test_check_endpoint_returns_violations_spans_and_verdict(api_client, organization, guide):
    text = "Book direct: our balm will cure you."
    response = api_client.post(
        f"/api/v1/style-guides/{guide.pk}/check/", {"text": text, "version": "draft"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["passed"] is False
    assert body["error_count"] == 1
    (violation,) = body["violations"]
    assert violation["rule"] == "No cure"
    assert violation["severity"] == "error"
    assert (violation["start"], violation["end"]) == span(text, "cure")
    assert body["statistics"]["words"] == 7
    assert body["draft"] is True


def test_check_works_on_global_guides_and_for_viewer_keys(viewer_api_client, healthcare_guide):
    response = viewer_api_client.post(
        f"/api/v1/style-guides/{healthcare_guide.pk}/check/", {"text": "It cures everything."}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["violations"][0]["rule"] == "Medical claims"
    assert response.json()["guide_version_ids"] == [
        healthcare_guide.versions.get().pk,
        healthcare_guide.parent.versions.get().pk,
    ]


@pytest.mark.parametrize(
    ("payload", "attr"),
    [
        ({}, "text"),
        ({"text": "x", "version": "latest"}, "version"),
        ({"text": "x", "version": 0}, "version"),
        # Read as version 1 before: a number in a string, a fraction truncated.
        ({"text": "x", "version": "1"}, "version"),
        ({"text": "x", "version": 1.9}, "version"),
    ],
)
def test_check_endpoint_refuses_bad_input(api_client, guide, payload, attr):
    response = api_client.post(f"/api/v1/style-guides/{guide.pk}/check/", payload, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == attr


def test_check_of_another_tenants_guide_is_404(other_api_client, guide):
    assert (
        other_api_client.post(
            f"/api/v1/style-guides/{guide.pk}/check/", {"text": "x"}, format="json"
        ).status_code
        == 404
    )


def test_counted_repetitions_within_the_bound_are_kept():
    parameters = validate_rule_parameters("regex", {"pattern": r"[A-Z]{2}\d{4,6}(-\d{1,3}){0,2}"})
    rule = EffectiveRule("Codes", "regex", parameters, "error")
    assert check_text("Order AB12345-12 shipped.", [rule]).passed is False


# --- The check's time budget ----------------------------------------------------------------

# Backtracks exponentially on a run of "a"s not followed by the end: each search takes the
# pattern's whole time limit (REGEX_TIMEOUT_SECONDS).
CATASTROPHIC = r"(a|aa)+$"


def test_a_check_stops_running_patterns_when_its_time_budget_is_spent(
    api_client, organization, guide, settings
):
    """Twelve patterns of 0.25 s each made one check take 3 s (40 made it 10 s). With a budget
    of 0.6 s, the first patterns run to their own limit, the rest are not run: the answer comes
    within the budget, lists them in ``skipped_rules``, says ``complete: false``, and does not
    pass (a skipped error rule could have failed the text). Every other rule still runs."""
    settings.STYLEGUIDES_CHECK_TIME_BUDGET_SECONDS = 0.6
    patterns = [add_rule(guide, f"Pattern {n:02}", "regex", {"pattern": CATASTROPHIC}) for n in range(12)]
    events = AuditEvent.objects.count()

    started = time.monotonic()
    response = api_client.post(
        f"/api/v1/style-guides/{guide.pk}/check/",
        {"text": "Book direct: it will cure you. " + "a" * 40 + "b", "version": "draft"},
        format="json",
    )
    elapsed = time.monotonic() - started

    assert response.status_code == 200, response.content
    body = response.json()
    assert elapsed < 1.5
    assert body["complete"] is False
    assert body["passed"] is False
    skipped = body["skipped_rules"]
    assert 8 <= len(skipped) <= 11
    assert skipped == [
        {
            "rule": rule.name,
            "rule_type": "regex",
            "severity": "error",
            "rule_id": rule.pk,
            "guide_id": guide.pk,
        }
        for rule in patterns[-len(skipped) :]
    ]
    ran = {violation["rule"] for violation in body["violations"]}
    assert "No cure" in ran  # the cheap rules all ran
    assert not ran & {rule["rule"] for rule in skipped}
    assert AuditEvent.objects.count() == events


def test_a_check_within_its_budget_is_complete(api_client, guide):
    response = api_client.post(
        f"/api/v1/style-guides/{guide.pk}/check/", {"text": "Book direct.", "version": "draft"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert (response.json()["complete"], response.json()["skipped_rules"]) == (True, [])


@pytest.mark.parametrize(("severity", "passed"), [("warning", True), ("error", False)])
def test_only_a_skipped_error_rule_fails_the_text(severity, passed):
    rules = [
        EffectiveRule("Pattern", "regex", validate_rule_parameters("regex", {"pattern": "cure"}), severity),
        EffectiveRule(
            "No hype", "banned_term", validate_rule_parameters("banned_term", {"terms": ["hype"]}), "error"
        ),
    ]
    result = check_text("A cure.", rules, time_budget_seconds=0)
    assert result.violations == []
    assert [skipped.rule for skipped in result.skipped_rules] == ["Pattern"]
    assert (result.complete, result.passed) == (False, passed)
