"""``reading_level``: ``{"max_grade": 8, "min_grade": 4}`` (either or both): the Flesch-Kincaid
grade (``styleguides.flesch_kincaid``); a violation has no span."""

from __future__ import annotations

from django import forms

from styleguides.rules import register
from styleguides.rules.base import RuleKind, grade, parameter_error, require_keys


@register("reading_level", "Reading level", position=70)
class ReadingLevel(RuleKind):
    admin_fields = {
        "max_grade": forms.FloatField(
            required=False, min_value=0, max_value=30, help_text="US school grade."
        ),
        "min_grade": forms.FloatField(required=False, min_value=0, max_value=30),
    }
    error_field = "max_grade"

    def validate(self, parameters):
        require_keys(parameters, {"max_grade", "min_grade"})
        max_grade, min_grade = grade(parameters, "max_grade"), grade(parameters, "min_grade")
        if max_grade is None and min_grade is None:
            raise parameter_error("Give 'max_grade', 'min_grade' or both.")
        if max_grade is not None and min_grade is not None and min_grade > max_grade:
            raise parameter_error("'min_grade' cannot be above 'max_grade'.")
        return {
            key: value
            for key, value in (("max_grade", max_grade), ("min_grade", min_grade))
            if value is not None
        }

    def check(self, checker, rule, statistics):
        p, found = rule.parameters, statistics.grade
        if found is None:
            return []
        if "max_grade" in p and found > p["max_grade"]:
            return [
                checker.violation(rule, f"Reads at grade {found}; aim for grade {p['max_grade']} or below.")
            ]
        if "min_grade" in p and found < p["min_grade"]:
            return [
                checker.violation(rule, f"Reads at grade {found}; aim for grade {p['min_grade']} or above.")
            ]
        return []

    def parameters_from_form(self, cleaned):
        # The form's FloatFields give 8.0 for "8"; store whole grades as integers, as the API does.
        return {
            name: int(value) if isinstance(value, float) and value.is_integer() else value
            for name, value in super().parameters_from_form(cleaned).items()
        }
