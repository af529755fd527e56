"""Resolving an API path without walking every route of every app.

Each app mounts its routes at the root of ``/api/v1/`` (``usage/``, ``reports/cost/``,
``generations/{id}/tree/`` …), so Django's resolver tries them in order, one regular expression
after another: ~85 for a report, whose app comes last (~0.1-0.17 ms a request on the bench box,
~13 % of a report's CPU in-process, issue 12). :class:`FirstSegmentResolver` tries only the
routes that can match the path's first segment, in their order, and falls back to the full walk
when those do not match, so every answer (the view, its arguments, the route, a 404 and the
list of what was tried) is the one Django would give.
"""

from __future__ import annotations

import re

from django.urls import URLPattern, URLResolver
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RoutePattern
from django.utils.functional import cached_property

# The literal first segment of a route, ``usage`` of ``^usage/(?P<pk>[0-9]+)/$`` or of
# ``usage/``; a route that starts with anything else (a group, a converter) has none.
_FIRST_SEGMENT = re.compile(r"\^?([A-Za-z0-9_-]*)(?:/|\$?\Z)")


def _first_segment(pattern) -> str | None:
    match = _FIRST_SEGMENT.match(str(pattern))
    return match[1] if match else None


def _is_transparent(resolver: URLResolver) -> bool:
    """An ``include`` at the empty prefix adding nothing to a match: its routes may be tried as if
    they were listed in its place."""
    return (
        isinstance(resolver.pattern, RoutePattern)
        and str(resolver.pattern) == ""
        and not resolver.default_kwargs
        and not resolver.namespace
        and not resolver.app_name
    )


def _routes(patterns):
    for pattern in patterns:
        if isinstance(pattern, URLResolver) and _is_transparent(pattern):
            yield from _routes(pattern.url_patterns)
        else:
            yield pattern


class FirstSegmentResolver(URLResolver):
    """``path(prefix, include(patterns))`` that resolves a path through the routes of its first
    segment only (module docstring). Reversing, checks and schema generation see the patterns as
    they are; only :meth:`resolve` takes the short way."""

    @cached_property
    def _groups(self) -> dict[str, URLResolver]:
        routes = [(_first_segment(route.pattern), route) for route in _routes(self.url_patterns)]
        segments = {segment for segment, _ in routes if segment is not None}
        # A route without a literal first segment could match any path: it stays in every group,
        # in its place.
        return {
            segment: URLResolver(self.pattern, [route for first, route in routes if first in (segment, None)])
            for segment in segments
        }

    def resolve(self, path):
        match = self.pattern.match(str(path))
        if match:
            group = self._groups.get(match[0].split("/", 1)[0])
            if group is not None:
                try:
                    return group.resolve(path)
                except Resolver404:
                    pass  # the full walk answers, with Django's list of what was tried
        return super().resolve(path)


def api_include(prefix: str, patterns: list) -> FirstSegmentResolver:
    """``path(prefix, include(patterns))`` resolved by first segment (:class:`FirstSegmentResolver`)."""
    if any(not isinstance(pattern, URLPattern | URLResolver) for pattern in patterns):
        raise TypeError("api_include takes URL patterns (path(), re_path(), include()).")
    return FirstSegmentResolver(RoutePattern(prefix, is_endpoint=False), patterns)
