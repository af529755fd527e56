"""``min_length``: ``{"limit": 50, "unit": "characters" | "words"}``; a violation has no span."""

from __future__ import annotations

from styleguides.choices import RuleType
from styleguides.rules import register
from styleguides.rules.base import LIMIT_FIELD, RuleKind
from styleguides.rules.max_length import UNIT_FIELD, validate_length


@register
class MinLength(RuleKind):
    type = RuleType.MIN_LENGTH.value
    label = RuleType.MIN_LENGTH.label
    admin_fields = {"limit": LIMIT_FIELD, "unit": UNIT_FIELD}
    error_field = "limit"
    position = 40

    def validate(self, parameters):
        return validate_length(parameters)

    def check(self, checker, rule, statistics):
        p = rule.parameters
        count, limit = checker.length(p["unit"]), p["limit"]
        if count >= limit:
            return []
        return [checker.violation(rule, f"{count} {p['unit']}; at least {limit} needed.")]
