"""Realistic demo data for development and benchmarks (``manage.py seed_demo``).

Per organization: campaigns, multi-model runs, generation trees with revisions and variants for
other verticals, a year of dates, the catalogue's models (a few unknown ones, kept unpriced),
every status, cache entries and a year of cache counters. Rows are built in Python and written
with ``bulk_create`` in batches (ids reserved from the sequence first, so children can point at
parents of the same batch); each batch is one transaction that also sends
``generations_recorded``, so analytics' rollups see the demo data as they see real data.

Usage and costs go through the one metering core (``providers.metering.Meter``) at each row's
``occurred_at`` (its ``created_at``); a Meter reads each model's prices once.
"""

from __future__ import annotations

import datetime
import random
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from generations.choices import (
    ContentFormat,
    ContentType,
    GenerationKind,
    GenerationStatus,
    RecordedAction,
    TargetChannel,
)
from generations.models import CacheDailyStats, CacheEntry, Campaign, Generation, GenerationRun
from generations.services.copy_writer import next_ids
from generations.signals import generations_recorded
from providers.choices import CostStatus, GenerationMode
from providers.metering import Meter
from providers.models import AIModel
from styleguides.models import Vertical
from tenancy import services as tenancy_services
from tenancy.bulk import rows_update
from tenancy.choices import AuditAction
from tenancy.models import Organization

STATUS_WEIGHTS = {
    GenerationStatus.SUCCESS: 84,
    GenerationStatus.FAILED: 5,
    GenerationStatus.PARTIAL: 3,
    GenerationStatus.CANCELLED: 2,
    GenerationStatus.PENDING: 2,
    GenerationStatus.PROCESSING: 4,
}
TYPE_CHANNELS = {
    ContentType.BLOG: [TargetChannel.BLOG, TargetChannel.WEB],
    ContentType.SOCIAL: [
        TargetChannel.LINKEDIN,
        TargetChannel.X,
        TargetChannel.INSTAGRAM,
        TargetChannel.FACEBOOK,
    ],
    ContentType.AMAZON: [TargetChannel.AMAZON_LISTING],
    ContentType.COMPETITOR: [TargetChannel.OTHER],
    ContentType.NAME: [TargetChannel.WEB],
    ContentType.TEMPLATE: [TargetChannel.EMAIL],
    ContentType.CHAT: [TargetChannel.WEB],
    ContentType.INSIGHTS: [TargetChannel.OTHER],
    ContentType.OTHER: [TargetChannel.OTHER],
}
TYPE_WEIGHTS = {
    ContentType.BLOG: 30,
    ContentType.SOCIAL: 30,
    ContentType.AMAZON: 8,
    ContentType.COMPETITOR: 4,
    ContentType.NAME: 8,
    ContentType.TEMPLATE: 6,
    ContentType.CHAT: 8,
    ContentType.INSIGHTS: 4,
    ContentType.OTHER: 2,
}
# Models content services actually use; whichever of them the catalogue knows are priced.
FAVOURITE_MODELS = [
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "claude-sonnet-4-0",
    "claude-3-5-haiku-latest",
    "gemini-2.5-flash",
    "gemini-2.5-pro",
    "sonar",
]
UNKNOWN_MODELS = ["ft:acme-brand-voice-2", "local-llama-70b"]  # kept as unpriced
TOPICS = [
    "rooftop breakfasts",
    "recovery after a marathon",
    "zero-trust onboarding",
    "telehealth follow-ups",
    "a weekend in Porto",
    "team jerseys that breathe",
    "the patient waiting room",
    "API rate limits explained",
]
CAMPAIGNS = [
    "Summer launch",
    "Back to school",
    "Black Friday",
    "Spring wellness",
    "Year in review",
    "Open house",
]


class SeedReport(Counter):
    """What a seeding created, by kind: ``organizations``, ``campaigns``, ``runs``,
    ``generations`` (of which ``revisions``, ``variants`` and ``unpriced``) and ``cache_entries``."""


@dataclass
class _Node:
    id: int
    root_id: int
    depth: int
    created_at: datetime.datetime
    vertical_id: int | None
    content_type: str
    model_name: str


