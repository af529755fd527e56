"""Enumerations of the providers app."""

from django.db import models


class CostStatus(models.TextChoices):
    """Whether a cost could be computed, never a silent $0: ``priced`` (cost computed from the
    usage and the price valid then), ``unpriced`` (the model or its price at that moment is
    unknown, or the price cannot read this usage), ``no_usage`` (no usage was reported at all)."""

    PRICED = "priced"
    UNPRICED = "unpriced"
    NO_USAGE = "no_usage", "No usage reported"


class CredentialStatus(models.TextChoices):
    """A provider credential is usable while active; a revoked one is kept for its history."""

    ACTIVE = "active"
    REVOKED = "revoked"


class BudgetPeriod(models.TextChoices):
    """The calendar window (UTC) a budget's USD limit applies to."""

    DAY = "day"
    WEEK = "week", "Week (from Monday)"
    MONTH = "month"


class GenerationMode(models.TextChoices):
    """The default style a content service generates in when the request names none."""

    CREATIVE = "creative"
    PROFESSIONAL = "professional"
    BRANDABLE = "brandable"
    TECH_FOCUSED = "tech-focused", "Tech-focused"


class BudgetCheckReason(models.TextChoices):
    """Why a budget check answered as it did."""

    NO_BUDGET = "no_budget", "No budget applies"
    WITHIN_BUDGET = "within_budget", "Within every budget"
    BUDGET_EXHAUSTED = "budget_exhausted", "USD limit reached"
    RATE_LIMIT_MINUTE = "rate_limit_minute", "Too many requests this minute"
    RATE_LIMIT_HOUR = "rate_limit_hour", "Too many requests this hour"
