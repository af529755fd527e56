"""The API's resolver by first segment answers exactly as Django's full walk: every route, every
miss, through the real URL configuration."""

from __future__ import annotations

import pytest
from django.urls import URLResolver
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RoutePattern

from config import urls as config_urls
from config.urls import api_v1
from tenancy.api.routing import FirstSegmentResolver, _routes, api_include

SAMPLES = {"pk": "7", "number": "2", "key": "some.cache-key", "slug": "openai"}


def _plain():
    return URLResolver(RoutePattern("api/v1/", is_endpoint=False), api_v1)


def _named_routes(patterns):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _named_routes(pattern.url_patterns)
        elif pattern.name:
            yield pattern


def _sample_paths() -> list[str]:
    """One concrete path per named API route, from the route's own reverse."""
    resolver = _plain()
    return [
        "api/v1/"
        + resolver.reverse(route.name, **{name: SAMPLES[name] for name in route.pattern.regex.groupindex})
        for route in _named_routes(api_v1)
    ]


PATHS = _sample_paths()


def test_every_route_has_a_sample():
    assert len(PATHS) >= 80
    assert "api/v1/reports/failures/" in PATHS


@pytest.mark.parametrize("path", PATHS)
def test_each_route_resolves_as_the_full_walk_does(path):
    fast, plain = api_include("api/v1/", api_v1).resolve(path), _plain().resolve(path)
    assert (fast.func, fast.args, fast.kwargs, fast.url_name, fast.route) == (
        plain.func,
        plain.args,
        plain.kwargs,
        plain.url_name,
        plain.route,
    )


@pytest.mark.parametrize(
    "path",
    ["api/v1/nope/", "api/v1/generations/abc/", "api/v1/usage", "api/v1/reports/", "api/v1/usage-x/"],
)
def test_a_miss_is_the_full_walks_miss(path):
    with pytest.raises(Resolver404) as fast:
        api_include("api/v1/", api_v1).resolve(path)
    with pytest.raises(Resolver404) as plain:
        _plain().resolve(path)
    assert len(fast.value.args[0]["tried"]) == len(plain.value.args[0]["tried"])


def test_a_report_tries_a_handful_of_routes_not_every_one():
    resolver = api_include("api/v1/", api_v1)
    every = sum(1 for _ in _routes(api_v1))
    reports = resolver._groups["reports"].url_patterns
    assert len(reports) < 15 < every
    assert all(str(route.pattern).startswith("reports/") for route in reports)


def test_the_project_mounts_the_api_with_it(api_client):
    assert any(isinstance(pattern, FirstSegmentResolver) for pattern in config_urls.urlpatterns)
    assert api_client.get("/api/v1/reports/failures/").status_code == 200
    missing = api_client.get("/api/v1/nope/")
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/json"
