"""Rendering prompt templates safely: Jinja2's sandbox, strict variables, snippet includes.

What a template sees
--------------------
- its declared variables, each given by the caller or taking its declared default;
- ``style_guide``: the effective guide (``name``, ``kind``, ``tone``, ``audience``,
  ``reading_level``, ``body``, ``banned_terms``, ``required_terms``, ``rules``, ``vertical``) when
  the caller names one;
- ``vertical``: the vertical (``slug``, ``name``, ``description``, ``default_tone``, ``audience``)
  the caller names, or else the effective guide's vertical;
- snippets, with ``{% include "<snippet-slug>" %}``: the organization's snippet of that slug, or
  else the global one, at its latest version. Built-in snippets write the standard blocks:
  ``{% include "inkwell/style-guide" %}`` and ``{% include "inkwell/vertical" %}``.

Test optional parts with ``is defined`` (``{% if style_guide is defined %}``): undefined names
are errors everywhere else (``StrictUndefined``), never silently empty text.

Safety
------
Templates are written by tenants, so they run in Jinja2's ``ImmutableSandboxedEnvironment``:
no attribute starting with ``_`` (``''.__class__.__mro__``, ``cycler.__init__.__globals__`` …),
no mutating methods, no globals but a bounded ``range``. Repetition (``'x' * n``, ``**``) and the
output are bounded so a template cannot exhaust memory. CPU is bounded too, without signals
(gunicorn's sync workers and threads cannot use ``SIGALRM``): every render has a budget of loop
iterations, sandboxed calls (filters, macros, methods: recursion included) and wall time
(:data:`MAX_RENDER_SECONDS`), checked as it runs, and output is counted while it is produced. A
template whose literal ``range()`` loops alone would exceed the iteration budget is refused when
saved. Includes name a fixed snippet slug, so
every snippet a template can reach is known before it runs, include cycles are refused, and the
exact snippet versions used are reported.
"""

from __future__ import annotations

import keyword
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import regex
from django.core.exceptions import ValidationError
from jinja2 import DictLoader, StrictUndefined, meta, nodes
from jinja2.exceptions import SecurityError, TemplateError, TemplateNotFound, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from styleguides.errors import TemplateRenderError
from styleguides.text_safety import refuse_nul

RESERVED_NAMES = frozenset({"style_guide", "vertical", "range"})
MAX_VARIABLES = 100
MAX_RANGE = 1_000
MAX_REPEAT_LENGTH = 100_000
MAX_EXPONENT = 64
# How large an integer ``**`` and ``*`` may make: bounding the exponent alone let
# ``((9**64)**64)**64`` build a 53-million-bit integer (14 s with the process's GIL held, past
# the render's clock, which is only read between calls). 10,000 bits print in ~3,000 digits.
MAX_INTEGER_BITS = 10_000
MAX_OUTPUT_CHARACTERS = 500_000
MAX_INCLUDE_DEPTH = 10
# Per render: loop iterations (all loops together), sandboxed calls, wall time. Well above any
# real prompt (a loop over a few hundred items), well below what ties up a worker.
MAX_LOOP_ITERATIONS = 20_000
MAX_CALLS = 200_000
MAX_RENDER_SECONDS = 0.5
# The name of the loop counter the compiler wraps around every ``for`` iterable; templates may
# not mention it (they could otherwise shadow it).
LOOP_GUARD = "inkwell_loop_guard"
VARIABLE_NAME = regex.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
VARIABLE_KEYS = {"name", "required", "description", "default"}

BUILTIN_SNIPPETS = {
    "inkwell/style-guide": (
        "{% if style_guide is defined %}"
        "# Style guide: {{ style_guide.name }}\n"
        "{% if style_guide.vertical %}Industry: {{ style_guide.vertical.name }}\n{% endif %}"
        "{% if style_guide.tone %}Tone: {{ style_guide.tone }}\n{% endif %}"
        "{% if style_guide.audience %}Audience: {{ style_guide.audience }}\n{% endif %}"
        "{% if style_guide.reading_level %}Reading level: US grade {{ style_guide.reading_level }}"
        " or below\n{% endif %}"
        "{% if style_guide.banned_terms %}Never use: {{ style_guide.banned_terms | join(', ') }}\n{% endif %}"
        "{% if style_guide.required_terms %}Always include: {{ style_guide.required_terms | join(', ') }}\n"
        "{% endif %}"
        "{% for rule in style_guide.rules if rule.message %}- {{ rule.message }}\n{% endfor %}"
        "\n{{ style_guide.body }}\n"
        "{% endif %}"
    ),
    "inkwell/vertical": (
        "{% if vertical is defined %}"
        "# Industry: {{ vertical.name }}\n{{ vertical.description }}\n"
        "Default tone: {{ vertical.default_tone }}\nAudience: {{ vertical.audience }}\n"
        "{% endif %}"
    ),
}


