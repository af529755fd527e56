"""Re-pricing: a price added for a model nobody priced, then ``manage.py reprice``, the API or
the admin action prices its generations and provider calls, moves the rollups by the exact
difference (they equal a fresh rebuild), keeps the previous cost in the audit trail, and a
second run (or a dry run) changes nothing."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum
from django.urls import reverse

from analytics import repricing
from analytics.models import (
    GenerationDailyRollup,
    GenerationModelDailyRollup,
    GenerationUserDailyRollup,
    ModelPerformance,
    ProviderCall,
    ProviderCallDailyRollup,
    ProviderCallKeyDailyRollup,
    ProviderCallModelDailyRollup,
    ProviderCallUserDailyRollup,
)
from analytics.rollups import rollup_rebuild
from generations.models import Generation
from providers.models import AIModel, ModelPrice, Provider
from providers.price_sync import BEGINNING
from tenancy.models import AuditEvent
from tenancy.rls import rls_bypass
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
MAY = "2026-05-04T09:00:00Z"


def rollups() -> dict:
    """Every rollup group as plain data (without ids and timestamps): the append-only rollups'
    delta rows summed per group (maxima: MAX), as every reader sees them."""
    data = {}
    for model in (
        GenerationDailyRollup,
        GenerationModelDailyRollup,
        GenerationUserDailyRollup,
        ProviderCallDailyRollup,
        ProviderCallModelDailyRollup,
        ProviderCallKeyDailyRollup,
        ProviderCallUserDailyRollup,
        ModelPerformance,
    ):
        groups: dict[tuple, dict] = {}
        for row in model.objects.values():
            row = {k: v for k, v in row.items() if k not in {"id", "updated_at", "created_at"}}
            key = tuple(
                sorted(
                    (k, v) for k, v in row.items() if isinstance(v, str | datetime.date) or k.endswith("_id")
                )
            )
            figures = groups.setdefault(key, {})
            for name, value in row.items():
                if (name, value) in key:
                    continue
                if name.endswith("_max"):
                    figures[name] = max(
                        (v for v in (figures.get(name), value) if v is not None), default=None
                    )
                else:
                    figures[name] = figures.get(name, 0) + value
        data[model.__name__] = sorted(
            (tuple(sorted((*key, *figures.items()))) for key, figures in groups.items()), key=repr
        )
    return data


def without_emptied_groups(data: dict) -> dict:
    """A group re-pricing moved every row out of keeps a row of zeros; a rebuild has none."""
    return {name: [row for row in rows if dict(row)["requests"]] for name, rows in data.items()}


@pytest.fixture
def unpriced_history(api_client, organization):
    """Generations (one soft-deleted, one in a run) and provider calls of a model nobody knows
    yet, sent as ``ACME-Writer-2`` (its future canonical name is lower case)."""
    Provider.objects.get_or_create(slug="openai", defaults={"name": "OpenAI"})
    run = api_client.post(
        "/api/v1/runs/", {"prompt": "names", "models_requested": ["ACME-Writer-2"]}, format="json"
    )
    assert run.status_code == 201, run.content
    rows = []
    for index, (tokens, day) in enumerate([(1000, MAY), (2000, MAY), (500, "2026-05-06T09:00:00Z")]):
        response = api_client.post(
            "/api/v1/generations/",
            {
                "request_id": f"g{index}",
                "provider": "openai",
                "model": "ACME-Writer-2",
                "status": "success",
                "usage": {"prompt_tokens": tokens, "completion_tokens": 100},
                "occurred_at": day,
                **({"run": run.json()["id"]} if index == 0 else {}),
            },
            format="json",
        )
        assert response.status_code == 201, response.content
        rows.append(response.json())
    assert api_client.delete(f"/api/v1/generations/{rows[1]['id']}/").status_code == 204
    for index in range(2):
        response = api_client.post(
            "/api/v1/usage/",
            {
                "request_id": f"c{index}",
                "endpoint": "/v1/chat/completions",
                "provider": "openai",
                "model": "ACME-Writer-2",
                "status_code": 200,
                "input_tokens": 4000,
                "output_tokens": 1000,
                "occurred_at": MAY,
            },
            format="json",
        )
        assert response.status_code == 201, response.content
    # And a row that must not move: a call with no usage.
    api_client.post(
        "/api/v1/usage/",
        {
            "request_id": "c-none",
            "endpoint": "/v1/x",
            "provider": "openai",
            "model": "ACME-Writer-2",
            "status_code": 504,
        },
        format="json",
    )
    assert set(Generation.all_objects.values_list("cost_status", flat=True)) == {"unpriced"}
    return rows


def add_the_price(model: AIModel | None = None) -> AIModel:
    """The price of ``acme-writer-2`` ($1 / $10 per million tokens), and the model first unless
    given."""
    if model is None:
        model = AIModel.objects.create(provider=Provider.objects.get(slug="openai"), name="acme-writer-2")
    ModelPrice.objects.create(
        model=model,
        valid_from=BEGINNING,
        input_usd_per_mtok=Decimal("1"),
        output_usd_per_mtok=Decimal("10"),
        source="typed by hand",
    )
    return model


def test_reprice_command_prices_the_history_moves_rollups_exactly_and_audits(organization, unpriced_history):
    model = add_the_price()
    audit_before = AuditEvent.objects.filter(action="reprice").count()

    call_command(
        "reprice", "--only-unpriced", "--batch-size", "2", stdout=(out := io.StringIO()), verbosity=0
    )

    generations = list(Generation.all_objects.order_by("request_id"))
    assert [g.cost_status for g in generations] == ["priced"] * 3
    assert [g.model_id for g in generations] == [model.pk] * 3
    # $1 per million input + $10 per million output.
    assert [g.cost_usd for g in generations] == [Decimal("0.002"), Decimal("0.003"), Decimal("0.0015")]
    calls = ProviderCall.objects.order_by("request_id")
    assert [(c.request_id, c.cost_status, c.cost_usd) for c in calls] == [
        ("c-none", "no_usage", None),
        ("c0", "priced", Decimal("0.014")),
        ("c1", "priced", Decimal("0.014")),
    ]
    assert "Changed 5 of 5 rows" in out.getvalue()
    events = AuditEvent.objects.filter(action="reprice")
    assert events.count() > audit_before
    previous = [change for event in events for change in event.changes["rows"].values()]
    assert len(previous) == 5
    assert all(
        change["cost_usd"][0] is None and change["cost_status"][0] == "unpriced" for change in previous
    )

    # The rollups moved by the exact difference: equal to a fresh rebuild from the raw rows.
    moved = rollups()
    assert sum(row.cost_usd for row in GenerationDailyRollup.objects.all()) == Decimal("0.0065")
    for model in (GenerationDailyRollup, GenerationModelDailyRollup):
        moved_out = model.objects.filter(model_name="ACME-Writer-2").aggregate(n=Sum("requests"))["n"]
        assert not moved_out
    today = datetime.date.today()
    rollup_rebuild(date_from=datetime.date(2026, 5, 1), date_to=today)
    assert without_emptied_groups(rollups()) == without_emptied_groups(moved)

    # A second run changes nothing and writes nothing.
    events_after, figures = AuditEvent.objects.count(), rollups()
    call_command("reprice", stdout=(again := io.StringIO()), verbosity=0)
    assert "Changed 0 of" in again.getvalue()
    assert AuditEvent.objects.count() == events_after
    assert rollups() == figures


def test_dry_run_reports_and_writes_nothing(organization, unpriced_history):
    add_the_price()
    before = (
        rollups(),
        AuditEvent.objects.count(),
        list(Generation.all_objects.values("cost_usd", "cost_status")),
    )

    call_command("reprice", "--dry-run", stdout=(out := io.StringIO()), verbosity=0)

    assert "Would change 5 of 5 rows" in out.getvalue()
    after = (
        rollups(),
        AuditEvent.objects.count(),
        list(Generation.all_objects.values("cost_usd", "cost_status")),
    )
    assert after == before


def test_reprice_is_scoped_by_model_date_and_organization(
    organization, other_organization, unpriced_history, make_api_client
):
    other = make_api_client(other_organization)
    response = other.post(
        "/api/v1/generations/",
        {
            "request_id": "theirs",
            "provider": "openai",
            "model": "ACME-Writer-2",
            "input_tokens": 10,
            "occurred_at": MAY,
        },
        format="json",
    )
    assert response.status_code == 201
    add_the_price()

    call_command(
        "reprice",
        "--organization",
        organization.slug,
        "--from",
        "2026-05-05",
        "--to",
        "2026-05-07",
        stdout=io.StringIO(),
        verbosity=0,
    )
    assert list(Generation.all_objects.filter(cost_status="priced").values_list("request_id", flat=True)) == [
        "g2"
    ]

    call_command("reprice", "--model", "other-model", stdout=(out := io.StringIO()), verbosity=0)
    assert "Changed 0 of 0 rows" in out.getvalue()
    assert Generation.all_objects.get(request_id="theirs").cost_status == "unpriced"


def test_reprice_api_admin_key_prices_its_organization_only_and_editor_is_refused(
    organization, other_organization, unpriced_history, admin_api_client, api_client, make_api_client
):
    other = make_api_client(other_organization)
    other.post(
        "/api/v1/generations/",
        {"request_id": "theirs", "provider": "openai", "model": "ACME-Writer-2", "input_tokens": 10},
        format="json",
    )
    add_the_price()

    refused = api_client.post("/api/v1/reprice/", {}, format="json")
    assert refused.status_code == 403
    assert Generation.all_objects.filter(cost_status="priced").count() == 0

    dry = admin_api_client.post("/api/v1/reprice/", {"dry_run": True}, format="json")
    assert dry.status_code == 200, dry.content
    assert (dry.json()["changed"], dry.json()["dry_run"]) == (5, True)
    assert Generation.all_objects.filter(cost_status="priced").count() == 0

    done = admin_api_client.post(
        "/api/v1/reprice/", {"only_unpriced": True, "model": "acme-writer-2"}, format="json"
    )
    assert done.status_code == 200, done.content
    assert done.json()["changed"] == 5
    assert Decimal(done.json()["cost_delta_usd"]) == Decimal("0.0345")
    assert Generation.all_objects.get(request_id="theirs").cost_status == "unpriced"
    assert admin_api_client.post("/api/v1/reprice/", {}, format="json").json()["changed"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"from": "2026-05-02", "to": "2026-05-01"}, "to"),
        ({"dry_run": "perhaps"}, "dry_run"),
        ({"from": "soon"}, "from"),
    ],
)
def test_reprice_api_bad_input_is_a_400_and_changes_nothing(
    organization, unpriced_history, admin_api_client, body, field
):
    add_the_price()
    response = admin_api_client.post("/api/v1/reprice/", body, format="json")

    assert response.status_code == 400
    assert field in response.content.decode()
    assert Generation.all_objects.filter(cost_status="priced").count() == 0


def test_admin_action_reprices_the_selected_calls_models(client, organization, unpriced_history):
    add_the_price()
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))
    call = ProviderCall.objects.get(request_id="c0")

    response = client.post(
        reverse("admin:analytics_providercall_changelist"),
        {"action": "reprice_models", "_selected_action": [call.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "Re-priced 5 of 5 rows" in response.content.decode()
    assert Generation.all_objects.filter(cost_status="priced").count() == 3
    assert AuditEvent.objects.filter(action="reprice").exclude(user=None).exists()


class Interrupted(Exception):
    """Stands for a worker killed between two batches."""


def test_an_interrupted_reprice_keeps_its_committed_batches_and_resumes_after_them(
    organization, unpriced_history
):
    add_the_price()

    def crash(_rows):
        raise Interrupted

    with rls_bypass(reason="test: reprice outside a request"), pytest.raises(Interrupted):
        repricing.reprice_run(only_unpriced=True, batch_size=2, progress=crash)

    # The first batch (two generations) committed with its audit event; nothing after it ran.
    priced = list(Generation.all_objects.filter(cost_status="priced").order_by("pk"))
    assert len(priced) == 2
    assert Generation.all_objects.filter(cost_status="unpriced").count() == 1
    assert not ProviderCall.objects.filter(cost_status="priced").exists()
    assert AuditEvent.objects.filter(action="reprice").count() == 1

    call_command(
        "reprice",
        "--only-unpriced",
        "--start-after-generation",
        str(priced[-1].pk),
        stdout=(out := io.StringIO()),
        verbosity=0,
    )

    assert "Changed 3 of 3 rows" in out.getvalue()
    assert Generation.all_objects.filter(cost_status="priced").count() == 3
    assert ProviderCall.objects.filter(cost_status="priced").count() == 2
    moved = rollups()
    rollup_rebuild(date_from=datetime.date(2026, 5, 1), date_to=datetime.date.today())
    assert without_emptied_groups(rollups()) == without_emptied_groups(moved)


@pytest.mark.parametrize(
    "arguments",
    [
        ["--batch-size", "0"],
        ["--from", "2026-05-02", "--to", "2026-05-01"],
        ["--from", "soon"],
        ["--organization", "no-such-organization"],
    ],
)
def test_reprice_command_bad_options_are_refused_and_change_nothing(
    organization, unpriced_history, arguments
):
    add_the_price()

    with pytest.raises(CommandError):
        call_command("reprice", *arguments, stdout=io.StringIO(), verbosity=0)

    assert not Generation.all_objects.filter(cost_status="priced").exists()
    assert not AuditEvent.objects.filter(action="reprice").exists()


def test_a_row_resolved_into_a_run_group_another_row_of_the_batch_adjusts_moves_it_exactly(
    api_client, organization
):
    """In one run: ``ACME-Writer-2`` sent before the model was known (unresolved, its own
    group), then ``acme-writer-2`` once it was (resolved, no price yet). Re-pricing both in one
    batch adjusts the run's ``acme-writer-2`` group for the second and moves the first into it:
    two changes to one ``ModelPerformance`` row. In one statement PostgreSQL keeps one of two
    sub-statements' changes to a row and drops the other silently; both must land."""
    Provider.objects.get_or_create(slug="openai", defaults={"name": "OpenAI"})
    run = api_client.post(
        "/api/v1/runs/", {"prompt": "names", "models_requested": ["acme-writer-2"]}, format="json"
    ).json()["id"]

    def send(request_id: str, name: str, tokens: int) -> None:
        response = api_client.post(
            "/api/v1/generations/",
            {
                "request_id": request_id,
                "provider": "openai",
                "model": name,
                "status": "success",
                "usage": {"prompt_tokens": tokens, "completion_tokens": 100},
                "occurred_at": MAY,
                "run": run,
            },
            format="json",
        )
        assert response.status_code == 201, response.content

    send("before", "ACME-Writer-2", 1000)
    model = AIModel.objects.create(provider=Provider.objects.get(slug="openai"), name="acme-writer-2")
    send("after", "acme-writer-2", 3000)
    assert list(Generation.all_objects.order_by("request_id").values_list("model_id", flat=True)) == [
        model.pk,
        None,
    ]
    add_the_price(model)

    call_command("reprice", "--batch-size", "10", stdout=(out := io.StringIO()), verbosity=0)

    assert "Changed 2 of 2 rows" in out.getvalue()
    performance = ModelPerformance.objects.get(run_id=run, model_name="acme-writer-2")
    # 0.002 + 0.004: both rows' costs, both priced, two requests.
    assert (performance.requests, performance.cost_usd, performance.unpriced_requests) == (
        2,
        Decimal("0.006"),
        0,
    )
    moved = rollups()
    rollup_rebuild(date_from=datetime.date(2026, 5, 1), date_to=datetime.date.today())
    assert without_emptied_groups(rollups()) == without_emptied_groups(moved)
