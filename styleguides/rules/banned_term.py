"""``banned_term``: ``{"terms": ["cure", "miracle"], "case_sensitive": false, "whole_word": true}``.

Every occurrence is a violation. Whole-word matching uses Unicode letter and digit boundaries:
"cure" matches "Cure," and "CURE" but not "secure"."""

from __future__ import annotations

from styleguides.rules import register
from styleguides.rules.base import TermListKind


@register("banned_term", "Banned term", position=10)
class BannedTerm(TermListKind):
    def check(self, checker, rule, statistics):
        return [
            checker.violation(rule, f'Avoid "{match.group()}".', *match.span())
            for _, pattern in self.patterns(rule.parameters)
            for match in pattern.finditer(checker.text)
        ]
