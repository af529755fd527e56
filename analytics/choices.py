"""Enumerations of the analytics app: call outcomes, report dimensions, retention targets."""

from __future__ import annotations

from django.db import models


class HttpMethod(models.TextChoices):
    """The HTTP method of a provider API call."""

    GET = "GET", "GET"
    POST = "POST", "POST"
    PUT = "PUT", "PUT"
    PATCH = "PATCH", "PATCH"
    DELETE = "DELETE", "DELETE"


class ErrorType(models.TextChoices):
    """Why a provider call failed (blank on success)."""

    TIMEOUT = "timeout"
    RATE_LIMIT = "rate_limit", "Rate limited"
    SERVER_ERROR = "server_error", "Provider server error"
    AUTH = "auth", "Authentication"
    INVALID_REQUEST = "invalid_request", "Invalid request"
    OTHER = "other"


# The rollup column that counts each error type.
ERROR_TYPE_COLUMNS = {
    ErrorType.TIMEOUT: "timeouts",
    ErrorType.RATE_LIMIT: "rate_limited",
    ErrorType.SERVER_ERROR: "server_errors",
    ErrorType.AUTH: "auth_errors",
    ErrorType.INVALID_REQUEST: "invalid_requests",
    ErrorType.OTHER: "other_errors",
}


class ReportSource(models.TextChoices):
    """Which rollup a report reads: generations (daily) or provider calls (hourly)."""

    GENERATIONS = "generations"
    PROVIDER_CALLS = "provider_calls", "Provider calls"


class GroupBy(models.TextChoices):
    """The dimensions a report can be grouped by (``group_by=model,month``)."""

    MODEL = "model"
    PROVIDER = "provider"
    CONTENT_TYPE = "content_type", "Content type"
    USER = "user", "User reference"
    DAY = "day", "Day (UTC)"
    MONTH = "month", "Month (UTC)"


class RetentionTarget(models.TextChoices):
    """The kinds of raw rows the retention policy expires, each with its own age limit."""

    FAILED_GENERATIONS = "failed_generations", "Failed generations"
    GENERATIONS = "generations"
    PROVIDER_CALLS = "provider_calls", "Provider calls"
    PERFORMANCE_METRICS = "performance_metrics", "Performance metrics"
    EMPTY_RUNS = "empty_runs", "Runs with no generations"
