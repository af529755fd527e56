"""``required_phrase``: ``{"phrases": ["book direct"], "match": "all" | "any", "case_sensitive":
false, "whole_word": true}``.

Each missing phrase ("all") or the lack of every phrase ("any") is a violation without a span."""

from __future__ import annotations

from django import forms

from styleguides.rules import register
from styleguides.rules.base import (
    CASE_SENSITIVE_FIELD,
    TERMS_FIELD,
    WHOLE_WORD_FIELD,
    RuleKind,
    boolean,
    parameter_error,
    require_keys,
    split_terms,
    term_pattern,
    terms,
)


@register
class RequiredPhrase(RuleKind):
    type = "required_phrase"
    label = "Required phrase"
    admin_fields = {
        "terms": TERMS_FIELD,
        "match": forms.ChoiceField(
            required=False,
            choices=[("all", "every phrase must appear"), ("any", "at least one must appear")],
            initial="all",
        ),
        "case_sensitive": CASE_SENSITIVE_FIELD,
        "whole_word": WHOLE_WORD_FIELD,
    }
    error_field = "terms"
    position = 20

    def validate(self, parameters):
        require_keys(parameters, {"phrases", "phrase", "match", "case_sensitive", "whole_word"})
        match = parameters.get("match", "all")
        if match not in ("all", "any"):
            raise parameter_error("'match' must be 'all' or 'any'.")
        return {
            "phrases": terms(parameters, "phrases", "phrase"),
            "match": match,
            "case_sensitive": boolean(parameters, "case_sensitive", False),
            "whole_word": boolean(parameters, "whole_word", True),
        }

    def check(self, checker, rule, statistics):
        p = rule.parameters
        missing = [
            phrase
            for phrase in p["phrases"]
            if not term_pattern(
                phrase, case_sensitive=p["case_sensitive"], whole_word=p["whole_word"]
            ).search(checker.text)
        ]
        if p["match"] == "any":
            if len(missing) == len(p["phrases"]):
                wanted = " or ".join(f'"{phrase}"' for phrase in p["phrases"])
                return [checker.violation(rule, f"Include {wanted}.")]
            return []
        return [checker.violation(rule, f'Include "{phrase}".') for phrase in missing]

    def parameters_from_form(self, cleaned):
        raw = super().parameters_from_form(cleaned)
        raw.pop("terms", None)
        return {**raw, "phrases": split_terms(cleaned.get("terms"))}

    def form_initial(self, parameters):
        return {**super().form_initial(parameters), "terms": ", ".join(parameters.get("phrases") or [])}
