"""The response cache: PUT with a TTL, GET counting hits, expiry, stats and the purge command."""

from __future__ import annotations

import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from generations.models import CacheDailyStats, CacheEntry
from tests.analytics.factories import rollup_sums
from tests.generations.factories import CacheEntryFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/cache/"


def test_put_then_get_returns_the_response_and_counts_the_hit(api_client, organization):
    put = api_client.put(
        f"{URL}prompt:abc123/",
        {"response": {"content": "Hello"}, "ttl_seconds": 600, "model": "gpt-4o", "cost_saved_usd": "0.0031"},
    )
    assert put.status_code == 201, put.content
    assert put.json()["hit_count"] == 0

    got = api_client.get(f"{URL}prompt:abc123/")

    assert got.status_code == 200
    data = got.json()
    assert data["response"] == {"content": "Hello"}
    assert data["hit_count"] == 1
    assert data["last_accessed_at"] is not None
    entry = CacheEntry.objects.get(organization=organization, key="prompt:abc123")
    expires_in = entry.expires_at - timezone.now()
    assert datetime.timedelta(seconds=590) < expires_in <= datetime.timedelta(seconds=600)


def test_put_answers_201_when_it_creates_and_200_when_it_replaces(api_client, organization):
    created = api_client.put(f"{URL}new-key/", {"response": {"v": 1}, "ttl_seconds": 60}, format="json")
    replaced = api_client.put(f"{URL}new-key/", {"response": {"v": 2}, "ttl_seconds": 60}, format="json")

    assert (created.status_code, replaced.status_code) == (201, 200)
    assert replaced.json()["response"] == {"v": 2}
    assert CacheEntry.objects.filter(organization=organization, key="new-key").count() == 1


def test_put_replaces_an_entry_and_restarts_its_count(api_client, organization):
    CacheEntryFactory(organization=organization, key="k", hit_count=7)
    response = api_client.put(f"{URL}k/", {"response": {"v": 2}, "ttl_seconds": 60})
    assert response.status_code == 200
    assert response.json()["response"] == {"v": 2}
    assert response.json()["hit_count"] == 0
    assert CacheEntry.objects.filter(organization=organization, key="k").count() == 1


def test_an_expired_entry_is_a_404_and_a_miss(api_client, organization):
    entry = CacheEntryFactory(organization=organization, key="old", expires_at=timezone.now())

    response = api_client.get(f"{URL}old/")

    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"
    entry.refresh_from_db()
    assert entry.hit_count == 0
    assert rollup_sums(CacheDailyStats, organization=organization).misses == 1


def test_another_organizations_key_is_a_404(api_client, other_organization):
    entry = CacheEntryFactory(organization=other_organization, key="shared-name")
    assert api_client.get(f"{URL}shared-name/").status_code == 404
    assert api_client.delete(f"{URL}shared-name/").status_code == 404
    entry.refresh_from_db()
    assert entry.hit_count == 0


def test_the_same_key_in_two_organizations_is_two_entries(api_client, other_api_client):
    api_client.put(f"{URL}same/", {"response": {"who": "me"}})
    other_api_client.put(f"{URL}same/", {"response": {"who": "them"}})
    assert api_client.get(f"{URL}same/").json()["response"] == {"who": "me"}
    assert other_api_client.get(f"{URL}same/").json()["response"] == {"who": "them"}


@pytest.mark.parametrize(
    ("payload", "attr"),
    [
        ({"ttl_seconds": 60}, "response"),
        ({"response": {}, "ttl_seconds": 0}, "ttl_seconds"),
        ({"response": {}, "ttl_seconds": -5}, "ttl_seconds"),
        ({"response": {}, "cost_saved_usd": "-1"}, "cost_saved_usd"),
    ],
)
def test_bad_puts_are_400_and_write_nothing(api_client, payload, attr):
    response = api_client.put(f"{URL}k/", payload)
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == attr
    assert CacheEntry.objects.count() == 0


def test_a_viewer_key_reads_but_does_not_store(viewer_api_client, organization):
    CacheEntryFactory(organization=organization, key="k")
    assert viewer_api_client.get(f"{URL}k/").status_code == 200
    assert viewer_api_client.put(f"{URL}k/", {"response": {}}).status_code == 403
    assert viewer_api_client.delete(f"{URL}k/").status_code == 403


def test_delete_removes_the_entry(api_client, organization):
    CacheEntryFactory(organization=organization, key="gone")
    assert api_client.delete(f"{URL}gone/").status_code == 204
    assert api_client.get(f"{URL}gone/").status_code == 404
    assert not CacheEntry.objects.filter(key="gone").exists()


def test_stats_give_hit_rate_and_cost_saved(api_client, organization, other_organization):
    CacheEntryFactory(organization=organization, key="a", cost_saved_usd=Decimal("0.01"))
    CacheEntryFactory(organization=organization, key="b", cost_saved_usd=Decimal("0.25"))
    CacheEntryFactory(organization=other_organization, key="a")
    for key in ["a", "a", "a", "b", "missing"]:
        api_client.get(f"{URL}{key}/")

    stats = api_client.get(f"{URL}stats/").json()

    assert (stats["hits"], stats["misses"]) == (4, 1)
    assert stats["hit_rate"] == 0.8
    assert Decimal(stats["cost_saved_usd"]) == Decimal("0.28")
    assert (stats["live_entries"], stats["expired_entries"]) == (2, 0)
    today = timezone.now().date()
    assert stats["since"] == str(today - datetime.timedelta(days=29))


def test_stats_of_a_period_without_lookups_have_no_hit_rate(api_client):
    stats = api_client.get(f"{URL}stats/?from=2020-01-01&to=2020-01-31").json()
    assert (stats["hits"], stats["misses"], stats["hit_rate"]) == (0, 0, None)
    assert api_client.get(f"{URL}stats/?from=2020-02-01&to=2020-01-01").status_code == 400


def test_list_shows_own_entries_in_fixed_queries(
    api_client, organization, other_organization, django_assert_max_num_queries
):
    for _ in range(5):
        CacheEntryFactory(organization=organization)
    CacheEntryFactory(organization=other_organization)
    api_client.get(URL)
    with django_assert_max_num_queries(4):
        response = api_client.get(URL)
    assert len(response.json()["results"]) == 5


def test_purge_removes_expired_entries_in_batches(organization):
    now = timezone.now()
    CacheEntry.objects.bulk_create(
        [
            CacheEntry(
                organization=organization,
                key=f"k{n}",
                response={},
                expires_at=now + datetime.timedelta(hours=-1 if n % 3 else 1),
            )
            for n in range(30)
        ]
    )
    out = StringIO()
    call_command("purge_expired_cache", "--dry-run", stdout=out)
    assert "Would delete 20" in out.getvalue()
    assert CacheEntry.objects.count() == 30

    call_command("purge_expired_cache", "--batch-size", "7", verbosity=0, stdout=out)

    assert "Deleted 20" in out.getvalue()
    assert sorted(CacheEntry.objects.values_list("key", flat=True)) == sorted(
        f"k{n}" for n in range(0, 30, 3)
    )


def test_purge_can_keep_recently_expired_entries(organization):
    now = timezone.now()
    CacheEntryFactory(organization=organization, key="just", expires_at=now - datetime.timedelta(minutes=5))
    CacheEntryFactory(organization=organization, key="long-ago", expires_at=now - datetime.timedelta(days=2))
    call_command("purge_expired_cache", "--older-than-hours", "24", verbosity=0, stdout=StringIO())
    assert list(CacheEntry.objects.values_list("key", flat=True)) == ["just"]
