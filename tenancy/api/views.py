"""Health check and JSON answers for URLs no view matched under /api/."""

import sys

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.views.defaults import page_not_found, server_error
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from tenancy.admin_walls import is_admin_request
from tenancy.api.errors import (
    database_unavailable_response,
    error_response,
    is_database_unavailable,
    is_query_timeout,
    query_timeout_response,
)


class PublicAPIView(APIView):
    """An endpoint anyone may call, before any credential: no authentication, no permission,
    no throttle (health probes and the first call a client makes)."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []


class HealthView(PublicAPIView):
    """``GET /api/v1/health/``: 200 when the database answers, 503 when it does not. No auth."""

    @extend_schema(
        responses=inline_serializer(
            "Health", {"status": serializers.CharField(), "database": serializers.CharField()}
        )
    )
    def get(self, request):
        return _health()

    def dispatch(self, request, *args, **kwargs):
        # A GET (what probes and load balancers send, often many a second) skips DRF's request
        # wrapping, content negotiation and rendering: health costs what a bare Django view
        # costs. Other methods (OPTIONS, a refused PUT) keep DRF's answers.
        if request.method == "GET":
            return _health()
        return super().dispatch(request, *args, **kwargs)


def _health() -> JsonResponse:
    """``{"status", "database"}``: 200 when ``SELECT 1`` answers, 503 naming the failure."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any database failure means unhealthy; say which
        response = JsonResponse(
            {"status": "unavailable", "database": type(exc).__name__}, status=503, json_dumps_params=_COMPACT
        )
        response["Retry-After"] = str(settings.API_DATABASE_RETRY_AFTER_SECONDS)
        return response
    return JsonResponse({"status": "ok", "database": "ok"}, json_dumps_params=_COMPACT)


_COMPACT = {"separators": (",", ":")}  # the bytes DRF's JSONRenderer writes


class APIRootView(PublicAPIView):
    """``GET /api/v1/``: where to start (schema, docs, health). No auth, so it is a safe first call."""

    @extend_schema(
        responses=inline_serializer(
            "APIRoot",
            {
                "name": serializers.CharField(),
                "version": serializers.CharField(),
                "schema": serializers.URLField(),
                "docs": serializers.URLField(),
                "health": serializers.URLField(),
                "endpoints": serializers.DictField(child=serializers.DictField(child=serializers.URLField())),
            },
        )
    )
    def get(self, request):
        return Response(
            {
                "name": "Inkwell",
                "version": "v1",
                "schema": request.build_absolute_uri(reverse("schema")),
                "docs": request.build_absolute_uri(reverse("docs")),
                "health": request.build_absolute_uri(reverse("health")),
                "endpoints": {
                    app: {name: request.build_absolute_uri(path) for name, path in routes.items()}
                    for app, routes in api_endpoints(get_resolver(getattr(request, "urlconf", None))).items()
                },
            }
        )


def _walk(patterns, prefix: str = ""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern).lstrip("^").removesuffix("$")
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.callback


def api_endpoints(resolver, root: str = "api/v1/") -> dict[str, dict[str, str]]:
    """Every collection endpoint under ``root`` (no ids, no formats), grouped by the app whose
    view serves it: ``{"styleguides": {"style-guides": "/api/v1/style-guides/"}, …}``. Read from
    the URL map, so tenancy names no app above it and a new router entry shows up by itself."""
    grouped: dict[str, dict[str, str]] = {}
    for route, callback in _walk(resolver.url_patterns):
        view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        if view is None or not route.startswith(root) or "(?P" in route or "<" in route:
            continue
        name = route.removeprefix(root).rstrip("/")
        if not name or name in ("schema", "docs", "health"):
            continue
        grouped.setdefault(view.__module__.split(".")[0], {})[name] = "/" + route
    return {app: dict(sorted(routes.items())) for app, routes in sorted(grouped.items())}


def not_found(request, exception=None):
    """404 in the API error format under /api/, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return error_response(404, "not_found", "No such endpoint.")
    return page_not_found(request, exception)


def admin_query_timeout_page(request):
    """The admin's 503 for a statement cancelled past ``settings.ADMIN_STATEMENT_TIMEOUT_SECONDS``:
    the admin's frame, the cap and what to narrow. Rendered without the admin's per-request
    context (its app list asks the database for permissions), as Django's own 500 page is."""
    from django.contrib import admin

    context = {
        "site_header": admin.site.site_header,
        "site_title": admin.site.site_title,
        "cap_seconds": settings.ADMIN_STATEMENT_TIMEOUT_SECONDS,
    }
    return render(request, "admin/query_timeout.html", context, status=503)


def internal_error(request):
    """500 in the API error format under /api/ (503 with Retry-After when the database is
    unreachable, 503 ``query_timeout`` when a statement ran past the cap); in the admin a 503
    page asking for a narrower question when a statement ran past its cap; Django's page
    elsewhere. Django calls this inside its ``except`` block, so the exception being handled is
    ``sys.exc_info()``."""
    if request.path.startswith("/api/"):
        if is_query_timeout(sys.exc_info()[1]):
            return query_timeout_response()
        if is_database_unavailable(sys.exc_info()[1]):
            return database_unavailable_response()
        return error_response(500, "error", "A server error occurred.")
    if is_query_timeout(sys.exc_info()[1]) and is_admin_request(request):
        return admin_query_timeout_page(request)
    return server_error(request)
