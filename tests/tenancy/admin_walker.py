"""Two organizations' rows of every tenant model, and a walker that tries every admin page with a
staff user of the first and reports whatever of the second it can see or change.

The second organization's rows carry "globex" in every name, slug and request id they have, so
a leak of a name is found by searching the pages for that word; a leak of a row is found by its
admin URL, its id in a form's choices, or a change to it.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import models
from django.forms.models import model_to_dict
from django.urls import URLPattern
from django.utils import timezone

from analytics import rollups
from analytics.models import (
    ArchivedRecord,
    CleanupPreferences,
    ModelPerformance,
    RetentionBatch,
    WeeklySummary,
)
from generations.models import CacheDailyStats
from generations.publishing.services import scheduled_post_create
from providers.models import AIPreference, PreferredModel
from styleguides import services as styleguide_services
from tenancy import services as tenancy_services
from tenancy.admin_walls import organization_field
from tenancy.choices import Role
from tenancy.models import AuditEvent, Membership, Organization
from tests.analytics.factories import PerformanceMetricFactory, ProviderCallFactory
from tests.factories import MembershipFactory, UserFactory
from tests.generations.factories import (
    CacheEntryFactory,
    CampaignFactory,
    GenerationFactory,
    GenerationRunFactory,
)
from tests.generations.publishing_factories import webhook_account
from tests.providers.factories import AIModelFactory, BudgetFactory, make_credential
from tests.styleguides.factories import (
    BrandRuleFactory,
    ContentPillarFactory,
    ContentSeriesFactory,
    StyleGuideFactory,
    make_snippet,
    make_template,
)
from tests.testapp.models import Widget

MARKER = "globex"


def tenant_models() -> list[type[models.Model]]:
    """Every model with an organization (and Organization itself)."""
    return [Organization] + [m for m in apps.get_models() if organization_field(m) is not None]


def all_rows(model):
    manager = getattr(model, "all_objects", model._base_manager)
    return manager.all()


def build_tenant_rows(organization: Organization, tag: str) -> None:
    """At least one row of every tenant model for ``organization``, named with ``tag``."""
    user = UserFactory(username=f"{tag}-member", email=f"{tag}@example.com")
    MembershipFactory(user=user, organization=organization, role=Role.EDITOR)
    tenancy_services.api_key_create(organization=organization, name=f"{tag} key", role="editor")
    AuditEvent.objects.create(
        organization=organization, actor_label=f"{tag} auditor", action="update", object_repr=f"{tag} thing"
    )
    model = AIModelFactory(name=f"shared-model-{tag}") if tag == "acme" else AIModelFactory()
    credential = make_credential(organization, name=f"{tag} credential")
    BudgetFactory(organization=organization, name=f"{tag} budget", credential=credential)
    preference = AIPreference.objects.create(organization=organization, user_ref=f"{tag}-user")
    PreferredModel.objects.create(organization=organization, preference=preference, model=model)
    guide = StyleGuideFactory(organization=organization, name=f"{tag} guide", slug=f"{tag}-guide")
    BrandRuleFactory(guide=guide, name=f"{tag} rule")
    styleguide_services.style_guide_publish(organization=organization, guide=guide)
    template = make_template(organization, name=f"{tag} template", slug=f"{tag}-template")
    _label(template, organization)
    make_snippet(organization, name=f"{tag} snippet", slug=f"{tag}-snippet")
    pillar = ContentPillarFactory(organization=organization, name=f"{tag} pillar", slug=f"{tag}-pillar")
    ContentSeriesFactory(organization=organization, name=f"{tag} series", slug=f"{tag}-series", pillar=pillar)
    CampaignFactory(organization=organization, name=f"{tag} campaign")
    run = GenerationRunFactory(organization=organization, prompt=f"{tag} run prompt")
    generation = GenerationFactory(
        organization=organization, run=run, request_id=f"{tag}-generation", user_ref=f"{tag}-writer"
    )
    PerformanceMetricFactory(generation=generation)
    ProviderCallFactory(organization=organization, request_id=f"{tag}-call", user_ref=f"{tag}-writer")
    CacheEntryFactory(organization=organization, key=f"{tag}-cache-key")
    account = webhook_account(organization, f"https://{tag}.example.com/hook", handle=f"{tag}-hook")
    scheduled_post_create(
        organization=organization,
        account=account,
        text=f"{tag} post",
        publish_at=timezone.now() + datetime.timedelta(days=1),
    )
    CacheDailyStats.objects.create(organization=organization, day=timezone.now().date(), hits=1)
    ModelPerformance.objects.create(organization=organization, run=run, model_name=f"{tag}-model")
    today = timezone.now().date()
    rollups.rollup_rebuild(date_from=today, date_to=today, organizations=[organization])
    WeeklySummary.objects.create(
        organization=organization, week_start=today - datetime.timedelta(days=today.weekday())
    )
    CleanupPreferences.objects.create(organization=organization, generations_days=30)
    batch = RetentionBatch.objects.create(
        organization=organization,
        target="generations",
        cutoff=timezone.now(),
        primary_rows=1,
        archived_rows=1,
    )
    parent = Widget.objects.create(organization=organization, name=f"{tag} widget", slug=f"{tag}-widget")
    Widget.objects.create(organization=organization, name=f"{tag} child", slug=f"{tag}-child", parent=parent)
    ArchivedRecord.objects.create(
        batch=batch,
        organization=organization,
        model_label="generations.generation",
        object_id=f"{tag}-archived",
        data={"request_id": f"{tag}-archived"},
    )


def _label(template, organization):
    from styleguides.models import PromptTemplateLabel

    PromptTemplateLabel.objects.create(
        organization=organization, template=template, name="production", version=template.versions.get()
    )


def staff_member(organization: Organization, role: str = Role.OWNER):
    """A staff user (not a superuser) of ``organization`` holding every permission there is."""
    user = get_user_model().objects.create_user(f"staff-{organization.slug}", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.all())
    Membership.objects.create(user=user, organization=organization, role=role)
    return user


def snapshot(organization: Organization) -> dict:
    """Every row of ``organization`` in every tenant model, as plain values."""
    result = {}
    for model in tenant_models():
        rows = all_rows(model).filter(pk=organization.pk) if model is Organization else None
        if rows is None:
            rows = all_rows(model).filter(organization=organization)
        result[model._meta.label] = sorted(
            json.dumps(model_to_dict(row), default=str, sort_keys=True) for row in rows
        )
    return result


@dataclass
class Walk:
    """What one walk saw: leaks (pages or answers showing the other organization) and coverage."""

    leaks: list[str] = field(default_factory=list)
    pages: int = 0

    def check(self, where: str, response, b_urls: list[str]) -> None:
        self.pages += 1
        body = response.content.decode(errors="replace")
        # The search box and the filters' links echo the term searched for; that is no leak.
        body = body.replace(f'value="{MARKER}"', "").replace(f"q={MARKER}", "").replace(f"q%3D{MARKER}", "")
        if MARKER in body.lower():
            at = body.lower().index(MARKER)
            self.leaks.append(f"{where}: shows {body[max(0, at - 60) : at + 40]!r}")
        for url in b_urls:
            if url in body:
                self.leaks.append(f"{where}: links {url}")


def other_rows(model, organization: Organization):
    if model is Organization:
        return list(all_rows(model).filter(pk=organization.pk))
    if organization_field(model) is not None:
        return list(all_rows(model).filter(organization=organization))
    return []


def _custom_urls(model_admin) -> list[URLPattern]:
    standard = {"changelist", "add", "history", "delete", "change", None}
    info = f"{model_admin.opts.app_label}_{model_admin.opts.model_name}_"
    custom = []
    for pattern in model_admin.get_urls():
        if not isinstance(pattern, URLPattern):
            continue
        name = pattern.name.removeprefix(info) if pattern.name else None
        if name not in standard:
            custom.append(pattern)
    return custom


def walk_admin(
    client, site, prefix: str, mine: Organization, theirs: Organization, *, posts: bool = True
) -> Walk:
    """Every admin of ``site`` (mounted at ``prefix``) through ``client``: lists, filters, search,
    autocomplete, add and change forms of ``mine``'s rows, B's change/delete/history URLs, custom
    views, actions and foreign keys posted at ``theirs``'s rows."""
    walk = Walk()
    b_rows = {model: other_rows(model, theirs) for model in tenant_models()}
    b_urls = [
        f"{prefix}{model._meta.app_label}/{model._meta.model_name}/{row.pk}/"
        for model, rows in b_rows.items()
        for row in rows
        if model in site._registry
    ]
    for model, model_admin in site._registry.items():
        opts = model._meta
        base = f"{prefix}{opts.app_label}/{opts.model_name}/"
        # The list, its filters' choices, search, and filtering by the other organization.
        walk.check(f"{base} list", client.get(base), b_urls)
        walk.check(f"{base} search", client.get(base, {"q": MARKER}), b_urls)
        if organization_field(model) is not None:
            response = client.get(base, {"organization__id__exact": theirs.pk})
            walk.check(f"{base} filtered by B", response, b_urls)
        # The add form: foreign-key and many-to-many choices.
        walk.check(f"{base}add/", client.get(f"{base}add/"), b_urls)
        # A's own rows' change pages (their inlines and choices).
        for row in _mine(model, mine):
            walk.check(f"{base}{row.pk}/change/", client.get(f"{base}{row.pk}/change/"), b_urls)
        # B's rows by URL: never a page.
        for row in b_rows.get(model, []):
            for suffix in ("change/", "delete/", "history/"):
                response = client.get(f"{base}{row.pk}/{suffix}")
                if response.status_code == 200:
                    walk.leaks.append(f"{base}{row.pk}/{suffix}: {response.status_code}, a page")
                walk.check(f"{base}{row.pk}/{suffix}", response, b_urls)
            if not posts:
                continue
            response = client.post(f"{base}{row.pk}/delete/", {"post": "yes"})
            walk.check(f"POST {base}{row.pk}/delete/", response, b_urls)
            # Actions on B's rows, ticked by id.
            response = client.post(
                base, {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"}
            )
            walk.check(f"POST {base} delete_selected B", response, b_urls)
        # Autocomplete of every relation of the model whose target the site can search.
        for relation in opts.get_fields():
            if not (relation.is_relation and relation.concrete and relation.related_model in site._registry):
                continue
            response = client.get(
                f"{prefix}autocomplete/",
                {
                    "app_label": opts.app_label,
                    "model_name": opts.model_name,
                    "field_name": relation.name,
                    "term": "",
                },
            )
            walk.check(f"autocomplete {opts.label}.{relation.name}", response, b_urls)
            response = client.get(
                f"{prefix}autocomplete/",
                {
                    "app_label": opts.app_label,
                    "model_name": opts.model_name,
                    "field_name": relation.name,
                    "term": MARKER,
                },
            )
            walk.check(f"autocomplete {opts.label}.{relation.name}={MARKER}", response, b_urls)
        # A's row pointed at B's rows, one relation at a time.
        for row in _mine(model, mine)[: 1 if posts else 0]:
            for relation in opts.concrete_fields:
                if not relation.is_relation or not relation.editable:
                    continue
                targets = b_rows.get(relation.related_model) or []
                if not targets:
                    continue
                data = {
                    key: _form_value(value) for key, value in model_to_dict(row).items() if value is not None
                }
                data[relation.name] = targets[0].pk
                response = client.post(f"{base}{row.pk}/change/", data)
                walk.check(f"POST {base}{row.pk}/change/ {relation.name}=B", response, b_urls)
                after = all_rows(model).get(pk=row.pk)
                if getattr(after, relation.attname) == targets[0].pk:
                    walk.leaks.append(f"POST {base}{row.pk}/change/: {relation.name} now points at B")
        # Custom views (dashboards, publish, check, diff): with no id, A's id, and B's ids.
        for pattern in _custom_urls(model_admin):
            route = str(pattern.pattern)
            if "<" not in route:
                walk.check(f"{base}{route}", client.get(f"{base}{route}"), b_urls)
                walk.check(
                    f"{base}{route}?organization=B",
                    client.get(f"{base}{route}", {"organization": theirs.pk}),
                    b_urls,
                )
                continue
            for row in b_rows.get(model, []):
                url = base + re.sub(r"<[^>]+>", str(row.pk), route)
                for response in (client.get(url), client.post(url, {})) if posts else (client.get(url),):
                    if response.status_code == 200:
                        walk.leaks.append(f"{url}: {response.status_code}, a page")
                    walk.check(url, response, b_urls)
    # The index and the app pages.
    walk.check(prefix, client.get(prefix), b_urls)
    return walk


def _mine(model, organization: Organization) -> list:
    if model is Organization:
        return [organization]
    if organization_field(model) is not None:
        return list(all_rows(model).filter(organization=organization).order_by("pk")[:2])
    if model is get_user_model() or model is Group:
        return []
    return list(all_rows(model).order_by("pk")[:1])


def _form_value(value):
    if isinstance(value, (list, tuple)):
        return [getattr(item, "pk", item) for item in value]
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return getattr(value, "pk", value)
