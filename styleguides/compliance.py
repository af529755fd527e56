"""The compliance check: brand rules, their parameters, and checking a text against them.

Rule types and their ``parameters``
-----------------------------------
Each type is one module of :mod:`styleguides.rules` (``banned_term``, ``required_phrase``,
``max_length``, ``min_length``, ``regex``, ``max_sentence_length``, ``reading_level`` …) whose
docstring documents its parameters; this module dispatches to the registry and never names a
type, so adding one is adding a module there.

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

from styleguides.choices import LengthUnit, Severity
from styleguides.flesch_kincaid import TextStatistics, text_statistics, word_spans
from styleguides.rules import rule_kind
from styleguides.rules.banned_term import BannedTerm
from styleguides.rules.base import parameter_error
from styleguides.rules.required_phrase import RequiredPhrase
from styleguides.text_safety import refuse_nul

GRAPHEME = regex.compile(r"\X")


# --- Parameters -----------------------------------------------------------------------------


def validate_rule_parameters(rule_type: str, parameters: Any) -> dict:
    """Check a rule's ``parameters`` for its type; return them normalised (defaults filled in).

    Raises ``ValidationError`` on the ``parameters`` field, so a bad rule (an invalid regex, a
    missing limit) is refused when it is saved, never discovered when a text is checked.
    """
    if not isinstance(parameters, dict):
        raise parameter_error("Parameters must be an object.")
    refuse_nul(parameters, attr="parameters")
    kind = rule_kind(rule_type)
    if kind is None:
        raise ValidationError({"rule_type": f"Unknown rule type '{rule_type}'."})
    return kind.validate(parameters)


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


def term_rules_of_lists(
    banned_terms: Iterable[str], required_terms: Iterable[str], *, guide_id: int | None = None
) -> list[EffectiveRule]:
    """The implicit rules of a guide's ``banned_terms`` (errors) and ``required_terms`` (warnings)."""
    rules = [
        EffectiveRule(
            name=f"Banned term: {term}",
            rule_type=BannedTerm.type,
            parameters={"terms": [term], "case_sensitive": False, "whole_word": True},
            severity=Severity.ERROR,
            guide_id=guide_id,
        )
        for term in banned_terms
    ]
    rules += [
        EffectiveRule(
            name=f"Required term: {term}",
            rule_type=RequiredPhrase.type,
            parameters={"phrases": [term], "match": "all", "case_sensitive": False, "whole_word": True},
            severity=Severity.WARNING,
            guide_id=guide_id,
        )
        for term in required_terms
    ]
    return rules


class _Checker:
    """The text being checked, with its grapheme and word offsets computed once for every rule."""

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
        """Every violation of ``rule``; a type no longer registered checks nothing."""
        kind = rule_kind(rule.rule_type)
        return kind.check(self, rule, statistics) if kind is not None else []


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
