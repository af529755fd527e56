"""Reads of the providers app: already scoped and optimised, so serializers never query."""

from __future__ import annotations

import datetime

import genai_prices
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from providers.models import (
    AIModel,
    AIPreference,
    Budget,
    ModelPrice,
    PreferredModel,
    Provider,
    ProviderCredential,
)
from tenancy.models import Organization


def model_resolve(*, name: str, provider: str | None = None) -> AIModel | None:
    """The model a name means: its canonical name or one of its aliases, case-insensitive.

    With ``provider`` (a slug), only that provider's models. A name we do not list but
    genai-prices recognises (a dated snapshot newer than our aliases) resolves through
    genai-prices' own matching to the model it prices it as. None when nobody knows the name.
    """
    wanted = (name or "").strip().lower()
    if not wanted:
        return None
    models = AIModel.objects.select_related("provider")
    if provider:
        models = models.filter(provider__slug=provider.strip().lower())
    exact = list(models.filter(Q(name__iexact=wanted) | Q(aliases__contains=[wanted]))[:10])
    if exact:
        # A canonical name beats an alias; among equals the provider slug decides, stably.
        exact.sort(key=lambda model: (model.name.lower() != wanted, model.provider.slug, model.pk))
        return exact[0]
    try:
        snapshot_provider, snapshot_model = genai_prices.data_snapshot.get_snapshot().find_provider_model(
            wanted, None, provider.strip().lower() if provider else None, None
        )
    except LookupError:
        return None
    return models.filter(provider__slug=snapshot_provider.id, name=snapshot_model.id).first()


def providers_list() -> QuerySet[Provider]:
    """Every provider, by slug."""
    return Provider.objects.order_by("slug")


def ai_models_with_current_price(*, at: datetime.datetime | None = None) -> QuerySet[AIModel]:
    """Models with their provider and, in ``current_prices``, the price valid at ``at`` (now)."""
    at = at or timezone.now()
    return (
        AIModel.objects.select_related("provider")
        .prefetch_related(
            Prefetch("prices", queryset=ModelPrice.objects.valid_at(at), to_attr="current_prices")
        )
        .order_by("provider__slug", "name")
    )


def credentials_for(*, organization: Organization) -> QuerySet[ProviderCredential]:
    """The organization's live credentials with their provider."""
    return ProviderCredential.objects.filter(organization=organization).select_related("provider")


def budgets_for(*, organization: Organization) -> QuerySet[Budget]:
    """The organization's live budgets with their credential."""
    return Budget.objects.filter(organization=organization).select_related("credential")


def ai_preferences_for(*, organization: Organization) -> QuerySet[AIPreference]:
    """The organization's live AI preferences with their preferred models, in order."""
    return AIPreference.objects.filter(organization=organization).prefetch_related(
        Prefetch(
            "preferred_models",
            queryset=PreferredModel.objects.select_related("model__provider").order_by("position", "id"),
        )
    )


def ai_preference_effective(
    *, organization: Organization, user_ref: str | None = None
) -> AIPreference | None:
    """The preference that applies to ``user_ref``: theirs if they have one, else the
    organization's (``user_ref`` null), else None."""
    preferences = ai_preferences_for(organization=organization)
    if user_ref:
        mine = preferences.filter(user_ref=user_ref).first()
        if mine is not None:
            return mine
    return preferences.filter(user_ref__isnull=True).first()