class _Seeder:
    def __init__(self, *, rng: random.Random, now: datetime.datetime, batch_size: int, report: SeedReport):
        self.rng = rng
        self.now = now
        self.batch_size = batch_size
        self.report = report
        self.token = uuid.uuid4().hex[:6]
        self.models = self._models()
        self.meter = Meter()
        self.verticals = list(Vertical.objects.order_by("slug"))

    def _models(self) -> dict[str, AIModel | None]:
        known = {
            model.name: model
            for model in AIModel.objects.select_related("provider").filter(name__in=FAVOURITE_MODELS)
        }
        chosen: dict[str, AIModel | None] = {name: model for name, model in known.items()}
        for name in UNKNOWN_MODELS:
            chosen[name] = None
        if len(chosen) == len(UNKNOWN_MODELS):  # empty catalogue: names only, all unpriced
            chosen.update({name: None for name in FAVOURITE_MODELS[:4]})
        return chosen

    def pick(self, weights: dict):
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def model_name(self) -> str:
        names = list(self.models)
        weights = [1 if self.models[name] is None else 12 for name in names]
        return self.rng.choices(names, weights=weights)[0]

    # --- rows ------------------------------------------------------------------------------------

    def campaigns(self, organization) -> list[Campaign]:
        rows = []
        for index, name in enumerate(self.rng.sample(CAMPAIGNS, k=min(len(CAMPAIGNS), 5))):
            starts = (self.now - datetime.timedelta(days=self.rng.randint(30, 360))).date()
            rows.append(
                Campaign(
                    organization=organization,
                    name=f"{name} {self.token}-{index}",
                    description=f"Demo campaign: {name.lower()}.",
                    starts_on=starts,
                    ends_on=starts + datetime.timedelta(days=self.rng.randint(14, 90)),
                )
            )
        Campaign.objects.bulk_create(rows)
        self.report["campaigns"] += len(rows)
        return rows

    def runs(self, organization, count: int) -> list[GenerationRun]:
        rows = [
            GenerationRun(
                organization=organization,
                prompt=f"Name ideas for {self.rng.choice(TOPICS)}",
                content_type=ContentType.NAME,
                mode=self.rng.choice(GenerationMode.values),
                deep_thinking=self.rng.random() < 0.3,
                models_requested=self.rng.sample(list(self.models), k=min(3, len(self.models))),
                created_at=self.now - datetime.timedelta(days=self.rng.uniform(0, 365)),
            )
            for _ in range(count)
        ]
        GenerationRun.objects.bulk_create(rows)
        self.report["runs"] += len(rows)
        return rows

    def generation(
        self, organization, pk: int, parent: _Node | None, campaign, run, *, model_name: str, created_at
    ) -> Generation:
        rng = self.rng
        content_type = parent.content_type if parent else self.pick(TYPE_WEIGHTS)
        status = self.pick(STATUS_WEIGHTS)
        kind = GenerationKind.ORIGINAL
        vertical_id = rng.choice(self.verticals).pk if self.verticals and rng.random() < 0.8 else None
        if parent is not None:
            vertical_id = parent.vertical_id
            kind = GenerationKind.REVISION
            others = [vertical for vertical in self.verticals if vertical.pk != parent.vertical_id]
            if others and rng.random() < 0.3:
                kind = GenerationKind.VARIANT
                vertical_id = rng.choice(others).pk
        input_tokens = output_tokens = cache_read = cache_write = 0
        if status not in (GenerationStatus.PENDING, GenerationStatus.PROCESSING):
            input_tokens = rng.randint(300, 9000)
            output_tokens = 0 if status == GenerationStatus.FAILED else rng.randint(60, 2200)
            if rng.random() < 0.35:
                cache_read = rng.randint(0, input_tokens // 2)
            if model_name.startswith("claude") and rng.random() < 0.2:
                cache_write = rng.randint(0, (input_tokens - cache_read) // 3)
        model = self.models.get(model_name)
        tokens = None
        if status not in (GenerationStatus.PENDING, GenerationStatus.PROCESSING):
            tokens = {
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "cache_read_tokens": cache_read,
                "cache_write_tokens": cache_write,
            }
        metered = self.meter.measure(
            provider_name=model.provider.slug if model else "", model=model, at=created_at, tokens=tokens
        )
        topic = rng.choice(TOPICS)
        finished = status in GenerationStatus.terminal()
        self.report["unpriced"] += metered.cost_status == CostStatus.UNPRICED
        generation = Generation(
            pk=pk,
            organization=organization,
            request_id=f"demo-{self.token}-{pk}",
            user_ref=f"user-{rng.randint(1, 40)}" if rng.random() < 0.6 else None,
            campaign=campaign,
            run=run,
            content_type=content_type,
            agent_name=f"{content_type}-writer",
            vertical_id=vertical_id,
            provider=model.provider if model else None,
            provider_name=model.provider.slug if model else "",
            model=model,
            model_name=model_name,
            target_channel=rng.choice(TYPE_CHANNELS[content_type]),
            prompt=f"Write {content_type} content about {topic}.",
            parameters={"temperature": round(rng.uniform(0.2, 1.0), 2), "max_tokens": 2048},
            metadata={"seeded": True},
            content=""
            if status == GenerationStatus.FAILED or not finished
            else f"# {topic.capitalize()}\n\n{'Lorem ipsum dolor sit amet. ' * rng.randint(3, 30)}",
            content_format=ContentFormat.MARKDOWN,
            occurred_at=created_at,
            generation_time_ms=rng.randint(400, 45000) if finished else None,
            status=status,
            error_message="Provider timed out after 60 s" if status == GenerationStatus.FAILED else "",
            error_details={"type": "timeout"} if status == GenerationStatus.FAILED else {},
            completed_at=created_at + datetime.timedelta(seconds=rng.randint(1, 60)) if finished else None,
            parent_id=parent.id if parent else None,
            root_id=parent.root_id if parent else None,
            depth=parent.depth + 1 if parent else 0,
            kind=kind,
            created_at=created_at,
        )
        metered.apply(generation)
        return generation

    # --- one organization --------------------------------------------------------------------

    def organization(self, organization: Organization, count: int, progress: Callable) -> None:
        rng = self.rng
        campaigns = self.campaigns(organization)
        runs = self.runs(organization, max(1, count // 60))
        nodes: list[_Node] = []
        last_version: dict[int, int] = {}
        pending_run_models: list[tuple[GenerationRun, str]] = []
        batch: list[Generation] = []
        ids: list[int] = []
        bar = progress(total=count, desc=organization.slug, unit="gen")
        for _ in range(count):
            if not ids:
                ids = next_ids(min(self.batch_size, count))
            pk = ids.pop()
            if not pending_run_models and runs and rng.random() < 0.05:
                run = rng.choice(runs)
                pending_run_models = [(run, name) for name in run.models_requested]
            parent = None
            if pending_run_models:
                run, model_name = pending_run_models.pop()
                created_at = run.created_at + datetime.timedelta(seconds=rng.randint(1, 90))
            else:
                run, model_name = None, self.model_name()
                if nodes and rng.random() < 0.4:
                    # Recent pieces get revised most: pick among the last few hundred.
                    parent = rng.choice(nodes[-300:])
                    model_name = parent.model_name if rng.random() < 0.7 else model_name
                    created_at = min(
                        self.now, parent.created_at + datetime.timedelta(hours=rng.uniform(0.05, 72))
                    )
                else:
                    created_at = self.now - datetime.timedelta(days=rng.uniform(0, 365))
            campaign = rng.choice(campaigns) if rng.random() < 0.5 else None
            row = self.generation(
                organization, pk, parent, campaign, run, model_name=model_name, created_at=created_at
            )
            if parent is not None:
                last_version[parent.root_id] = last_version.get(parent.root_id, 1) + 1
                row.version = last_version[parent.root_id]
                self.report["revisions"] += row.kind == GenerationKind.REVISION
                self.report["variants"] += row.kind == GenerationKind.VARIANT
            nodes.append(
                _Node(
                    id=pk,
                    root_id=parent.root_id if parent else pk,
                    depth=row.depth,
                    created_at=created_at,
                    vertical_id=row.vertical_id,
                    content_type=row.content_type,
                    model_name=model_name,
                )
            )
            batch.append(row)
            if len(batch) >= self.batch_size:
                self._write(organization, batch)
                bar.update(len(batch))
                batch = []
        if batch:
            self._write(organization, batch)
            bar.update(len(batch))
        bar.close()
        self._close_trees(last_version)
        self.cache(organization, max(1, count // 20))
        tenancy_services.audit_record(
            organization=organization,
            actor=tenancy_services.SYSTEM,
            action=AuditAction.CREATE,
            object_type="generations.generation",
            object_id=f"seed_demo:{self.token}",
            changes={"generations": count, "campaigns": len(campaigns), "runs": len(runs)},
        )

    def _write(self, organization, batch: list[Generation]) -> None:
        with transaction.atomic():
            Generation.objects.bulk_create(batch, batch_size=1000)
            generations_recorded.send(
                sender=Generation,
                organization=organization,
                generations=batch,
                action=RecordedAction.CREATED,
                previous={},
            )
        self.report["generations"] += len(batch)

    @staticmethod
    def _close_trees(last_version: dict[int, int]) -> None:
        """Each root's ``tree_last_version``: one UPDATE for every tree seeded."""
        roots = [Generation(pk=root, tree_last_version=last) for root, last in sorted(last_version.items())]
        rows_update(model=Generation, rows=roots, fields=["tree_last_version"])

    def cache(self, organization, count: int) -> None:
        rng = self.rng
        names = [name for name, model in self.models.items() if model is not None] or list(self.models)
        entries = [
            CacheEntry(
                organization=organization,
                key=f"demo:{self.token}:{index:06d}",
                response={"content": f"Cached answer about {rng.choice(TOPICS)}"},
                model_name=(name := rng.choice(names)),
                model=self.models.get(name),
                cost_saved_usd=Decimal(rng.randint(50, 9000)) / Decimal(1_000_000),
                hit_count=rng.randint(0, 120),
                expires_at=self.now + datetime.timedelta(days=rng.uniform(-10, 30)),
                last_accessed_at=self.now - datetime.timedelta(hours=rng.uniform(0, 240)),
                created_at=self.now - datetime.timedelta(days=rng.uniform(10, 60)),
            )
            for index in range(count)
        ]
        CacheEntry.objects.bulk_create(entries, batch_size=1000)
        today = self.now.date()
        stats = []
        for back in range(365):
            hits = rng.randint(0, 4 * count // 10 + 5)
            stats.append(
                CacheDailyStats(
                    organization=organization,
                    day=today - datetime.timedelta(days=back),
                    hits=hits,
                    misses=rng.randint(hits // 4, hits + 5),
                    cost_saved_usd=Decimal(hits) * Decimal("0.0021"),
                )
            )
        CacheDailyStats.objects.bulk_create(stats, ignore_conflicts=True)
        self.report["cache_entries"] += len(entries)


def seed_demo(
    *,
    organizations: int,
    generations: int,
    seed: int | None = None,
    batch_size: int = 2000,
    progress: Callable = lambda **kwargs: _NoProgress(),
) -> SeedReport:
    """Create ``organizations`` demo organizations (``demo-1`` …, reused when they exist) with
    ``generations`` generations each, plus campaigns, runs, trees and cache entries."""
    report = SeedReport()
    seeder = _Seeder(
        rng=random.Random(seed),  # noqa: S311 - demo data, not secrets
        now=timezone.now(),
        batch_size=batch_size,
        report=report,
    )
    for number in range(1, organizations + 1):
        slug = f"demo-{number}"
        organization = Organization.objects.filter(slug=slug).first() or tenancy_services.organization_create(
            name=f"Demo organization {number}", slug=slug
        )
        report["organizations"] += 1
        seeder.organization(organization, generations, progress)
    return report


class _NoProgress:
    def update(self, count):
        pass

    def close(self):
        pass
