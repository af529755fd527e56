"""Reads of the providers app: already scoped and optimised, so serializers never query."""

from __future__ import annotations

import datetime

import genai_prices
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from providers import models
from providers.catalogue_cache import catalogue_current
from tenancy.models import Organization


def model_resolve(*, name: str, provider: str | None = None) -> models.AIModel | None:
    """The model a name means: its canonical name or one of its aliases, case-insensitive.

    With ``provider`` (a slug), only that provider's models, or the models genai-prices says
    that provider resells (Azure's OpenAI models, Google's Anthropic ones). A name we do not
    list but genai-prices recognises (a dated snapshot newer than our aliases) resolves through
    genai-prices' own matching to the model it prices it as. Without ``provider``, a name many
    providers list means the provider genai-prices infers from the name (``gpt-4o``: OpenAI).
    None when nobody knows the name.
    """
    wanted = (name or "").strip().lower()
    if not wanted:
        return None
    slug = provider.strip().lower() if provider else None
    snapshot = genai_prices.data_snapshot.get_snapshot()
    all_models = models.AIModel.objects.select_related("provider")
    candidates = all_models.filter(provider__slug=slug) if slug else all_models
    exact = list(candidates.filter(Q(name__iexact=wanted) | Q(aliases__contains=[wanted]))[:100])
    if exact:
        inferred = None
        if not slug and len(exact) > 1:
            try:
                inferred = snapshot.find_provider(wanted, None, None).id
            except LookupError:
                inferred = None
        # A canonical name beats an alias; then the provider the name implies; then the slug.
        exact.sort(
            key=lambda model: (
                model.name.lower() != wanted,
                model.provider.slug != inferred,
                model.provider.slug,
                model.pk,
            )
        )
        return exact[0]
    try:
        snapshot_provider, snapshot_model = snapshot.find_provider_model(wanted, None, slug, None)
    except LookupError:
        return None
    for owner in [snapshot_provider.id, *(snapshot_provider.fallback_model_providers or ())]:
        found = all_models.filter(provider__slug=owner, name=snapshot_model.id).first()
        if found is not None:
            return found
    return None


def model_ids_named(name: str) -> tuple[int, ...]:
    """Ids of the models ``name`` means to a list filter (``generations/?model=``): every model
    whose canonical name it is, whatever its provider, and the model it resolves to as a name
    or alias (:func:`model_resolve`). Empty when nobody knows the name.

    Read once per process and catalogue version (``providers.catalogue_cache``), so a filtered
    list pays no catalogue query once warm; the rows are then filtered on ``model_id`` alone.
    """
    from providers.metering import Meter  # metering imports this module

    catalogue = catalogue_current()
    if name not in catalogue.model_ids:
        named = set(models.AIModel.objects.filter(name=name).values_list("pk", flat=True))
        resolved = Meter().model(name)
        if resolved is not None:
            named.add(resolved.pk)
        catalogue.model_ids[name] = tuple(sorted(named))
    return catalogue.model_ids[name]


def providers_list() -> QuerySet[models.Provider]:
    """Every provider, by slug."""
    return models.Provider.objects.order_by("slug")


def ai_models_with_current_price(*, at: datetime.datetime | None = None) -> QuerySet[models.AIModel]:
    """Models with their provider and, in ``current_prices``, the price valid at ``at`` (now)."""
    at = at or timezone.now()
    return (
        models.AIModel.objects.select_related("provider")
        .prefetch_related(
            Prefetch("prices", queryset=models.ModelPrice.objects.valid_at(at), to_attr="current_prices")
        )
        .order_by("provider__slug", "name")
    )


def credentials_for(*, organization: Organization) -> QuerySet[models.ProviderCredential]:
    """The organization's live credentials with their provider."""
    return models.ProviderCredential.objects.filter(organization=organization).select_related("provider")


def budgets_for(*, organization: Organization) -> QuerySet[models.Budget]:
    """The organization's live budgets with their credential."""
    return models.Budget.objects.filter(organization=organization).select_related("credential")


def ai_preferences_for(*, organization: Organization) -> QuerySet[models.AIPreference]:
    """The organization's live AI preferences with their preferred models, in order."""
    return models.AIPreference.objects.filter(organization=organization).prefetch_related(
        Prefetch(
            "preferred_models",
            queryset=models.PreferredModel.objects.select_related("model__provider").order_by(
                "position", "id"
            ),
        )
    )


def ai_preference_effective(
    *, organization: Organization, user_ref: str | None = None
) -> models.AIPreference | None:
    """The preference that applies to ``user_ref``: theirs if they have one, else the
    organization's (``user_ref`` null), else None."""
    preferences = ai_preferences_for(organization=organization)
    if user_ref:
        mine = preferences.filter(user_ref=user_ref).first()
        if mine is not None:
            return mine
    return preferences.filter(user_ref__isnull=True).first()