def bounded_range(*args: int) -> range:
    """``range`` for templates, at most :data:`MAX_RANGE` items."""
    values = range(*args)
    if len(values) > MAX_RANGE:
        raise SecurityError(f"range() is limited to {MAX_RANGE} items in templates.")
    return values


class RenderBudget:
    """What one render may still spend: loop iterations, sandboxed calls and wall time."""

    def __init__(self):
        self.iterations = 0
        self.calls = 0
        self.deadline = time.monotonic() + MAX_RENDER_SECONDS

    def check_time(self):
        if time.monotonic() > self.deadline:
            raise SecurityError(
                f"Rendering took longer than {MAX_RENDER_SECONDS} s; the template is too costly."
            )

    def count_call(self):
        self.calls += 1
        if self.calls > MAX_CALLS:
            raise SecurityError(f"The template made more than {MAX_CALLS} calls.")
        self.check_time()

    def count_iterations(self, iterable):
        for item in iterable:
            self.iterations += 1
            if self.iterations > MAX_LOOP_ITERATIONS:
                raise SecurityError(f"Loops ran more than {MAX_LOOP_ITERATIONS} iterations in all.")
            if not self.iterations % 256:
                self.check_time()
            yield item


def static_loop_iterations(ast) -> int:
    """The most iterations the template's literal ``range(…)`` loops can run, nested loops
    multiplied (loops over anything else count as one: only the render can know them)."""

    def bound(loop: nodes.For) -> int:
        call = loop.iter
        if isinstance(call, nodes.Call) and isinstance(call.node, nodes.Name) and call.node.name == "range":
            try:
                args = [arg.as_const() for arg in call.args]
                return len(range(*args)) if all(isinstance(a, int) for a in args) else 1
            except (nodes.Impossible, TypeError, ValueError):
                return 1
        return 1

    def walk(node, factor: int) -> int:
        if isinstance(node, nodes.For):
            inner = factor * bound(node)
            return max(
                inner,
                walk(node.iter, factor),
                *(walk(child, inner) for child in node.body),
                *(walk(child, factor) for child in node.else_),
            )
        return max([factor, *(walk(child, factor) for child in node.iter_child_nodes())])

    return walk(ast, 1)


# A width or precision in a format (``'%0100000000d'``, ``'{:>100000000}'``) builds that many
# characters before anything is emitted.
_FORMAT_SIZE = regex.compile(r"(?:%[-#0 +]*|\{[^{}]*:[^{}]*?)(\d{6,})")


def _too_long(length: int) -> None:
    if length > MAX_REPEAT_LENGTH:
        raise SecurityError(f"Text longer than {MAX_REPEAT_LENGTH} characters is not built in templates.")


def _check_integer_bits(bits: int) -> None:
    """Refuse an integer result of about ``bits`` bits past :data:`MAX_INTEGER_BITS`, before
    Python computes it (one such multiplication cannot be interrupted)."""
    if bits > MAX_INTEGER_BITS:
        raise SecurityError(f"Integers larger than {MAX_INTEGER_BITS:,} bits are not allowed in templates.")


def _check_format(template: Any) -> None:
    if isinstance(template, str) and any(
        int(digits) > MAX_REPEAT_LENGTH for digits in _FORMAT_SIZE.findall(template)
    ):
        raise SecurityError(f"Widths over {MAX_REPEAT_LENGTH} are not allowed in templates.")


