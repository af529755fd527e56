"""The compliance check: brand rules, their parameters, and checking a text against them.

Rule types and their ``parameters``
-----------------------------------
=====================  ==========================================================================
banned_term            ``{"terms": ["cure", "miracle"], "case_sensitive": false, "whole_word": true}``
                       every occurrence is a violation. Whole-word matching uses Unicode letter
                       and digit boundaries: "cure" matches "Cure," and "CURE" but not "secure".
required_phrase        ``{"phrases": ["book direct"], "match": "all" | "any", "case_sensitive":
                       false, "whole_word": true}``: each missing phrase ("all") or the lack of
                       every phrase ("any") is a violation without a span.
max_length             ``{"limit": 280, "unit": "characters" | "words"}``: the span covers the
                       part past the limit. Characters are user-perceived characters (grapheme
                       clusters), so an emoji or an accented letter counts once.
min_length             ``{"limit": 50, "unit": "characters" | "words"}``: no span.
regex                  ``{"pattern": "\\b\\d+% off\\b", "ignore_case": false, "mode": "forbid" |
                       "require"}``: forbid reports each match; require reports a text with none.
                       The pattern is compiled when the rule is saved (a bad one is refused then)
                       and runs with a time limit, since tenants write it.
max_sentence_length    ``{"max_words": 25}``: each longer sentence, with its span.
reading_level          ``{"max_grade": 8, "min_grade": 4}`` (either or both): Flesch-Kincaid
                       grade (``styleguides.flesch_kincaid``); no span.
=====================  ==========================================================================

A guide's own ``banned_terms`` and ``required_terms`` lists act as extra rules: each banned term
as a whole-word, case-insensitive ``banned_term`` error, each required term as a
``required_phrase`` warning.

Spans are ``[start, end)`` offsets into the checked text after Unicode NFC normalisation (what
almost every client sends anyway), so ``text[start:end]`` is the offending part. A text passes
when it has no violation of severity ``error``; warnings are reported but do not fail it.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import regex
from django.core.exceptions import ValidationError

from styleguides.choices import LengthUnit, RegexMode, RuleType, Severity
from styleguides.flesch_kincaid import TextStatistics, sentence_spans, text_statistics, word_spans
from styleguides.text_safety import refuse_nul

MAX_TERMS = 200
MAX_TERM_LENGTH = 100
MAX_PATTERN_LENGTH = 500
REGEX_TIMEOUT_SECONDS = 0.25
# Letters, digits and the underscore are "word" characters for whole-word matching.
_BEFORE = r"(?<![\p{L}\p{N}_])"
_AFTER = r"(?![\p{L}\p{N}_])"
GRAPHEME = regex.compile(r"\X")


# --- Parameters -----------------------------------------------------------------------------


def _error(message: str) -> ValidationError:
    return ValidationError({"parameters": message})


def _require_keys(parameters: dict, allowed: set[str]) -> None:
    unknown = sorted(set(parameters) - allowed)
    if unknown:
        raise _error(f"Unknown parameter(s): {', '.join(unknown)}. Allowed: {', '.join(sorted(allowed))}.")


def _boolean(parameters: dict, name: str, default: bool) -> bool:
    value = parameters.get(name, default)
    if not isinstance(value, bool):
        raise _error(f"'{name}' must be true or false.")
    return value


def _positive_int(parameters: dict, name: str) -> int:
    value = parameters.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _error(f"'{name}' must be a whole number of at least 1.")
    return value


def _choice(parameters: dict, name: str, choices: type, default: str) -> str:
    value = parameters.get(name, default)
    if value not in choices.values:
        raise _error(f"'{name}' must be one of: {', '.join(choices.values)}.")
    return value


def _terms(parameters: dict, plural: str, singular: str) -> list[str]:
    raw = parameters.get(plural)
    if raw is None and singular in parameters:
        raw = [parameters[singular]]
    if not isinstance(raw, list) or not raw:
        raise _error(f"'{plural}' must be a non-empty list of words or phrases.")
    if len(raw) > MAX_TERMS:
        raise _error(f"'{plural}' may hold at most {MAX_TERMS} entries.")
    terms = []
    for term in raw:
        if not isinstance(term, str) or not term.strip():
            raise _error(f"Every entry of '{plural}' must be non-empty text.")
        if len(term) > MAX_TERM_LENGTH:
            raise _error(f"'{term[:20]}…' is longer than {MAX_TERM_LENGTH} characters.")
        terms.append(unicodedata.normalize("NFC", term.strip()))
    return terms


def _grade(parameters: dict, name: str) -> float | None:
    value = parameters.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 30:
        raise _error(f"'{name}' must be a grade between 0 and 30.")
    return value


def compile_pattern(pattern: str, *, ignore_case: bool = False) -> regex.Pattern:
    """Compile a tenant's pattern, Unicode-aware; raises ``ValidationError`` naming the problem."""
    flags = regex.UNICODE | (regex.IGNORECASE if ignore_case else 0)
    try:
        return regex.compile(pattern, flags)
    except (regex.error, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise _error(f"Invalid regular expression: {exc}.") from exc


def validate_rule_parameters(rule_type: str, parameters: Any) -> dict:
    """Check a rule's ``parameters`` for its type; return them normalised (defaults filled in).

    Raises ``ValidationError`` on the ``parameters`` field, so a bad rule (an invalid regex, a
    missing limit) is refused when it is saved, never discovered when a text is checked.
    """
    if not isinstance(parameters, dict):
        raise _error("Parameters must be an object.")
    refuse_nul(parameters, attr="parameters")
    if rule_type == RuleType.BANNED_TERM:
        _require_keys(parameters, {"terms", "term", "case_sensitive", "whole_word"})
        return {
            "terms": _terms(parameters, "terms", "term"),
            "case_sensitive": _boolean(parameters, "case_sensitive", False),
            "whole_word": _boolean(parameters, "whole_word", True),
        }
    if rule_type == RuleType.REQUIRED_PHRASE:
        _require_keys(parameters, {"phrases", "phrase", "match", "case_sensitive", "whole_word"})
        match = parameters.get("match", "all")
        if match not in ("all", "any"):
            raise _error("'match' must be 'all' or 'any'.")
        return {
            "phrases": _terms(parameters, "phrases", "phrase"),
            "match": match,
            "case_sensitive": _boolean(parameters, "case_sensitive", False),
            "whole_word": _boolean(parameters, "whole_word", True),
        }
    if rule_type in (RuleType.MAX_LENGTH, RuleType.MIN_LENGTH):
        _require_keys(parameters, {"limit", "unit"})
        return {
            "limit": _positive_int(parameters, "limit"),
            "unit": _choice(parameters, "unit", LengthUnit, LengthUnit.CHARACTERS),
        }
    if rule_type == RuleType.REGEX:
        _require_keys(parameters, {"pattern", "ignore_case", "mode"})
        pattern = parameters.get("pattern")
        if not isinstance(pattern, str) or not pattern:
            raise _error("'pattern' must be a non-empty regular expression.")
        if len(pattern) > MAX_PATTERN_LENGTH:
            raise _error(f"'pattern' may be at most {MAX_PATTERN_LENGTH} characters.")
        ignore_case = _boolean(parameters, "ignore_case", False)
        compiled = compile_pattern(pattern, ignore_case=ignore_case)
        if compiled.search("", timeout=REGEX_TIMEOUT_SECONDS) is not None:
            raise _error("'pattern' matches empty text, so it would match everywhere.")
        return {
            "pattern": pattern,
            "ignore_case": ignore_case,
            "mode": _choice(parameters, "mode", RegexMode, RegexMode.FORBID),
        }
    if rule_type == RuleType.MAX_SENTENCE_LENGTH:
        _require_keys(parameters, {"max_words"})
        return {"max_words": _positive_int(parameters, "max_words")}
    if rule_type == RuleType.READING_LEVEL:
        _require_keys(parameters, {"max_grade", "min_grade"})
        max_grade, min_grade = _grade(parameters, "max_grade"), _grade(parameters, "min_grade")
        if max_grade is None and min_grade is None:
            raise _error("Give 'max_grade', 'min_grade' or both.")
        if max_grade is not None and min_grade is not None and min_grade > max_grade:
            raise _error("'min_grade' cannot be above 'max_grade'.")
        return {
            key: value
            for key, value in (("max_grade", max_grade), ("min_grade", min_grade))
            if value is not None
        }
    raise ValidationError({"rule_type": f"Unknown rule type '{rule_type}'."})


# --- Checking -------------------------------------------------------------------------------


@dataclass(frozen=True)
class EffectiveRule:
    """A rule as a check applies it: from a guide's draft, a published version, or a term list."""

    name: str
    rule_type: str
    parameters: dict
    severity: str
    message: str = ""
    rule_id: int | None = None
    guide_id: int | None = None


@dataclass(frozen=True)
class Violation:
    """One breach of one rule. ``start``/``end`` are ``None`` when no part of the text is at fault
    (a missing phrase, a text too short)."""

    rule: str
    rule_type: str
    severity: str
    message: str
    start: int | None
    end: int | None
    excerpt: str
    rule_id: int | None
    guide_id: int | None


@dataclass
class CheckResult:
    """Every violation (in text order, span-less ones last), the verdict and the text's statistics."""

    passed: bool
    violations: list[Violation]
    statistics: TextStatistics
    characters: int
    guide_version_ids: list[int] = field(default_factory=list)
    draft: bool = False

    @property
    def error_count(self) -> int:
        return sum(1 for violation in self.violations if violation.severity == Severity.ERROR)

    @property
    def warning_count(self) -> int:
        return sum(1 for violation in self.violations if violation.severity == Severity.WARNING)

    def as_dict(self) -> dict:
        return {
            "passed": self.passed,
            "error_count": self.error_count,
            "warning_count": self.warning_count,
            "violations": [asdict(violation) for violation in self.violations],
            "statistics": {
                "characters": self.characters,
                "words": self.statistics.words,
                "sentences": self.statistics.sentences,
                "reading_grade": self.statistics.grade,
            },
            "guide_version_ids": self.guide_version_ids,
            "draft": self.draft,
        }


def term_pattern(term: str, *, case_sensitive: bool, whole_word: bool) -> regex.Pattern:
    """A pattern for a literal term: spaces match any whitespace; whole words use Unicode
    letter/digit boundaries (so "cure" never matches inside "secure")."""
    body = r"\s+".join(regex.escape(part) for part in term.split())
    if whole_word:
        body = f"{_BEFORE}{body}{_AFTER}"
    return regex.compile(body, regex.UNICODE | (0 if case_sensitive else regex.IGNORECASE))


def term_rules_of_lists(
    banned_terms: Iterable[str], required_terms: Iterable[str], *, guide_id: int | None = None
) -> list[EffectiveRule]:
    """The implicit rules of a guide's ``banned_terms`` (errors) and ``required_terms`` (warnings)."""
    rules = [
        EffectiveRule(
            name=f"Banned term: {term}",
            rule_type=RuleType.BANNED_TERM,
            parameters={"terms": [term], "case_sensitive": False, "whole_word": True},
            severity=Severity.ERROR,
            guide_id=guide_id,
        )
        for term in banned_terms
    ]
    rules += [
        EffectiveRule(
            name=f"Required term: {term}",
            rule_type=RuleType.REQUIRED_PHRASE,
            parameters={"phrases": [term], "match": "all", "case_sensitive": False, "whole_word": True},
            severity=Severity.WARNING,
            guide_id=guide_id,
        )
        for term in required_terms
    ]
    return rules


class _Checker:
    def __init__(self, text: str):
        self.text = text
        self._graphemes: list[int] | None = None
        self._words: list[tuple[int, int]] | None = None

    @property
    def grapheme_starts(self) -> list[int]:
        if self._graphemes is None:
            self._graphemes = [match.start() for match in GRAPHEME.finditer(self.text)]
        return self._graphemes

    @property
    def words(self) -> list[tuple[int, int]]:
        if self._words is None:
            self._words = word_spans(self.text)
        return self._words

    def violation(self, rule: EffectiveRule, default_message: str, start=None, end=None) -> Violation:
        excerpt = self.text[start:end][:200] if start is not None else ""
        return Violation(
            rule=rule.name,
            rule_type=rule.rule_type,
            severity=rule.severity,
            message=rule.message or default_message,
            start=start,
            end=end,
            excerpt=excerpt,
            rule_id=rule.rule_id,
            guide_id=rule.guide_id,
        )

    def length(self, unit: str) -> int:
        return len(self.grapheme_starts) if unit == LengthUnit.CHARACTERS else len(self.words)

    def check(self, rule: EffectiveRule, statistics: TextStatistics) -> list[Violation]:
        p = rule.parameters
        text = self.text
        if rule.rule_type == RuleType.BANNED_TERM:
            found = []
            for term in p["terms"]:
                pattern = term_pattern(term, case_sensitive=p["case_sensitive"], whole_word=p["whole_word"])
                for match in pattern.finditer(text):
                    found.append(self.violation(rule, f'Avoid "{match.group()}".', *match.span()))
            return found
        if rule.rule_type == RuleType.REQUIRED_PHRASE:
            missing = [
                phrase
                for phrase in p["phrases"]
                if not term_pattern(
                    phrase, case_sensitive=p["case_sensitive"], whole_word=p["whole_word"]
                ).search(text)
            ]
            if p["match"] == "any":
                if len(missing) == len(p["phrases"]):
                    wanted = " or ".join(f'"{phrase}"' for phrase in p["phrases"])
                    return [self.violation(rule, f"Include {wanted}.")]
                return []
            return [self.violation(rule, f'Include "{phrase}".') for phrase in missing]
        if rule.rule_type == RuleType.MAX_LENGTH:
            count, limit = self.length(p["unit"]), p["limit"]
            if count <= limit:
                return []
            start = (
                self.grapheme_starts[limit] if p["unit"] == LengthUnit.CHARACTERS else self.words[limit][0]
            )
            return [self.violation(rule, f"{count} {p['unit']}; the limit is {limit}.", start, len(text))]
        if rule.rule_type == RuleType.MIN_LENGTH:
            count, limit = self.length(p["unit"]), p["limit"]
            if count >= limit:
                return []
            return [self.violation(rule, f"{count} {p['unit']}; at least {limit} needed.")]
        if rule.rule_type == RuleType.REGEX:
            pattern = compile_pattern(p["pattern"], ignore_case=p["ignore_case"])
            try:
                if p["mode"] == RegexMode.REQUIRE:
                    if pattern.search(text, timeout=REGEX_TIMEOUT_SECONDS):
                        return []
                    return [self.violation(rule, f"Text must match the pattern {p['pattern']}.")]
                return [
                    self.violation(rule, f'"{match.group()}" is not allowed.', *match.span())
                    for match in pattern.finditer(text, timeout=REGEX_TIMEOUT_SECONDS)
                    if match.end() > match.start()
                ]
            except TimeoutError:
                return [self.violation(rule, "This rule's pattern took too long to check; simplify it.")]
        if rule.rule_type == RuleType.MAX_SENTENCE_LENGTH:
            found = []
            for start, end in sentence_spans(text):
                count = len(word_spans(text[start:end]))
                if count > p["max_words"]:
                    message = f"Sentence has {count} words; keep sentences to {p['max_words']}."
                    found.append(self.violation(rule, message, start, end))
            return found
        if rule.rule_type == RuleType.READING_LEVEL:
            grade = statistics.grade
            if grade is None:
                return []
            if "max_grade" in p and grade > p["max_grade"]:
                return [
                    self.violation(rule, f"Reads at grade {grade}; aim for grade {p['max_grade']} or below.")
                ]
            if "min_grade" in p and grade < p["min_grade"]:
                return [
                    self.violation(rule, f"Reads at grade {grade}; aim for grade {p['min_grade']} or above.")
                ]
            return []
        return []


def check_text(text: str, rules: Iterable[EffectiveRule]) -> CheckResult:
    """Check ``text`` against ``rules``; every violation with its span, and a pass/fail verdict."""
    text = unicodedata.normalize("NFC", text)
    checker = _Checker(text)
    statistics = text_statistics(text)
    violations: list[Violation] = []
    for rule in rules:
        violations += checker.check(rule, statistics)
    violations.sort(key=lambda v: (v.start is None, v.start or 0, v.end or 0, v.rule))
    passed = not any(violation.severity == Severity.ERROR for violation in violations)
    return CheckResult(
        passed=passed,
        violations=violations,
        statistics=statistics,
        characters=len(checker.grapheme_starts),
    )


@dataclass(frozen=True)
class Segment:
    """A run of the checked text for display: plain, or at fault (with the worst severity and the
    messages of every violation covering it)."""

    text: str
    severity: str | None = None
    messages: tuple[str, ...] = ()


def highlight_segments(text: str, violations: Iterable[Violation]) -> list[Segment]:
    """Cut ``text`` (as checked, NFC) into segments so overlapping violation spans can be shown as
    one highlight each, errors winning over warnings."""
    text = unicodedata.normalize("NFC", text)
    spans = [v for v in violations if v.start is not None and v.end is not None and v.end > v.start]
    cuts = sorted({0, len(text), *(v.start for v in spans), *(v.end for v in spans)})
    segments = []
    for start, end in itertools.pairwise(cuts):
        covering = [v for v in spans if v.start <= start and end <= v.end]
        if not covering:
            segments.append(Segment(text[start:end]))
            continue
        severity = Severity.ERROR if any(v.severity == Severity.ERROR for v in covering) else Severity.WARNING
        messages = tuple(dict.fromkeys(f"{v.rule}: {v.message}" for v in covering))
        segments.append(Segment(text[start:end], severity, messages))
    return segments
