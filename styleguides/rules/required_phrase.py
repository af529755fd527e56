"""``required_phrase``: ``{"phrases": ["book direct"], "match": "all" | "any", "case_sensitive":
false, "whole_word": true}``.

Each missing phrase ("all") or the lack of every phrase ("any") is a violation without a span."""

from __future__ import annotations

from django import forms

from styleguides.rules import register
from styleguides.rules.base import TermListKind, parameter_error


@register("required_phrase", "Required phrase", position=20)
class RequiredPhrase(TermListKind):
    list_parameter, single_parameter = "phrases", "phrase"
    option_parameters = frozenset({"match"})
    admin_fields = {
        **TermListKind.admin_fields,
        "match": forms.ChoiceField(
            required=False,
            choices=[("all", "every phrase must appear"), ("any", "at least one must appear")],
            initial="all",
        ),
    }

    def validate_options(self, parameters):
        match = parameters.get("match", "all")
        if match not in ("all", "any"):
            raise parameter_error("'match' must be 'all' or 'any'.")
        return {"match": match}

    def check(self, checker, rule, statistics):
        p = rule.parameters
        missing = [phrase for phrase, pattern in self.patterns(p) if not pattern.search(checker.text)]
        if p["match"] == "any":
            if len(missing) == len(p["phrases"]):
                wanted = " or ".join(f'"{phrase}"' for phrase in p["phrases"])
                return [checker.violation(rule, f"Include {wanted}.")]
            return []
        return [checker.violation(rule, f'Include "{phrase}".') for phrase in missing]
