"""What a brand-rule type declares, and the helpers its parameter validation shares.

A rule type is one module in this package holding one :class:`RuleKind` subclass decorated
with :func:`styleguides.rules.register`. It declares, once: its stored
name, its label and its display order, how its ``parameters`` are validated and
normalised, how a text is checked against it, the plain admin fields an editor fills in instead
of JSON, and which of them shows a parameter error. A type that looks for a list of words or
phrases starts from :class:`TermListKind`.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Any, ClassVar

import regex
from django import forms
from django.core.exceptions import ValidationError

if TYPE_CHECKING:  # pragma: no cover
    from styleguides.compliance import EffectiveRule, Violation, _Checker
    from styleguides.flesch_kincaid import TextStatistics

MAX_TERMS = 200
MAX_TERM_LENGTH = 100
MAX_PATTERN_LENGTH = 500
# One pattern's own limit; the check's overall budget may leave it less (``_Checker.time_limit``).
REGEX_TIMEOUT_SECONDS = 0.25
# Letters, digits and the underscore are "word" characters for whole-word matching.
_BEFORE = r"(?<![\p{L}\p{N}_])"
_AFTER = r"(?![\p{L}\p{N}_])"


class OutOfTime(Exception):
    """The check's time budget was spent before a rule could finish (raised by
    ``_Checker.time_limit``, or by a rule stopped at the budget's end): the check reports the rule
    as skipped instead of checked."""


class RuleKind:
    """One brand-rule type: subclass, register it with its stored name, label and position
    (:func:`styleguides.rules.register`), set the class attributes, implement ``validate`` and
    ``check``. The admin, the compliance check, the model's choices and the JS that shows only
    the fields a type uses all read these declarations."""

    #: the value stored in ``BrandRule.rule_type``, and the label: set by ``register``
    type: ClassVar[str]
    label: ClassVar[str]
    #: the plain admin fields of this type, by name; a name shared with another type (``terms``,
    #: ``limit``) must declare the same field
    admin_fields: ClassVar[dict[str, forms.Field]] = {}
    #: the admin field a parameter error is shown next to
    error_field: ClassVar[str]
    #: where the type sits in choices and in the admin (lower first; set by ``register``)
    position: ClassVar[int] = 100

    def validate(self, parameters: dict) -> dict:
        """Return ``parameters`` normalised (defaults filled in) or raise ``ValidationError`` on
        ``parameters`` naming the problem."""
        raise NotImplementedError

    def check(self, checker: _Checker, rule: EffectiveRule, statistics: TextStatistics) -> list[Violation]:
        """Every violation of ``rule`` in ``checker.text`` (``checker.violation(...)`` builds one).

        A step whose cost the tenant decides (running their pattern) asks
        ``checker.time_limit(own_limit)`` how long it may take and raises :class:`OutOfTime`
        when stopped short by that budget; the check then lists the rule as skipped."""
        raise NotImplementedError

    def parameters_from_form(self, cleaned: dict) -> dict:
        """The raw ``parameters`` an admin form's plain fields describe (validated afterwards)."""
        return {name: cleaned.get(name) for name in self.admin_fields if cleaned.get(name) not in (None, "")}

    def form_initial(self, parameters: dict) -> dict:
        """The admin form's plain fields for stored ``parameters``."""
        return {name: parameters[name] for name in self.admin_fields if name in parameters}


# --- Parameter validation helpers shared by the types ---------------------------------------


def parameter_error(message: str) -> ValidationError:
    return ValidationError({"parameters": message})


def require_keys(parameters: dict, allowed: set[str]) -> None:
    unknown = sorted(set(parameters) - allowed)
    if unknown:
        raise parameter_error(
            f"Unknown parameter(s): {', '.join(unknown)}. Allowed: {', '.join(sorted(allowed))}."
        )


def boolean(parameters: dict, name: str, default: bool) -> bool:
    value = parameters.get(name, default)
    if not isinstance(value, bool):
        raise parameter_error(f"'{name}' must be true or false.")
    return value


def positive_int(parameters: dict, name: str) -> int:
    value = parameters.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise parameter_error(f"'{name}' must be a whole number of at least 1.")
    return value


def choice(parameters: dict, name: str, choices: type, default: str) -> str:
    value = parameters.get(name, default)
    if value not in choices.values:
        raise parameter_error(f"'{name}' must be one of: {', '.join(choices.values)}.")
    return value