def _joined_length(items: Any, separator: Any) -> int | None:
    if not isinstance(separator, str) or not isinstance(items, str | list | tuple):
        return None
    return len(separator) * max(len(items) - 1, 0) + sum(len(item) for item in items if isinstance(item, str))


def _replaced_length(text: Any, old: Any, new: Any, count: Any = -1) -> int | None:
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
        return None
    found = len(text) + 1 if old == "" else text.count(old)
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * max(len(new) - len(old), 0)


def _size_of_call(name: str, obj: Any, args: tuple) -> int | None:
    """The length a string-building call would produce, when it can be known beforehand
    (``str.format`` is bounded where the sandbox wraps it, :meth:`PromptSandbox.wrap_str_format`)."""
    if name in ("center", "ljust", "rjust", "zfill") and args and isinstance(args[0], int):
        return args[0]
    if name == "join" and args:
        return _joined_length(args[0], obj)
    if name == "replace" and len(args) >= 2:
        return _replaced_length(obj, *args[:3])
    if name == "expandtabs" and isinstance(obj, str):
        return obj.count("\t") * (args[0] if args and isinstance(args[0], int) else 8) + len(obj)
    return None


def _bounded_filters(filters: dict[str, Callable]) -> dict[str, Callable]:
    """Jinja's string-building filters, refusing beforehand an answer longer than the budget."""
    join, replace, center, format_, indent = (
        filters["join"],
        filters["replace"],
        filters["center"],
        filters["format"],
        filters["indent"],
    )

    def bounded_join(eval_ctx, value, d="", attribute=None):
        items = list(value) if not isinstance(value, str | list | tuple) and attribute is None else value
        length = _joined_length(items, d)
        if length is not None:
            _too_long(length)
        return join(eval_ctx, items, d, attribute)

    def bounded_replace(eval_ctx, s, old, new, count=None):
        length = _replaced_length(s, old, new, -1 if count is None else count)
        if length is not None:
            _too_long(length)
        return replace(eval_ctx, s, old, new, count)

    def bounded_center(value, width=80):
        if isinstance(width, int):
            _too_long(width)
        return center(value, width)

    def bounded_format(value, *args, **kwargs):
        _check_format(value)
        return format_(value, *args, **kwargs)

    def bounded_indent(s, width=4, first=False, blank=False):
        if isinstance(width, int) and isinstance(s, str):
            _too_long(len(s) + width * (s.count("\n") + 1))
        return indent(s, width, first, blank)

    # Both take the evaluation context first, as the filters they wrap.
    bounded_join.jinja_pass_arg = join.jinja_pass_arg
    bounded_replace.jinja_pass_arg = replace.jinja_pass_arg
    return {
        **filters,
        "join": bounded_join,
        "replace": bounded_replace,
        "center": bounded_center,
        "format": bounded_format,
        "indent": bounded_indent,
    }


class PromptSandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox with bounded repetition and powers, no default globals, and a
    per-render budget: every ``for`` iterable is wrapped in a counter at compile time, and every
    sandboxed call is counted and checks the clock."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.budget = RenderBudget()
        self.filters = _bounded_filters(self.filters)

    def _generate(self, source, name, filename, defer_init=False):
        if any(node.name == LOOP_GUARD for node in source.find_all(nodes.Name)):
            raise SecurityError(f"'{LOOP_GUARD}' is reserved.")
        for loop in source.find_all(nodes.For):
            guard = nodes.Call(nodes.Name(LOOP_GUARD, "load"), [loop.iter], [], None, None)
            loop.iter = guard.set_lineno(loop.iter.lineno)
        return super()._generate(source, name, filename, defer_init=defer_init)

    def call(__self, __context, __obj, *args, **kwargs):
        __self.budget.count_call()
        if isinstance(getattr(__obj, "__self__", None), str):  # a string's own method
            length = _size_of_call(__obj.__name__, __obj.__self__, args)
            if length is not None:
                _too_long(length)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value):
        # ``'{:>100000000}'.format(…)``: the sandbox formats strings through this wrapper, not
        # through ``call``.
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None

        def bounded(*args, **kwargs):
            _check_format(value.__self__)
            return wrapped(*args, **kwargs)

        return bounded

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
                raise SecurityError(f"Exponents above {MAX_EXPONENT} are not allowed in templates.")
            if isinstance(left, int) and isinstance(right, int) and right > 0:
                _check_integer_bits(abs(left).bit_length() * right)
        elif operator == "%":
            _check_format(left)
        elif operator == "*":
            if isinstance(left, int) and isinstance(right, int):
                _check_integer_bits(abs(left).bit_length() + abs(right).bit_length())
            for sequence, times in ((left, right), (right, left)):
                repeatable = isinstance(sequence, str | list | tuple) and isinstance(times, int)
                if repeatable and len(sequence) * times > MAX_REPEAT_LENGTH:
                    raise SecurityError(f"Repetition longer than {MAX_REPEAT_LENGTH} is not allowed.")
        return super().call_binop(context, operator, left, right)


