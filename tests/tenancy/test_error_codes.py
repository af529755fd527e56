"""Every error code the code can answer is in the one registry the OpenAPI schema enumerates
(``tenancy.api.error_codes``), so no response carries a code the schema does not list."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.urls import get_resolver

from tenancy.api.error_codes import error_codes

ROOT = Path(__file__).resolve().parents[2]
APPS = ["tenancy", "providers", "styleguides", "generations", "analytics", "config"]


def import_every_view() -> None:
    """Import every view, serializer and service (as schema generation does), so every error
    class is defined before the registry walks them."""
    assert get_resolver().url_patterns


def codes_named_in_source() -> dict[str, str]:
    """``code="…"`` arguments and ``code``/``default_code`` class attributes, by where they are."""
    found = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                pairs = []
                if isinstance(node, ast.keyword) and node.arg == "code":
                    pairs.append(node.value)
                elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                    target = node.targets[0]
                    if isinstance(target, ast.Name) and target.id in {"code", "default_code"}:
                        pairs.append(node.value)
                for value in pairs:
                    if isinstance(value, ast.Constant) and isinstance(value.value, str):
                        found[value.value] = f"{path.relative_to(ROOT)}:{value.lineno}"
    return found


def test_every_code_named_in_the_source_is_in_the_registry():
    import_every_view()
    missing = {code: where for code, where in codes_named_in_source().items() if code not in error_codes()}
    assert not missing, f"Add these to tenancy.choices.ErrorCode: {missing}"


@pytest.mark.parametrize(
    "code",
    [
        "unique",
        "invalid_choice",
        "does_not_exist",
        "unknown_field",
        "unknown_parameter",
        "invalid_text",
        "out_of_bounds",
        "deleted",
        "conflicting_replay",
        "required",
        "parse_error",
        "throttled",
        "database_unavailable",
        "request_too_large",
        "invalid_api_key",
        "not_found",
        "error",
    ],
)
def test_the_codes_the_api_is_known_to_answer_are_registered(code):
    import_every_view()
    assert code in error_codes()
