"""``max_sentence_length``: ``{"max_words": 25}``: each longer sentence, with its span."""

from __future__ import annotations

from django import forms

from styleguides.flesch_kincaid import sentence_spans, word_spans
from styleguides.rules import register
from styleguides.rules.base import RuleKind, positive_int, require_keys


@register("max_sentence_length", "Maximum sentence length", position=60)
class MaxSentenceLength(RuleKind):
    admin_fields = {
        "max_words": forms.IntegerField(
            required=False, min_value=1, help_text="Longest sentence allowed, in words."
        )
    }
    error_field = "max_words"

    def validate(self, parameters):
        require_keys(parameters, {"max_words"})
        return {"max_words": positive_int(parameters, "max_words")}

    def check(self, checker, rule, statistics):
        limit = rule.parameters["max_words"]
        found = []
        for start, end in sentence_spans(checker.text):
            count = len(word_spans(checker.text[start:end]))
            if count > limit:
                message = f"Sentence has {count} words; keep sentences to {limit}."
                found.append(checker.violation(rule, message, start, end))
        return found
