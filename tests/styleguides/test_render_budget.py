"""Rendering is bounded in CPU and output (issue 11): loops, calls, recursion, output size and
wall time. A template known to be too costly is refused when saved; one that turns out costly
stops with a 400 well within a second, and nothing is written."""

from __future__ import annotations

import time

import pytest

from styleguides.models import PromptTemplate
from styleguides.prompt_rendering import MAX_LOOP_ITERATIONS
from tenancy.models import AuditEvent
from tests.styleguides.factories import make_template

pytestmark = pytest.mark.django_db

THREE_NESTED = (
    "{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}x"
    "{% endfor %}{% endfor %}{% endfor %}"
)


@pytest.mark.parametrize(
    "body",
    [
        THREE_NESTED,
        "{% for i in range(1000) %}{% for j in range(1000) %}{{ i }}{% endfor %}{% endfor %}",
        "{% for i in range(200) %}{% for j in range(200) %}{% endfor %}{% endfor %}",
        "{{ inkwell_loop_guard }}",
    ],
)
def test_a_template_whose_loops_are_known_too_costly_is_refused_when_saved(api_client, body):
    before = (PromptTemplate.all_objects.count(), AuditEvent.objects.count())

    response = api_client.post(
        "/api/v1/templates/", {"name": "Costly", "slug": "costly", "user_template": body}, format="json"
    )

    assert response.status_code == 400, response.content
    error = response.json()["errors"][0]
    assert error["attr"] == "user_template"
    assert (PromptTemplate.all_objects.count(), AuditEvent.objects.count()) == before


def test_loops_within_the_budget_save_and_render(api_client, organization):
    template = make_template(
        organization,
        user_template="{% for i in range(100) %}{% for j in range(100) %}.{% endfor %}{% endfor %}",
        variables=[],
    )
    response = api_client.post(f"/api/v1/templates/{template.pk}/render/", {"variables": {}}, format="json")
    assert response.status_code == 200, response.content
    assert len(response.json()["user"]) == 100 * 100


COSTLY_AT_RENDER = [
    # Loop bounds only known at render time.
    (
        "{% for i in range(n) %}{% for j in range(n) %}{% for k in range(n) %}x"
        "{% endfor %}{% endfor %}{% endfor %}",
        {"n": 1000},
    ),
    # Loops over a variable's items.
    (
        "{% for a in items %}{% for b in items %}{% for c in items %}{% endfor %}{% endfor %}{% endfor %}",
        {"items": list(range(1000))},
    ),
    # Exponential recursion through a macro.
    (
        "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(n) }}",
        {"n": 40},
    ),
    # Output far beyond the limit, built from small pieces.
    ("{% for i in range(n) %}{{ 'y' * 99000 }}{% endfor %}", {"n": 1000}),
    # One string built huge before anything is emitted (a MemoryError, a 500, before).
    ("{{ ('x' * n)|join('y' * n)|length }}", {"n": 100000}),
    ("{{ 'a'|center(n)|length }}", {"n": 10**10}),
    ("{{ ('%0' ~ n ~ 'd')|format(1)|length }}", {"n": 100000000}),
    ("{{ ('%' ~ n ~ 's') % 'a' }}", {"n": 100000000}),
    ("{{ ('{:>' ~ n ~ '}').format('a')|length }}", {"n": 100000000}),
    ("{{ ('x' * 1000)|replace('', 'y' * 100)|length }}", {"n": 0}),
    ("{{ 'a'.center(n)|length }}", {"n": 10**9}),
    ("{{ ('y' * 1000).join(['x'] * 1000)|length }}", {"n": 0}),
    # Each exponent at most 64, the integer past any prompt: one power held the GIL for 14 s.
    ("{{ ((((9**64)**64)**64)**64) % 7 }}", {"n": 0}),
    ("{{ (n ** 64) ** 64 }}", {"n": 10**300}),
    ("{{ (9**64)**64 * (9**64)**64 }}", {"n": 0}),
]


@pytest.mark.parametrize(("body", "variables"), COSTLY_AT_RENDER)
def test_a_costly_render_stops_with_a_400_within_a_second(api_client, organization, body, variables):
    template = make_template(organization, user_template=body, variables=sorted(variables))
    events = AuditEvent.objects.count()

    started = time.monotonic()
    response = api_client.post(
        f"/api/v1/templates/{template.pk}/render/", {"variables": variables}, format="json"
    )
    elapsed = time.monotonic() - started

    assert response.status_code == 400, response.content
    error = response.json()["errors"][0]
    assert error["attr"] == "user_template"
    assert error["code"] in ("sandbox_violation", "output_too_long")
    assert elapsed < 1.0
    assert AuditEvent.objects.count() == events


def test_integer_arithmetic_within_the_bound_still_renders(api_client, organization):
    body = "{{ 2 ** 64 }} {{ (2 ** 64) * (3 ** 40) }} {{ -(7 ** 64) % 1000 }}"
    template = make_template(organization, user_template=body, variables=[])

    response = api_client.post(f"/api/v1/templates/{template.pk}/render/", {"variables": {}}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["user"] == f"{2**64} {(2**64) * (3**40)} {-(7**64) % 1000}"


def test_the_iteration_budget_is_shared_by_all_loops_of_a_render(api_client, organization):
    body = "{% for i in range(n) %}.{% endfor %}" * 3
    template = make_template(organization, user_template=body, variables=["n"])
    url = f"/api/v1/templates/{template.pk}/render/"
    assert api_client.post(url, {"variables": {"n": 1000}}, format="json").status_code == 200
    over = MAX_LOOP_ITERATIONS // 3 + 1
    body_over = "{% for i in range(m) %}{% for j in range(n) %}.{% endfor %}{% endfor %}"
    template = make_template(organization, user_template=body_over, variables=["m", "n"])
    url = f"/api/v1/templates/{template.pk}/render/"
    response = api_client.post(url, {"variables": {"m": over, "n": 3}}, format="json")
    assert response.status_code == 400
