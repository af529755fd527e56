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

Time budget
-----------
Tenants write patterns, and a guide may hold many: each runs with its own time limit, and the
whole check with ``settings.STYLEGUIDES_CHECK_TIME_BUDGET_SECONDS`` (2 s unless the
environment says otherwise, ``config.settings.base``). Once the budget is spent, a rule whose cost the tenant
decides (a ``regex``) is not run, or is stopped, and is listed in ``skipped_rules``; the result
is then not ``complete``, and it does not pass if a skipped rule has severity ``error`` (it could
have failed the text). The other rules' cost is bounded by their parameters and the text's
length, so they always run.
"""

from __future__ import annotations

import itertools
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import regex
from django.conf import settings
from django.core.exceptions import ValidationError

from styleguides.choices import LengthUnit, Severity
from styleguides.flesch_kincaid import TextStatistics, text_statistics, word_spans
from styleguides.rules import rule_kind
from styleguides.rules.banned_term import BannedTerm
from styleguides.rules.base import OutOfTime, parameter_error
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


@dataclass(frozen=True)
class SkippedRule:
    """A rule the check did not run to the end because its time budget was spent."""

    rule: str
    rule_type: str
    severity: str
    rule_id: int | None
    guide_id: int | None

    @classmethod
    def of(cls, rule: EffectiveRule) -> SkippedRule:
        return cls(
            rule=rule.name,
            rule_type=rule.rule_type,
            severity=rule.severity,
            rule_id=rule.rule_id,
            guide_id=rule.guide_id,
        )


@dataclass
class CheckResult:
    """Every violation (in text order, span-less ones last), the verdict, the text's statistics,
    and the rules not run for lack of time (in the order they came)."""

    passed: bool
    violations: list[Violation]
    statistics: TextStatistics
    characters: int
    guide_version_ids: list[int] = field(default_factory=list)
    draft: bool = False
    skipped_rules: list[SkippedRule] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Whether every rule was run (the time budget was not spent first)."""
        return not self.skipped_rules

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
            "complete": self.complete,
            "skipped_rules": [asdict(skipped) for skipped in self.skipped_rules],
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
    """The text being checked, with its grapheme and word offsets computed once for every rule,
    and the moment (``time.monotonic()``) the check's time budget ends."""

    def __init__(self, text: str, *, deadline: float):
        self.text = text
        self.deadline = deadline
        self._graphemes: list[int] | None = None
        self._words: list[tuple[int, int]] | None = None

    def time_limit(self, own_limit: float) -> float:
        """How long a costly step may run: ``own_limit``, or what is left of the budget when
        less. Raises :class:`~styleguides.rules.base.OutOfTime` when nothing is left."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise OutOfTime
        return min(own_limit, left)

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


def check_text(
    text: str, rules: Iterable[EffectiveRule], *, time_budget_seconds: float | None = None
) -> CheckResult:
    """Check ``text`` against ``rules``; every violation with its span, and a pass/fail verdict.

    The rules share ``time_budget_seconds`` (default: the setting
    ``STYLEGUIDES_CHECK_TIME_BUDGET_SECONDS``), counted from this call: a rule that could not run
    within it is listed in ``skipped_rules`` (see the module docstring), and the text passes only
    if none of those has severity ``error``.
    """
    budget = (
        settings.STYLEGUIDES_CHECK_TIME_BUDGET_SECONDS if time_budget_seconds is None else time_budget_seconds
    )
    checker = _Checker(unicodedata.normalize("NFC", text), deadline=time.monotonic() + budget)
    statistics = text_statistics(checker.text)
    violations: list[Violation] = []
    skipped: list[SkippedRule] = []
    for rule in rules:
        try:
            violations += checker.check(rule, statistics)
        except OutOfTime:
            skipped.append(SkippedRule.of(rule))
    violations.sort(key=lambda v: (v.start is None, v.start or 0, v.end or 0, v.rule))
    passed = not any(item.severity == Severity.ERROR for item in (*violations, *skipped))
    return CheckResult(
        passed=passed,
        violations=violations,
        statistics=statistics,
        characters=len(checker.grapheme_starts),
        skipped_rules=skipped,
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