def make_environment(sources: dict[str, str] | None = None) -> PromptSandbox:
    """A fresh sandbox whose only loadable templates are ``sources`` (slug → snippet body)."""
    environment = PromptSandbox(
        undefined=StrictUndefined,
        autoescape=False,  # prompts are plain text, not HTML
        loader=DictLoader(dict(sources or {})),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,
    )
    environment.globals.clear()
    environment.globals["range"] = bounded_range
    environment.globals[LOOP_GUARD] = environment.budget.count_iterations
    return environment


_PARSER = make_environment()


def _syntax_message(exc: TemplateSyntaxError) -> str:
    return f"Line {exc.lineno}: {exc.message}"


def parse(source: str, *, attr: str):
    """Parse a body; a syntax error is a ``ValidationError`` on ``attr`` naming the line."""
    try:
        return _PARSER.parse(source)
    except TemplateSyntaxError as exc:
        raise ValidationError({attr: f"Template syntax error. {_syntax_message(exc)}"}) from exc


def referenced_snippets(ast, *, attr: str) -> set[str]:
    """Slugs a parsed body includes; a computed (non-literal) include is refused."""
    names = set()
    for name in meta.find_referenced_templates(ast):
        if name is None:
            raise ValidationError({attr: 'Includes must name a snippet in quotes: {% include "slug" %}.'})
        names.add(name)
    return names


def _defined_names(ast) -> set[str]:
    """Names a template defines for itself ({% set %}, macros, loop variables are excluded by
    ``meta`` already; imports bind names too)."""
    names = set()
    for node in ast.find_all((nodes.Import, nodes.FromImport)):
        if isinstance(node, nodes.Import):
            names.add(node.target)
        else:
            names.update(alias if isinstance(alias, str) else alias[1] for alias in node.names)
    return names


def used_names(ast) -> set[str]:
    """Context names a parsed body reads."""
    return meta.find_undeclared_variables(ast) - _defined_names(ast)


def validate_variables(variables: Any) -> list[dict]:
    """Normalise declared variables to ``[{"name", "required", "description", "default"}]``."""
    if variables in (None, ""):
        return []
    if not isinstance(variables, list):
        raise ValidationError(
            {"variables": "Variables must be a list of {name, required, description, default}."}
        )
    refuse_nul(variables, attr="variables")
    if len(variables) > MAX_VARIABLES:
        raise ValidationError({"variables": f"A template may declare at most {MAX_VARIABLES} variables."})
    normalised, seen = [], set()
    for item in variables:
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict):
            raise ValidationError({"variables": "Each variable must be an object with at least a name."})
        unknown = sorted(set(item) - VARIABLE_KEYS)
        if unknown:
            raise ValidationError({"variables": f"Unknown variable field(s): {', '.join(unknown)}."})
        name = item.get("name")
        if not isinstance(name, str) or not VARIABLE_NAME.match(name) or keyword.iskeyword(name):
            raise ValidationError(
                {"variables": f"Bad variable name {name!r}: letters, digits, _; start with a letter."}
            )
        if name in RESERVED_NAMES or name in ("true", "false", "none", "loop", "self", "super", "caller"):
            raise ValidationError({"variables": f"'{name}' is reserved; choose another variable name."})
        if name in seen:
            raise ValidationError({"variables": f"Variable '{name}' is declared twice."})
        seen.add(name)
        required = item.get("required", "default" not in item)
        if not isinstance(required, bool):
            raise ValidationError({"variables": f"'required' of '{name}' must be true or false."})
        if required and item.get("default") is not None:
            raise ValidationError({"variables": f"'{name}' is required, so it cannot have a default."})
        description = item.get("description", "")
        if not isinstance(description, str):
            raise ValidationError({"variables": f"'description' of '{name}' must be text."})
        normalised.append(
            {"name": name, "required": required, "description": description, "default": item.get("default")}
        )
    return normalised


