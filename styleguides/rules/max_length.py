"""``max_length``: ``{"limit": 280, "unit": "characters" | "words"}``.

The span covers the part past the limit. Characters are user-perceived characters (grapheme
clusters), so an emoji or an accented letter counts once."""

from __future__ import annotations

from django import forms

from styleguides.choices import LengthUnit
from styleguides.rules import register
from styleguides.rules.base import LIMIT_FIELD, RuleKind, choice, positive_int, require_keys

UNIT_FIELD = forms.ChoiceField(required=False, choices=LengthUnit.choices, initial=LengthUnit.CHARACTERS)


@register("max_length", "Maximum length", position=30)
class MaxLength(RuleKind):
    admin_fields = {"limit": LIMIT_FIELD, "unit": UNIT_FIELD}
    error_field = "limit"

    def validate(self, parameters):
        require_keys(parameters, {"limit", "unit"})
        return {
            "limit": positive_int(parameters, "limit"),
            "unit": choice(parameters, "unit", LengthUnit, LengthUnit.CHARACTERS),
        }

    def check(self, checker, rule, statistics):
        p = rule.parameters
        count, limit = checker.length(p["unit"]), p["limit"]
        if count <= limit:
            return []
        start = (
            checker.grapheme_starts[limit] if p["unit"] == LengthUnit.CHARACTERS else checker.words[limit][0]
        )
        return [
            checker.violation(rule, f"{count} {p['unit']}; the limit is {limit}.", start, len(checker.text))
        ]
