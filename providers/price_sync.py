"""Every provider and model genai-prices prices, read from its bundled snapshot and written as
versioned :class:`~providers.models.ModelPrice` rows holding every price unit of each version
(``ModelPrice.units``), so ``providers.metering`` prices any unit genai-prices knows.

The snapshot gives each model a price timeline (conditional prices that start on a date); we
turn it into windows ``[valid_from, valid_to)``. A sync then:

- creates providers and models it has not seen (and updates a model's context window,
  deprecation and aliases when the snapshot changed them);
- imports the whole timeline of a model that has no prices yet;
- for a model with prices, compares the price valid *now* with the snapshot's: equal → nothing;
  different → the old row is closed and a new row opens: at the date the snapshot gives the
  change when it dates it after the old row's start (the calls since are reported, for
  ``reprice``: they were billed at the new price), else at ``now`` (an undated correction: the
  old row keeps its window, so history stays priced as it was); scheduled future prices are
  added or replaced.

A run that finds nothing to change writes nothing, not even an audit event.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from importlib.metadata import version

from django.db import transaction
from django.utils import timezone
from genai_prices import types as gp
from genai_prices.data_snapshot import get_snapshot

from providers.catalogue_cache import catalogue_changed
from providers.metering import units_from_snapshot
from providers.models import AIModel, ModelPrice, Provider
from tenancy.actors import SYSTEM, Actor
from tenancy.choices import AuditAction
from tenancy.services import audit_record
from tenancy.transactions import rolled_back_if

# Prices with no start date apply since forever; windows need a real start.
BEGINNING = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
SOURCE_NAME = "genai-prices"
SOURCE = f"{SOURCE_NAME} {version(SOURCE_NAME)}"

# genai-prices key → our convenience column. Every key (web searches, audio, images …) is in
# ``ModelPrice.units``; these five are repeated as columns for admin lists and the API.
PRICE_KEYS = {
    "input_mtok": "input_usd_per_mtok",
    "output_mtok": "output_usd_per_mtok",
    "cache_read_mtok": "cache_read_usd_per_mtok",
    "cache_write_mtok": "cache_write_usd_per_mtok",
    "requests_kcount": "usd_per_k_requests",
}
# Fine-tune name patterns and prefixes are match rules, not models a call reports.
NOT_A_MODEL = re.compile(r"^ft:|[-.]$")
# Published maximum output tokens; genai-prices does not carry them. Others stay unknown (null).
MAX_OUTPUT_TOKENS = {
    ("openai", "gpt-4o"): 16_384,
    ("openai", "gpt-4o-mini"): 16_384,
    ("openai", "gpt-4.1"): 32_768,
    ("openai", "gpt-4.1-mini"): 32_768,
    ("openai", "gpt-4.1-nano"): 32_768,
    ("openai", "gpt-5"): 128_000,
    ("openai", "gpt-5-mini"): 128_000,
    ("openai", "gpt-5-nano"): 128_000,
    ("openai", "o3"): 100_000,
    ("openai", "o4-mini"): 100_000,
    ("anthropic", "claude-sonnet-4-5"): 64_000,
    ("anthropic", "claude-haiku-4-5"): 64_000,
    ("anthropic", "claude-opus-4-1"): 32_000,
    ("anthropic", "claude-sonnet-4-0"): 64_000,
    ("anthropic", "claude-opus-4-0"): 32_000,
    ("google", "gemini-2.5-pro"): 65_536,
    ("google", "gemini-2.5-flash"): 65_536,
    ("google", "gemini-2.5-flash-lite"): 65_536,
}
# Dated snapshot names the APIs report that genai-prices matches by prefix, not by name.
EXTRA_ALIASES = {
    ("anthropic", "claude-sonnet-4-5"): ("claude-sonnet-4-5-20250929",),
    ("anthropic", "claude-haiku-4-5"): ("claude-haiku-4-5-20251001",),
    ("anthropic", "claude-opus-4-1"): ("claude-opus-4-1-20250805",),
    ("anthropic", "claude-sonnet-4-0"): ("claude-sonnet-4-20250514",),
    ("anthropic", "claude-opus-4-0"): ("claude-opus-4-20250514",),
}


@dataclass(frozen=True)
class PriceWindow:
    """One version of a model's price from the snapshot."""

    valid_from: datetime.datetime
    valid_to: datetime.datetime | None
    prices: dict  # ModelPrice column → Decimal | None, plus "tiers" and "units" (every unit)


