"""``banned_term``: ``{"terms": ["cure", "miracle"], "case_sensitive": false, "whole_word": true}``.

Every occurrence is a violation. Whole-word matching uses Unicode letter and digit boundaries:
"cure" matches "Cure," and "CURE" but not "secure"."""

from __future__ import annotations

from styleguides.rules import register
from styleguides.rules.base import (
    CASE_SENSITIVE_FIELD,
    TERMS_FIELD,
    WHOLE_WORD_FIELD,
    RuleKind,
    boolean,
    require_keys,
    split_terms,
    term_pattern,
    terms,
)


@register
class BannedTerm(RuleKind):
    type = "banned_term"
    label = "Banned term"
    admin_fields = {
        "terms": TERMS_FIELD,
        "case_sensitive": CASE_SENSITIVE_FIELD,
        "whole_word": WHOLE_WORD_FIELD,
    }
    error_field = "terms"
    position = 10

    def validate(self, parameters):
        require_keys(parameters, {"terms", "term", "case_sensitive", "whole_word"})
        return {
            "terms": terms(parameters, "terms", "term"),
            "case_sensitive": boolean(parameters, "case_sensitive", False),
            "whole_word": boolean(parameters, "whole_word", True),
        }

    def check(self, checker, rule, statistics):
        p = rule.parameters
        found = []
        for term in p["terms"]:
            pattern = term_pattern(term, case_sensitive=p["case_sensitive"], whole_word=p["whole_word"])
            for match in pattern.finditer(checker.text):
                found.append(checker.violation(rule, f'Avoid "{match.group()}".', *match.span()))
        return found

    def parameters_from_form(self, cleaned):
        return {**super().parameters_from_form(cleaned), "terms": split_terms(cleaned.get("terms"))}

    def form_initial(self, parameters):
        return {**super().form_initial(parameters), "terms": ", ".join(parameters.get("terms") or [])}
