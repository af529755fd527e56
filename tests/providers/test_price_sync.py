"""sync_model_prices: imports once, writes nothing the second time, versions a changed price;
the seed fixture loads twice without duplicates and matches the snapshot."""

from __future__ import annotations

import dataclasses
import datetime
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from providers.metering import Meter, usage_from_tokens
from providers.models import AIModel, ModelPrice, Provider
from providers.price_sync import BEGINNING, PriceWindow, price_sync, snapshot_catalogue
from tenancy.models import AuditEvent

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "providers.json"
FOUR = ("openai", "anthropic", "google", "perplexity")
UNIT_OF_COLUMN = ModelPrice.COLUMN_UNITS


def cost_of(*, model, usage, at):
    return Meter().cost(usage=usage, model=model, at=at).cost_usd


def Usage(input_tokens, output_tokens):
    return usage_from_tokens(input_tokens=input_tokens, output_tokens=output_tokens)


def writes(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].split()[0].upper() in {"INSERT", "UPDATE", "DELETE"}]


def test_first_sync_imports_every_provider_and_model_genai_prices_prices_with_every_unit(capsys):
    call_command("sync_model_prices", verbosity=2, stdout=(out := io.StringIO()))

    slugs = set(Provider.objects.values_list("slug", flat=True))
    assert {*FOUR, "groq", "mistral", "deepseek", "x-ai", "openrouter", "aws", "azure", "cohere"} <= slugs
    assert AIModel.objects.count() == len(snapshot_catalogue())
    assert ModelPrice.objects.filter(valid_to__isnull=True).count() == AIModel.objects.count()
    # Every unit genai-prices prices is stored, not only the five columns.
    now = timezone.now()
    units = {
        (price.model.provider.slug, price.model.name): price.units
        for price in ModelPrice.objects.valid_at(now).select_related("model__provider")
    }
    assert "input_audio_mtok" in units[("google", "gemini-2.0-flash")]
    assert "output_image_mtok" in units[("google", "gemini-2.5-flash-image")]
    assert "web_searches_kcount" in units[("anthropic", "claude-sonnet-4-5")]
    assert isinstance(units[("google", "gemini-2.5-pro")]["input_mtok"], dict)  # tiers kept
    assert "+ price openai/gpt-4o" in out.getvalue()
    assert "models" in capsys.readouterr().err  # tqdm progress
    # A dated price change in the snapshot becomes two versions with adjacent windows.
    o3 = list(ModelPrice.objects.filter(model__name="o3").order_by("valid_from"))
    assert [(p.valid_from, p.valid_to) for p in o3] == [
        (BEGINNING, datetime.datetime(2025, 6, 10, tzinfo=datetime.UTC)),
        (datetime.datetime(2025, 6, 10, tzinfo=datetime.UTC), None),
    ]


def test_a_real_sync_prints_a_summary_not_every_price():
    """`make seed` runs the first sync: thousands of '+ price' lines drowned its other output."""
    call_command("sync_model_prices", no_progress=True, stdout=(out := io.StringIO()))

    assert "+ price" not in out.getvalue()
    assert "new models" in out.getvalue()
    assert AIModel.objects.count() == len(snapshot_catalogue())


def test_second_sync_writes_nothing():
    price_sync()
    audit_events = AuditEvent.objects.count()
    stamps = list(ModelPrice.objects.order_by("id").values_list("id", "updated_at"))

    with CaptureQueriesContext(connection) as queries:
        call_command("sync_model_prices", no_progress=True, stdout=(out := io.StringIO()))

    assert writes(queries) == []
    assert "nothing written" in out.getvalue()
    assert AuditEvent.objects.count() == audit_events
    assert list(ModelPrice.objects.order_by("id").values_list("id", "updated_at")) == stamps