def validate_template_version(*, system_template: str, user_template: str, variables: Any) -> list[dict]:
    """Refuse a template version that could never render: a syntax error, a computed include, or
    a variable used but not declared. Returns the normalised variable declarations."""
    declared = validate_variables(variables)
    names = {variable["name"] for variable in declared}
    errors = {}
    for attr, source in (("system_template", system_template or ""), ("user_template", user_template or "")):
        try:
            ast = parse(source, attr=attr)
            referenced_snippets(ast, attr=attr)
        except ValidationError as exc:
            errors.update(exc.message_dict)
            continue
        try:
            refuse_costly_loops(ast, attr=attr)
        except ValidationError as exc:
            errors.update(exc.message_dict)
            continue
        undeclared = sorted(used_names(ast) - names - RESERVED_NAMES)
        if undeclared:
            errors[attr] = [
                f"Uses undeclared variable(s): {', '.join(undeclared)}. Declare them in 'variables'."
            ]
    if errors:
        raise ValidationError(errors)
    return declared


def refuse_costly_loops(ast, *, attr: str) -> None:
    """Refuse a body whose literal loops alone exceed the per-render iteration budget (three
    nested ``range(1000)`` would run a billion times), or that names the loop guard."""
    if any(node.name == LOOP_GUARD for node in ast.find_all(nodes.Name)):
        raise ValidationError({attr: f"'{LOOP_GUARD}' is reserved; choose another name."})
    iterations = static_loop_iterations(ast)
    if iterations > MAX_LOOP_ITERATIONS:
        raise ValidationError(
            {
                attr: f"Its loops would run {iterations:,} iterations; a render may run at most "
                f"{MAX_LOOP_ITERATIONS:,}."
            }
        )


def validate_snippet_body(body: str) -> None:
    """Refuse a snippet body with a syntax error, a computed include or loops too costly."""
    ast = parse(body or "", attr="body")
    referenced_snippets(ast, attr="body")
    refuse_costly_loops(ast, attr="body")


# --- Rendering ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SnippetSource:
    """A snippet body a render may include, and the version it came from (``None`` for built-ins)."""

    slug: str
    body: str
    snippet_id: int | None = None
    version_id: int | None = None


@dataclass
class ResolvedSnippets:
    """Every snippet reachable from a template's bodies, and every context name they read."""

    sources: dict[str, SnippetSource] = field(default_factory=dict)
    used_names: set[str] = field(default_factory=set)

    @property
    def version_ids(self) -> list[int]:
        return sorted(source.version_id for source in self.sources.values() if source.version_id is not None)


def resolve_snippets(
    bodies: dict[str, str], fetch: Callable[[set[str]], dict[str, SnippetSource]]
) -> ResolvedSnippets:
    """Walk the includes of ``bodies`` (attr → source), loading snippets level by level with
    ``fetch(slugs)``. Unknown snippets and include cycles are a 400 naming them."""
    resolved = ResolvedSnippets()
    edges: dict[str, set[str]] = {}
    pending: set[str] = set()
    for attr, source in bodies.items():
        ast = parse(source, attr=attr)
        resolved.used_names |= used_names(ast)
        pending |= referenced_snippets(ast, attr=attr)
    depth = 0
    while pending:
        depth += 1
        if depth > MAX_INCLUDE_DEPTH:
            raise TemplateRenderError(
                f"Snippets include each other more than {MAX_INCLUDE_DEPTH} levels deep.", attr="snippets"
            )
        builtin = {slug for slug in pending if slug in BUILTIN_SNIPPETS}
        found = {slug: SnippetSource(slug=slug, body=BUILTIN_SNIPPETS[slug]) for slug in builtin}
        found.update(fetch(pending - builtin) if pending - builtin else {})
        missing = sorted(pending - set(found))
        if missing:
            raise TemplateRenderError(
                f"Unknown snippet(s): {', '.join(missing)}.", code="unknown_snippet", attr="snippets"
            )
        next_pending = set()
        for slug, source in found.items():
            resolved.sources[slug] = source
            try:
                ast = _PARSER.parse(source.body)
            except TemplateSyntaxError as exc:
                raise TemplateRenderError(
                    f"Snippet '{slug}' has a syntax error. {_syntax_message(exc)}", attr="snippets"
                ) from exc
            resolved.used_names |= used_names(ast)
            edges[slug] = referenced_snippets(ast, attr="snippets")
            next_pending |= edges[slug]
        pending = next_pending - set(resolved.sources)
    cycle = _find_cycle(edges)
    if cycle:
        raise TemplateRenderError(
            f"Snippets include each other in a circle: {' → '.join(cycle)}.",
            code="include_cycle",
            attr="snippets",
        )
    return resolved


