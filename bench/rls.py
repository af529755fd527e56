"""What row-level security costs: a list, a report and a bulk of 1,000, with and without it, in one run.

    .venv/bin/python bench/rls.py                       # throwaway embedded PostgreSQL
    .venv/bin/python bench/rls.py --rows 20000 --repeat 30

Starts a throwaway embedded PostgreSQL, migrates it, and ingests ``--rows`` generations for each
of two organizations through the real bulk API. Then, alternating the two modes on every
repetition so drift hits both alike, it times through Django's test client (the whole stack:
middleware, API-key authentication, the tenant GUCs, the view, the database):

- list: ``GET /api/v1/generations/?page_size=100``;
- report: ``GET /api/v1/reports/cost/?group_by=model`` over a year;
- bulk: ``POST /api/v1/generations/bulk/`` of 1,000 new items.

"with RLS" is how the app runs (the ``inkwell_app`` role, policies evaluated); "without" runs
the same requests as the connecting superuser (``tenancy.rls.database_owner``), which PostgreSQL
exempts from every policy. The GUC switches themselves happen in both modes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")


def item(prefix: str, n: int) -> dict:
    return {
        "request_id": f"{prefix}-{n:07d}",
        "content_type": "social",
        "model": "gpt-4o" if n % 3 else "claude-sonnet-4-0",
        "content": f"Post number {n}: sunrise over the Tagus, breakfast on the terrace.",
        "input_tokens": 100 + n % 900,
        "output_tokens": 20 + n % 300,
        "status": "success" if n % 17 else "failed",
        "user_ref": f"user-{n % 7}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000, help="Generations per organization.")
    parser.add_argument("--repeat", type=int, default=20, help="Timed requests per case and mode.")
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.utils import timezone

    from tenancy import rls, services
    from tests.factories import OrganizationFactory

    setup_test_environment()  # the test client's host is allowed
    call_command("migrate", verbosity=0)
    with rls.rls_bypass(reason="bench setup"):
        call_command("sync_model_prices", "--no-progress", verbosity=0)
        keys = []
        for slug in ("acme", "globex"):
            organization = OrganizationFactory(name=slug.title(), slug=slug)
            keys.append(services.api_key_create(organization=organization, name="bench", role="admin")[1])
    clients = [Client(HTTP_AUTHORIZATION=f"Api-Key {key}") for key in keys]

    started = time.perf_counter()
    for index, client in enumerate(clients):
        for batch in range(0, args.rows, 1000):
            items = [item(f"seed{index}", n) for n in range(batch, min(batch + 1000, args.rows))]
            response = client.post(
                "/api/v1/generations/bulk/", {"items": items}, content_type="application/json"
            )
            assert response.status_code == 201, response.content[:300]
    print(f"seeded {2 * args.rows} generations in {time.perf_counter() - started:.1f}s")

    today = timezone.now().date()
    report = {"from": str(today.replace(year=today.year - 1)), "to": str(today), "group_by": "model"}
    client = clients[0]
    counter = iter(range(10**9))

    def list_page():
        response = client.get("/api/v1/generations/", {"page_size": 100})
        assert response.status_code == 200 and len(response.json()["results"]) == 100

    def cost_report():
        response = client.get("/api/v1/reports/cost/", report)
        assert response.status_code == 200, response.content[:300]

    def bulk():
        batch = next(counter)
        items = [item(f"bench{batch}", n) for n in range(1000)]
        response = client.post("/api/v1/generations/bulk/", {"items": items}, content_type="application/json")
        assert response.status_code == 201, response.content[:300]

    cases = {
        "list (100 rows)": (list_page, args.repeat),
        "cost report": (cost_report, args.repeat),
        "bulk 1,000": (bulk, max(3, args.repeat // 4)),
    }
    results: dict[tuple[str, str], list[float]] = {}
    for name, (call, repeat) in cases.items():
        call()  # warm caches and plans
        for _ in range(repeat):
            for mode in ("with RLS", "without"):
                started = time.perf_counter()
                if mode == "without":
                    with rls.database_owner():
                        call()
                else:
                    call()
                results.setdefault((name, mode), []).append((time.perf_counter() - started) * 1000)

    print(f"{'case':<18}{'with RLS (ms)':>15}{'without (ms)':>15}{'difference':>12}")
    for name in cases:
        with_rls = statistics.median(results[(name, "with RLS")])
        without = statistics.median(results[(name, "without")])
        print(f"{name:<18}{with_rls:>15.1f}{without:>15.1f}{(with_rls / without - 1) * 100:>11.1f}%")


if __name__ == "__main__":
    main()