def with_new_current_price(catalogue, provider, name, **prices):
    changed = []
    for entry in catalogue:
        if (entry.provider, entry.name) == (provider, name):
            last = entry.windows[-1]
            units = {
                **last.prices["units"],
                **{UNIT_OF_COLUMN[name]: str(value) for name, value in prices.items()},
            }
            window = PriceWindow(last.valid_from, last.valid_to, {**last.prices, **prices, "units": units})
            entry = dataclasses.replace(entry, windows=(*entry.windows[:-1], window))
        changed.append(entry)
    return changed


def test_a_changed_price_closes_the_old_version_and_opens_a_new_one():
    first_sync = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    price_sync(now=first_sync, catalogue=snapshot_catalogue(FOUR))
    model = AIModel.objects.get(provider__slug="openai", name="gpt-4o")
    old = ModelPrice.objects.get(model=model)
    change_at = timezone.now()
    catalogue = with_new_current_price(
        snapshot_catalogue(FOUR), "openai", "gpt-4o", input_usd_per_mtok=Decimal("2")
    )

    report = price_sync(now=change_at, catalogue=catalogue)

    assert (report.prices_closed, report.prices_created, report.models_created) == (1, 1, 0)
    old.refresh_from_db()
    new = ModelPrice.objects.get(model=model, valid_to__isnull=True)
    assert (old.valid_from, old.valid_to) == (BEGINNING, change_at)  # the old version keeps its window
    assert old.input_usd_per_mtok == Decimal("2.5")
    assert (new.valid_from, new.input_usd_per_mtok, new.output_usd_per_mtok) == (change_at, 2, 10)
    usage = Usage(1_000_000, 0)
    assert cost_of(model=model, usage=usage, at=change_at - datetime.timedelta(seconds=1)) == Decimal("2.5")
    assert cost_of(model=model, usage=usage, at=change_at) == Decimal("2")
    assert AuditEvent.objects.filter(object_type="providers.modelprice").count() == 2
    # And the changed catalogue synced again is a no-op.
    assert not price_sync(catalogue=catalogue).changed


def with_dated_change(catalogue, provider, name, *, on, **prices):
    """The catalogue with a change of ``name``'s price dated ``on`` (a new last window)."""
    changed = []
    for entry in catalogue:
        if (entry.provider, entry.name) == (provider, name):
            last = entry.windows[-1]
            units = {
                **last.prices["units"],
                **{UNIT_OF_COLUMN[name]: str(value) for name, value in prices.items()},
            }
            windows = (
                *entry.windows[:-1],
                PriceWindow(last.valid_from, on, last.prices),
                PriceWindow(on, None, {**last.prices, **prices, "units": units}),
            )
            entry = dataclasses.replace(entry, windows=windows)
        changed.append(entry)
    return changed


def test_a_change_the_snapshot_dates_before_the_sync_takes_effect_on_its_date():
    """A later snapshot says gpt-4o's input price changed on 2026-11-01; synced on 2026-12-05, the
    old version closes on 2026-11-01 (not at the sync: a call of 2026-11-16 was billed at the new
    price), and the sync says which calls to re-price."""
    price_sync(now=datetime.datetime(2026, 10, 20, tzinfo=datetime.UTC), catalogue=snapshot_catalogue(FOUR))
    model = AIModel.objects.get(provider__slug="openai", name="gpt-4o")
    changed_on = datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)
    catalogue = with_dated_change(
        snapshot_catalogue(FOUR), "openai", "gpt-4o", on=changed_on, input_usd_per_mtok=Decimal("1")
    )

    report = price_sync(now=datetime.datetime(2026, 12, 5, tzinfo=datetime.UTC), catalogue=catalogue)

    prices = list(ModelPrice.objects.filter(model=model).order_by("valid_from"))
    assert [(p.valid_from, p.valid_to, p.input_usd_per_mtok) for p in prices] == [
        (BEGINNING, changed_on, Decimal("2.5")),
        (changed_on, None, Decimal("1")),
    ]
    usage = Usage(1_000_000, 0)
    assert cost_of(model=model, usage=usage, at=datetime.datetime(2026, 11, 16, tzinfo=datetime.UTC)) == 1
    assert cost_of(model=model, usage=usage, at=changed_on - datetime.timedelta(seconds=1)) == Decimal("2.5")
    assert report.backdated == [("openai/gpt-4o", changed_on)]
    assert any("reprice --model gpt-4o --from 2026-11-01" in line for line in report.lines)
    # Synced again: nothing to do.
    assert not price_sync(
        now=datetime.datetime(2026, 12, 6, tzinfo=datetime.UTC), catalogue=catalogue
    ).changed


