"""``regex``: ``{"pattern": "\\b\\d+% off\\b", "ignore_case": false, "mode": "forbid" | "require"}``.

Forbid reports each match; require reports a text with none. The pattern is compiled when the
rule is saved (a bad one is refused then) and runs with a time limit, since tenants write it:
its own ``REGEX_TIMEOUT_SECONDS`` (a pattern that needs longer is a violation asking to simplify
it), or what is left of the check's time budget when less (out of it, the rule is skipped)."""

from __future__ import annotations

from django import forms

from styleguides.choices import RegexMode
from styleguides.rules import register
from styleguides.rules.base import (
    MAX_PATTERN_LENGTH,
    REGEX_TIMEOUT_SECONDS,
    OutOfTime,
    RuleKind,
    boolean,
    choice,
    compile_pattern,
    parameter_error,
    require_keys,
)


@register("regex", "Pattern (regular expression)", position=50)
class Regex(RuleKind):
    admin_fields = {
        "pattern": forms.CharField(required=False, help_text="A regular expression."),
        "ignore_case": forms.BooleanField(required=False),
        "mode": forms.ChoiceField(required=False, choices=RegexMode.choices, initial=RegexMode.FORBID),
    }
    error_field = "pattern"

    def validate(self, parameters):
        require_keys(parameters, {"pattern", "ignore_case", "mode"})
        pattern = parameters.get("pattern")
        if not isinstance(pattern, str) or not pattern:
            raise parameter_error("'pattern' must be a non-empty regular expression.")
        if len(pattern) > MAX_PATTERN_LENGTH:
            raise parameter_error(f"'pattern' may be at most {MAX_PATTERN_LENGTH} characters.")
        ignore_case = boolean(parameters, "ignore_case", False)
        compiled = compile_pattern(pattern, ignore_case=ignore_case)
        if compiled.search("", timeout=REGEX_TIMEOUT_SECONDS) is not None:
            raise parameter_error("'pattern' matches empty text, so it would match everywhere.")
        return {
            "pattern": pattern,
            "ignore_case": ignore_case,
            "mode": choice(parameters, "mode", RegexMode, RegexMode.FORBID),
        }

    def check(self, checker, rule, statistics):
        p = rule.parameters
        pattern = compile_pattern(p["pattern"], ignore_case=p["ignore_case"])
        limit = checker.time_limit(REGEX_TIMEOUT_SECONDS)
        try:
            if p["mode"] == RegexMode.REQUIRE:
                if pattern.search(checker.text, timeout=limit):
                    return []
                return [checker.violation(rule, f"Text must match the pattern {p['pattern']}.")]
            return [
                checker.violation(rule, f'"{match.group()}" is not allowed.', *match.span())
                for match in pattern.finditer(checker.text, timeout=limit)
                if match.end() > match.start()
            ]
        except TimeoutError:
            if limit < REGEX_TIMEOUT_SECONDS:
                # Stopped by the end of the check's budget, not by the pattern's own limit: the
                # pattern is not at fault and the text was not checked against it.
                raise OutOfTime from None
            return [checker.violation(rule, "This rule's pattern took too long to check; simplify it.")]