def _find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for child in sorted(edges.get(node, ())):
            if state.get(child) == 1:
                return [*path[path.index(child) :], child] if child in path else [node, child]
            if state.get(child) is None:
                found = visit(child, [*path, child])
                if found:
                    return found
        state[node] = 2
        return None

    for start in sorted(edges):
        if state.get(start) is None:
            found = visit(start, [start])
            if found:
                return found
    return None


def resolve_variables(declared: list[dict], given: dict) -> dict:
    """The values a template renders with: given ones, then defaults. Unknown names and missing
    required ones are one 400 that names them all."""
    if not isinstance(given, dict):
        raise ValidationError({"variables": "Variables must be an object of name → value."})
    names = {variable["name"] for variable in declared}
    problems = []
    unknown = sorted(set(given) - names)
    if unknown:
        problems.append(f"Unknown variable(s): {', '.join(unknown)}.")
    missing = sorted(v["name"] for v in declared if v["required"] and v["name"] not in given)
    if missing:
        problems.append(f"Missing required variable(s): {', '.join(missing)}.")
    if problems:
        raise ValidationError({"variables": problems})
    values = {v["name"]: v.get("default") for v in declared if not v["required"]}
    values.update(given)
    return values


def render_bodies(
    bodies: dict[str, str], *, context: dict, snippets: Iterable[SnippetSource]
) -> dict[str, str]:
    """Render each body (attr → source) in a fresh sandbox that can include only ``snippets``.

    Any error while rendering (an undefined name, a sandbox refusal, a type error in an
    expression) is a ``TemplateRenderError`` naming the body and the cause.
    """
    environment = make_environment({source.slug: source.body for source in snippets})
    rendered = {}
    for attr, source in bodies.items():
        try:
            text = _render_bounded(environment, source, context, attr=attr)
        except SecurityError as exc:
            raise TemplateRenderError(
                f"The template tried something the sandbox forbids: {exc}",
                code="sandbox_violation",
                attr=attr,
            ) from exc
        except TemplateNotFound as exc:  # pragma: no cover - resolve_snippets found every include
            raise TemplateRenderError(
                f"Unknown snippet: {exc.name}.", code="unknown_snippet", attr=attr
            ) from exc
        except (TemplateError, ArithmeticError, TypeError, ValueError, LookupError, AttributeError) as exc:
            raise TemplateRenderError(
                f"{type(exc).__name__}: {exc}", code="template_error", attr=attr
            ) from exc
        except RecursionError as exc:
            raise TemplateRenderError(
                "The template recursed too deeply.", code="template_error", attr=attr
            ) from exc
        rendered[attr] = text.strip()
    return rendered


def _render_bounded(environment: PromptSandbox, source: str, context: dict, *, attr: str) -> str:
    """Render piece by piece, stopping as soon as the output or the time budget is exceeded."""
    parts, length = [], 0
    for part in environment.from_string(source).generate(context):
        length += len(part)
        if length > MAX_OUTPUT_CHARACTERS:
            raise TemplateRenderError(
                f"The rendered prompt is longer than {MAX_OUTPUT_CHARACTERS} characters.",
                code="output_too_long",
                attr=attr,
            )
        environment.budget.check_time()
        parts.append(part)
    return "".join(parts)
