"""``min_length``: ``{"limit": 50, "unit": "characters" | "words"}``; a violation has no span.

Same parameters, admin fields and validation as ``max_length``; only the check differs."""

from __future__ import annotations

from styleguides.rules import register
from styleguides.rules.max_length import MaxLength


@register("min_length", "Minimum length", position=40)
class MinLength(MaxLength):
    def check(self, checker, rule, statistics):
        p = rule.parameters
        count, limit = checker.length(p["unit"]), p["limit"]
        if count >= limit:
            return []
        return [checker.violation(rule, f"{count} {p['unit']}; at least {limit} needed.")]