def terms(parameters: dict, plural: str, singular: str) -> list[str]:
    """A rule's non-empty list of words or phrases (``plural``, or one entry as ``singular``),
    checked and normalised by :func:`term_list`; errors are on ``parameters``."""
    raw = parameters.get(plural)
    if raw is None and singular in parameters:
        raw = [parameters[singular]]
    if not isinstance(raw, list) or not raw:
        raise parameter_error(f"'{plural}' must be a non-empty list of words or phrases.")
    return term_list(raw, name=plural, field="parameters")


def term_list(raw: Any, *, name: str, field: str) -> list[str]:
    """A list of words or phrases, wherever one is stored (a rule's ``terms`` or ``phrases``, a
    guide's ``banned_terms`` and ``required_terms``): at most ``MAX_TERMS`` entries, each
    non-empty text of at most ``MAX_TERM_LENGTH`` characters. Returns the entries stripped and in
    NFC (the form a checked text is compared in); raises ``ValidationError`` on ``field``,
    naming the list as ``name``. An empty list is valid here."""
    if not isinstance(raw, list):
        raise ValidationError({field: f"'{name}' must be a list of words or phrases."})
    if len(raw) > MAX_TERMS:
        raise ValidationError({field: f"'{name}' may hold at most {MAX_TERMS} entries."})
    found = []
    for term in raw:
        if not isinstance(term, str) or not term.strip():
            raise ValidationError({field: f"Every entry of '{name}' must be non-empty text."})
        if len(term) > MAX_TERM_LENGTH:
            raise ValidationError({field: f"'{term[:20]}…' is longer than {MAX_TERM_LENGTH} characters."})
        found.append(unicodedata.normalize("NFC", term.strip()))
    return found


def split_terms(value: Any) -> list[str]:
    """The admin's "words or phrases, separated by commas or new lines" as a list."""
    return [t.strip() for t in (value or "").replace("\n", ",").split(",") if t.strip()]


def grade(parameters: dict, name: str) -> float | None:
    value = parameters.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 30:
        raise parameter_error(f"'{name}' must be a grade between 0 and 30.")
    return value


# Counted repetitions (``a{1000000}``) are unrolled when compiled: a 13-character pattern could
# take gigabytes. Their bounds, multiplied together, stay under this (conservative: nesting is
# not told apart, so ``a{100}b{100}`` counts as 10,000).
MAX_COUNTED_REPETITION = 10_000
# A brace after one of these escapes is the escape's argument (``\p{L}``, ``\N{EM DASH}``),
# not a repetition; ``\x{…}`` and ``\u{…}`` with digits do not compile. Not ``\g``: ``\g{3}``
# is a literal g three times.
_BRACED_ESCAPES = frozenset("pPxNu")


def _counted_repetitions(pattern: str):
    """The largest bound of every ``{…}`` in ``pattern`` that could be a counted repetition.

    A scan, not a regular expression over the text: an escaped backslash before a brace
    (``\\\\{2000}``: a backslash, repeated) was read as an escaped brace and never counted, and
    in verbose mode (``(?x)``) the bounds may hold spaces and comments (``a{20 000}``,
    ``a{2#}\n000}``: a ``}`` in a comment does not close the bound). So every brace not escaped
    counts, by the digits inside it up to a ``}`` outside a ``#`` comment; a literal brace with
    digits in a character class or a comment is counted too, which only errs towards refusing."""
    position, length = 0, len(pattern)
    while position < length:
        character = pattern[position]
        if character == "\\":
            escaped = pattern[position + 1 : position + 2]
            position += 2
            if escaped in _BRACED_ESCAPES and pattern[position : position + 1] == "{":
                closing = pattern.find("}", position)
                position = length if closing < 0 else closing + 1
            continue
        if character == "{":
            closing = _bound_end(pattern, position + 1)
            bounds = "".join(c for c in pattern[position + 1 : closing] if c in "0123456789,")
            numbers = [int(number[:7]) for number in bounds.split(",") if number]
            if numbers:
                yield max(numbers)
            position = closing + 1
            continue
        position += 1


def _bound_end(pattern: str, position: int) -> int:
    """Where the ``{…}`` opened before ``position`` closes: the first ``}`` not inside a ``#``
    comment (to its line's end), or the pattern's end."""
    while position < len(pattern):
        if pattern[position] == "}":
            return position
        if pattern[position] == "#":
            newline = pattern.find("\n", position)
            position = len(pattern) if newline < 0 else newline
        position += 1
    return len(pattern)