def test_an_undated_correction_applies_from_the_sync():
    """No date in the snapshot (a corrected price since forever): history stays priced as it was."""
    first_sync = datetime.datetime(2026, 10, 20, tzinfo=datetime.UTC)
    price_sync(now=first_sync, catalogue=snapshot_catalogue(FOUR))
    corrected = with_new_current_price(snapshot_catalogue(FOUR), "openai", "gpt-4o", input_usd_per_mtok=1)
    sync = datetime.datetime(2026, 12, 5, tzinfo=datetime.UTC)

    report = price_sync(now=sync, catalogue=corrected)

    old = ModelPrice.objects.get(model__name="gpt-4o", valid_from=BEGINNING)
    assert old.valid_to == sync
    assert report.backdated == []


def test_dry_run_prints_the_diff_and_writes_nothing():
    price_sync(catalogue=snapshot_catalogue(FOUR))
    catalogue = with_new_current_price(
        snapshot_catalogue(FOUR), "anthropic", "claude-haiku-4-5", output_usd_per_mtok=Decimal("4")
    )
    before = list(ModelPrice.objects.order_by("id").values())

    report = price_sync(catalogue=catalogue, dry_run=True)

    assert report.prices_closed == 1
    assert any(line.startswith("- price anthropic/claude-haiku-4-5") for line in report.lines)
    assert any(
        "output_mtok=4" in line
        for line in report.lines
        if line.startswith("+ price anthropic/claude-haiku-4-5")
    )
    assert list(ModelPrice.objects.order_by("id").values()) == before


def test_dry_run_command_on_an_empty_database_lists_everything_and_writes_nothing():
    call_command("sync_model_prices", dry_run=True, no_progress=True, stdout=(out := io.StringIO()))
    providers = len({entry.provider for entry in snapshot_catalogue()})
    assert providers > 30
    assert f"would change {providers} providers" in out.getvalue()
    assert not Provider.objects.exists()
    assert not ModelPrice.objects.exists()


def test_seed_fixture_loads_twice_without_duplicates():
    call_command("loaddata", "providers", verbosity=0)
    counts = (Provider.objects.count(), AIModel.objects.count())
    call_command("loaddata", "providers", verbosity=0)

    assert (Provider.objects.count(), AIModel.objects.count()) == counts
    assert counts[0] == 4
    gpt4o = AIModel.objects.get_by_natural_key("openai", "gpt-4o")
    assert "gpt-4o-2024-08-06" in gpt4o.aliases
    assert AIModel.objects.get_by_natural_key("anthropic", "claude-sonnet-4-5").aliases == [
        "claude-sonnet-4-5-20250929"
    ]
    # Prices come from the sync, which finds the seeded models and adds only what is missing.
    report = price_sync(catalogue=snapshot_catalogue(FOUR))
    assert report.providers_created == 0
    assert report.models_updated == 0
    assert AIModel.objects.count() == len(snapshot_catalogue(FOUR)) == counts[1] + report.models_created


def test_seed_fixture_matches_the_snapshot():
    """Regenerate fixtures/providers.json when upgrading genai-prices (see providers.price_sync)."""
    fixture = json.loads(FIXTURE.read_text())
    seeded = {
        (row["fields"]["provider"][0], row["fields"]["name"])
        for row in fixture
        if row["model"] == "providers.aimodel"
    }
    current = {(entry.provider, entry.name) for entry in snapshot_catalogue(FOUR)}
    assert seeded <= current