@dataclass(frozen=True)
class CatalogueModel:
    """A model genai-prices prices, as the snapshot describes it."""

    provider: str
    name: str
    display_name: str
    aliases: tuple[str, ...]
    context_window: int | None
    max_output_tokens: int | None
    deprecated: bool
    windows: tuple[PriceWindow, ...]


@dataclass
class SyncReport:
    """What a sync did (or, in a dry run, would do): one line per change."""

    lines: list[str] = field(default_factory=list)
    providers_created: int = 0
    models_created: int = 0
    models_updated: int = 0
    prices_created: int = 0
    prices_closed: int = 0
    prices_deleted: int = 0
    # (provider/model, date) of each price change the snapshot dates before the sync: the calls
    # since were priced at the old rate until re-priced.
    backdated: list[tuple[str, datetime.datetime]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(
            (
                self.providers_created,
                self.models_created,
                self.models_updated,
                self.prices_created,
                self.prices_closed,
                self.prices_deleted,
            )
        )


def _equals_aliases(match, model_id: str) -> set[str]:
    """The exact names a match rule accepts (``equals`` clauses), other than the id itself."""
    found: set[str] = set()
    if isinstance(match, gp.ClauseEquals):
        found.add(match.equals.lower())
    elif isinstance(match, gp.ClauseOr):
        for clause in match.or_:
            found |= _equals_aliases(clause, model_id)
    return found - {model_id.lower()}


def snapshot_prices_as_columns(model_price: gp.ModelPrice) -> dict:
    """A genai-prices ``ModelPrice`` as our row: every unit in ``units``, and the common ones
    as convenience columns (base prices, tiers as JSON)."""
    columns: dict = {column: None for column in PRICE_KEYS.values()}
    tiers: dict = {}
    for key, column in PRICE_KEYS.items():
        value = getattr(model_price, key, None)
        if isinstance(value, gp.TieredPrices):
            columns[column] = value.base
            tiers[column] = [
                {"start": tier.start, "usd_per_mtok": str(tier.price)}
                for tier in sorted(value.tiers, key=lambda tier: tier.start)
            ]
        else:
            columns[column] = value
    columns["tiers"] = tiers
    columns["units"] = units_from_snapshot(model_price)
    return columns


def _normalised(units: dict) -> dict:
    """Comparable form of price units: Decimals without trailing-zero noise, tiers sorted."""
    normal = {}
    for key, value in sorted(units.items()):
        if key == "time_of_day":
            normal[key] = [(daily["start"], daily["end"], _normalised(daily["units"])) for daily in value]
        elif isinstance(value, dict):
            normal[key] = {
                "base": Decimal(value["base"]).normalize(),
                "tiers": sorted((int(t["start"]), Decimal(t["price"]).normalize()) for t in value["tiers"]),
            }
        else:
            normal[key] = Decimal(value).normalize()
    return normal


def _window_prices(conditional: list[gp.ConditionalPrice], start: datetime.datetime) -> dict:
    """The prices of the window starting at ``start``, as genai-prices' ``get_prices`` picks
    them (the last active conditional price wins): the one in force whatever the hour, plus,
    in ``units["time_of_day"]``, those that replace it during a daily UTC interval."""
    default = conditional[0].prices
    for price in conditional:
        constraint = price.constraint
        if constraint is None or (
            isinstance(constraint, gp.StartDateConstraint) and constraint.active(start)
        ):
            default = price.prices
            default_index = conditional.index(price)
    columns = snapshot_prices_as_columns(default)
    daily = [
        {
            "start": price.constraint.start_time.isoformat(),
            "end": price.constraint.end_time.isoformat(),
            "units": units_from_snapshot(price.prices),
        }
        for price in conditional[default_index + 1 :]
        if isinstance(price.constraint, gp.TimeOfDateConstraint)
    ]
    if daily:
        columns["units"]["time_of_day"] = daily
    return columns


def _windows(model: gp.ModelInfo) -> tuple[PriceWindow, ...] | None:
    """The model's price timeline as windows (None when it has no prices). Daily time-of-day
    prices (DeepSeek's off-peak hours) are kept in each window's units (``time_of_day``)."""
    conditional = (
        model.prices if isinstance(model.prices, list) else [gp.ConditionalPrice(prices=model.prices)]
    )
    starts = set()
    for price in conditional:
        if isinstance(price.constraint, gp.StartDateConstraint):
            starts.add(
                datetime.datetime.combine(price.constraint.start_date, datetime.time(), tzinfo=datetime.UTC)
            )
    boundaries = sorted({BEGINNING, *starts})
    windows: list[PriceWindow] = []
    for index, start in enumerate(boundaries):
        end = boundaries[index + 1] if index + 1 < len(boundaries) else None
        # Ask genai-prices which price it uses at the window's start: the same rule calc_price applies.
        prices = _window_prices(conditional, start)
        if windows and _normalised(windows[-1].prices["units"]) == _normalised(prices["units"]):
            windows[-1] = PriceWindow(windows[-1].valid_from, end, windows[-1].prices)
            continue
        windows.append(PriceWindow(start, end, prices))
    if not any(w.prices["units"] for w in windows):
        return None
    return tuple(windows)


def snapshot_catalogue(providers: Iterable[str] | None = None) -> list[CatalogueModel]:
    """The priced models in genai-prices' snapshot (of ``providers``, default every provider),
    with their price windows."""
    snapshot = get_snapshot()
    if providers is None:
        providers = [provider.id for provider in snapshot.providers]
    key = (id(snapshot), tuple(sorted(providers)))
    if key not in _CATALOGUES:
        # A loaded snapshot never changes; reading it costs ~0.4 s, so once per process.
        _CATALOGUES.clear()
        _CATALOGUES[key] = (snapshot, _catalogue(snapshot, key[1]))
    return list(_CATALOGUES[key][1])


_CATALOGUES: dict[tuple, tuple] = {}


def _catalogue(snapshot, providers: tuple[str, ...]) -> tuple[CatalogueModel, ...]:
    wanted = set(providers)
    catalogue = []
    for provider in snapshot.providers:
        if provider.id not in wanted:
            continue
        for model in provider.models:
            if NOT_A_MODEL.search(model.id) or len(model.id) > 200:
                continue
            windows = _windows(model)
            if windows is None:
                continue
            catalogue.append(
                CatalogueModel(
                    provider=provider.id,
                    name=model.id,
                    display_name=model.name or model.id,
                    aliases=tuple(
                        sorted(
                            _equals_aliases(model.match, model.id)
                            | set(EXTRA_ALIASES.get((provider.id, model.id), ()))
                        )
                    ),
                    context_window=model.context_window,
                    max_output_tokens=MAX_OUTPUT_TOKENS.get((provider.id, model.id)),
                    deprecated=bool(model.deprecated),
                    windows=windows,
                )
            )
    return tuple(catalogue)


def _describe(units: dict) -> str:
    parts = []
    for key, value in sorted(units.items()):
        if key == "time_of_day":
            parts.extend(f"[{daily['start']}-{daily['end']}: {_describe(daily['units'])}]" for daily in value)
        elif isinstance(value, dict):
            parts.append(f"{key}={Decimal(value['base']).normalize()}+tiers")
        else:
            parts.append(f"{key}={Decimal(value).normalize()}")
    return ", ".join(parts) or "no prices"


def _window_text(start: datetime.datetime, end: datetime.datetime | None) -> str:
    return f"[{start.isoformat()}, {end.isoformat() if end else '…'})"


def price_sync(
    *,
    now: datetime.datetime | None = None,
    dry_run: bool = False,
    actor: Actor = SYSTEM,
    catalogue: list[CatalogueModel] | None = None,
    progress: Callable[[Iterable], Iterable] = lambda items: items,
) -> SyncReport:
    """Bring providers, models and prices in line with the snapshot, in one transaction.

    ``dry_run`` computes the same report and rolls back. ``catalogue`` replaces the snapshot
    (tests use it to simulate a price change). ``progress`` wraps the model loop (tqdm).
    """
    now = now or timezone.now()
    catalogue = snapshot_catalogue() if catalogue is None else catalogue
    report = SyncReport()
    with rolled_back_if(dry_run), transaction.atomic():
        _sync(now=now, catalogue=catalogue, report=report, progress=progress)
        if report.changed and not dry_run:
            audit_record(
                organization=None,
                actor=actor,
                action=AuditAction.UPDATE,
                object_type="providers.modelprice",
                object_id="sync",
                changes={
                    "source": [None, SOURCE],
                    "providers_created": [None, report.providers_created],
                    "models_created": [None, report.models_created],
                    "models_updated": [None, report.models_updated],
                    "prices_created": [None, report.prices_created],
                    "prices_closed": [None, report.prices_closed],
                    "prices_deleted": [None, report.prices_deleted],
                },
            )
        if not dry_run:
            # bulk_create sends no post_save: say so once for the whole sync.
            catalogue_changed()
    return report


def _sync(*, now, catalogue, report: SyncReport, progress) -> None:
    snapshot_names = {provider.id: provider.name for provider in get_snapshot().providers}
    providers = {provider.slug: provider for provider in Provider.objects.select_for_update()}
    for slug in sorted({entry.provider for entry in catalogue} - set(providers)):
        providers[slug] = Provider.objects.create(slug=slug, name=snapshot_names.get(slug) or slug)
        report.providers_created += 1
        report.lines.append(f"+ provider {slug}")
    existing = {
        (model.provider.slug, model.name): model
        for model in AIModel.objects.select_related("provider").select_for_update(of=("self",))
    }
    prices_by_model: dict[int, list[ModelPrice]] = {}
    for price in ModelPrice.objects.select_for_update().order_by("valid_from"):
        prices_by_model.setdefault(price.model_id, []).append(price)

    # New models and prices are inserted in bulk (a first import is ~280 rows); closing old
    # versions happens first, row by row, so "one open price per model" holds at every step.
    new_models = []
    for entry in catalogue:
        if (entry.provider, entry.name) not in existing:
            new_models.append(
                AIModel(
                    provider=providers[entry.provider],
                    name=entry.name,
                    display_name=entry.display_name,
                    aliases=sorted({alias.lower() for alias in entry.aliases}),
                    context_window=entry.context_window,
                    max_output_tokens=entry.max_output_tokens,
                    is_deprecated=entry.deprecated,
                )
            )
            report.models_created += 1
            report.lines.append(f"+ model {entry.provider}/{entry.name}")
    for model in AIModel.objects.bulk_create(new_models):
        existing[(model.provider.slug, model.name)] = model
    created_pks = {model.pk for model in new_models}

    new_prices: list[ModelPrice] = []
    for entry in progress(catalogue):
        label = f"{entry.provider}/{entry.name}"
        model = existing[(entry.provider, entry.name)]
        if model.pk not in created_pks:
            _update_model(model, entry, report, label)
        _sync_prices(model, entry, prices_by_model.get(model.pk, []), now, report, label, new_prices)
    ModelPrice.objects.bulk_create(new_prices)


def _update_model(model: AIModel, entry: CatalogueModel, report: SyncReport, label: str) -> None:
    wanted = {
        "display_name": entry.display_name,
        # Union: aliases an operator added by hand survive a sync.
        "aliases": sorted(set(model.aliases) | set(entry.aliases)),
        "context_window": entry.context_window,
        "is_deprecated": entry.deprecated,
    }
    if entry.max_output_tokens is not None:
        wanted["max_output_tokens"] = entry.max_output_tokens
    changed = {name: value for name, value in wanted.items() if getattr(model, name) != value}
    if changed:
        for name, value in changed.items():
            report.lines.append(f"~ model {label}: {name} {getattr(model, name)!r} → {value!r}")
            setattr(model, name, value)
        model.save(update_fields=[*changed, "updated_at"])
        report.models_updated += 1


def _create_price(model, window_from, window_to, prices, report, label, new_prices) -> None:
    new_prices.append(
        ModelPrice(model=model, valid_from=window_from, valid_to=window_to, source=SOURCE, **prices)
    )
    report.prices_created += 1
    report.lines.append(
        f"+ price {label} {_window_text(window_from, window_to)}: {_describe(prices['units'])}"
    )


def _sync_prices(
    model, entry: CatalogueModel, rows: list[ModelPrice], now, report: SyncReport, label: str, new_prices
) -> None:
    if not rows:
        for window in entry.windows:
            _create_price(model, window.valid_from, window.valid_to, window.prices, report, label, new_prices)
        return

    def covers(start, end, moment):
        return start <= moment and (end is None or moment < end)

    desired_now = next(w for w in entry.windows if covers(w.valid_from, w.valid_to, now))
    desired_future = [w for w in entry.windows if w.valid_from > now]
    current = next((row for row in rows if covers(row.valid_from, row.valid_to, now)), None)
    future_rows = [row for row in rows if row.valid_from > now]
    next_start = desired_future[0].valid_from if desired_future else None

    # Future rows have priced nothing yet: keep those that still match, delete the rest.
    kept_future = []
    for row in future_rows:
        match = next((w for w in desired_future if w.valid_from == row.valid_from), None)
        if (
            match is not None
            and _normalised(row.comparable()) == _normalised(match.prices["units"])
            and (row.valid_to == match.valid_to)
        ):
            kept_future.append(row.valid_from)
            continue
        report.prices_deleted += 1
        report.lines.append(f"- scheduled price {label} {_window_text(row.valid_from, row.valid_to)}")
        row.delete()

    if current is not None and _normalised(current.comparable()) == _normalised(desired_now.prices["units"]):
        if current.valid_to != next_start:
            report.prices_closed += 1
            report.lines.append(
                f"~ price {label} window {_window_text(current.valid_from, current.valid_to)} → "
                f"{_window_text(current.valid_from, next_start)}"
            )
            current.valid_to = next_start
            current.save(update_fields=["valid_to", "updated_at"])
    else:
        opens = now
        if current is not None:
            # A change the snapshot dates (a start after the current version's) took effect on
            # that date: calls since were billed at the new price. An undated correction has no
            # such date: it applies from now, and what the old version priced stays as it was.
            # Only a version genai-prices wrote: one staff entered keeps the window they gave it.
            from_snapshot = current.source.startswith(SOURCE_NAME)
            if from_snapshot and current.valid_from < desired_now.valid_from < now:
                opens = desired_now.valid_from
                report.lines.append(
                    f"! price {label} changed on {opens.isoformat()}, before this sync: calls since "
                    f"were priced at the old rate; `manage.py reprice --model {entry.name} "
                    f"--from {opens.date().isoformat()}` prices them at the new one"
                )
                report.backdated.append((label, opens))
            report.prices_closed += 1
            report.lines.append(
                f"- price {label} {_describe(current.comparable())} closes at {opens.isoformat()}"
            )
            current.valid_to = opens
            current.save(update_fields=["valid_to", "updated_at"])
        _create_price(model, opens, next_start, desired_now.prices, report, label, new_prices)

    for window in desired_future:
        if window.valid_from not in kept_future:
            _create_price(model, window.valid_from, window.valid_to, window.prices, report, label, new_prices)