def compile_pattern(pattern: str, *, ignore_case: bool = False) -> regex.Pattern:
    """Compile a tenant's pattern, Unicode-aware; raises ``ValidationError`` naming the problem."""
    flags = regex.UNICODE | (regex.IGNORECASE if ignore_case else 0)
    product = 1
    for bound in _counted_repetitions(pattern):
        product *= bound or 1
        if product > MAX_COUNTED_REPETITION:
            raise parameter_error(
                f"Counted repetitions ({{n}}, {{n,m}}) multiply to more than {MAX_COUNTED_REPETITION:,}."
            )
    try:
        return regex.compile(pattern, flags)
    except (regex.error, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise parameter_error(f"Invalid regular expression: {exc}.") from exc


def term_pattern(term: str, *, case_sensitive: bool, whole_word: bool) -> regex.Pattern:
    """A pattern for a literal term: spaces match any whitespace; whole words use Unicode
    letter/digit boundaries (so "cure" never matches inside "secure")."""
    body = r"\s+".join(regex.escape(part) for part in term.split())
    if whole_word:
        body = f"{_BEFORE}{body}{_AFTER}"
    return regex.compile(body, regex.UNICODE | (0 if case_sensitive else regex.IGNORECASE))


# --- Admin fields shared by several types (one definition each) ------------------------------

TERMS_FIELD = forms.CharField(
    required=False,
    widget=forms.Textarea(attrs={"rows": 2, "cols": 40}),
    help_text="Words or phrases, separated by commas or new lines.",
)
CASE_SENSITIVE_FIELD = forms.BooleanField(required=False, help_text="Match capitals exactly.")
WHOLE_WORD_FIELD = forms.BooleanField(
    required=False, initial=True, help_text='Whole words only ("cure" does not match "secure").'
)
LIMIT_FIELD = forms.IntegerField(required=False, min_value=1)


# --- A base for the types that look for words or phrases -----------------------------------


class TermListKind(RuleKind):
    """A type that looks for a list of words or phrases (``banned_term``, ``required_phrase``):
    the list, whether capitals must match and whether only whole words count, with their admin
    fields, validation and patterns, declared once. The admin's ``terms`` field edits the list
    whichever parameter stores it; a subclass adds its own parameters through
    ``option_parameters`` and :meth:`validate_options`."""

    #: the parameter holding the list, and the one a client may send a single entry in instead
    list_parameter: ClassVar[str] = "terms"
    single_parameter: ClassVar[str] = "term"
    #: the subclass's own parameters, normalised by :meth:`validate_options`
    option_parameters: ClassVar[frozenset[str]] = frozenset()
    admin_fields = {
        "terms": TERMS_FIELD,
        "case_sensitive": CASE_SENSITIVE_FIELD,
        "whole_word": WHOLE_WORD_FIELD,
    }
    error_field = "terms"

    def validate(self, parameters):
        require_keys(
            parameters,
            {
                self.list_parameter,
                self.single_parameter,
                "case_sensitive",
                "whole_word",
                *self.option_parameters,
            },
        )
        options = self.validate_options(parameters)
        return {
            self.list_parameter: terms(parameters, self.list_parameter, self.single_parameter),
            **options,
            "case_sensitive": boolean(parameters, "case_sensitive", False),
            "whole_word": boolean(parameters, "whole_word", True),
        }

    def validate_options(self, parameters: dict) -> dict:
        """The subclass's ``option_parameters`` normalised (checked before the list)."""
        return {}

    def patterns(self, parameters: dict) -> list[tuple[str, regex.Pattern]]:
        """Each entry of the stored list with the pattern that finds it in a text."""
        return [
            (
                entry,
                term_pattern(
                    entry, case_sensitive=parameters["case_sensitive"], whole_word=parameters["whole_word"]
                ),
            )
            for entry in parameters[self.list_parameter]
        ]

    def parameters_from_form(self, cleaned):
        raw = super().parameters_from_form(cleaned)
        raw.pop("terms", None)
        return {**raw, self.list_parameter: split_terms(cleaned.get("terms"))}

    def form_initial(self, parameters):
        return {
            **super().form_initial(parameters),
            "terms": ", ".join(parameters.get(self.list_parameter) or []),
        }
