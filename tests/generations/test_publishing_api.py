"""Publishing through the API and admin: accounts with write-only secrets, the queue of posts,
refusals that write nothing, tenancy walls, and secrets found nowhere in the database."""

from __future__ import annotations

import datetime
import io
import json
import logging

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from generations.publishing import services
from generations.publishing.choices import Platform, PostStatus
from generations.publishing.models import ScheduledPost, SocialAccount
from providers.crypto import KeyMaterial
from tenancy.models import AuditEvent
from tests.api_cases import TenantReadAPITests
from tests.generations.factories import GenerationFactory
from tests.generations.publishing_factories import SIGNING_SECRET, webhook_account

pytestmark = pytest.mark.django_db

ACCESS_TOKEN = "oauth-access-Zq81MbT4yhVCp2x9LkWn3aRs"
REFRESH_TOKEN = "oauth-refresh-Hj27QwErTy88UiOpAsDfGh0Z"
URL = "https://hooks.example.com/inkwell"


def publish_jobs() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = %s", [services.PUBLISH_TASK]
        )
        return cursor.fetchone()[0]


@pytest.fixture
def superuser_client(client):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    return client


@pytest.fixture
def account(organization):
    return webhook_account(organization, URL, secrets={"access_token": ACCESS_TOKEN})


def database_holds(plain: str) -> list[str]:
    """Every ``table.column`` (text, varchar, json, jsonb or bytea, in any table) holding ``plain``."""
    found = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' AND data_type IN "
            "('text', 'character varying', 'json', 'jsonb', 'bytea', 'character')"
        )
        columns = cursor.fetchall()
        for table, column, data_type in columns:
            quoted = f'"{table}"."{column}"'
            if data_type == "bytea":
                condition = f"position(convert_to(%s, 'UTF8') in {quoted}) > 0"
            else:
                condition = f"strpos({quoted}::text, %s) > 0"
            cursor.execute(f'SELECT EXISTS (SELECT 1 FROM "{table}" WHERE {condition})', [plain])
            if cursor.fetchone()[0]:
                found.append(f"{table}.{column}")
    return found


# --- Accounts -------------------------------------------------------------------------------------


def test_account_secrets_are_write_only_masked_encrypted_and_nowhere_in_clear(
    organization, admin_api_client, superuser_client, caplog
):
    caplog.set_level(logging.DEBUG)
    created = admin_api_client.post(
        "/api/v1/social-accounts/",
        {
            "platform": "webhook",
            "handle": "acme-hook",
            "display_name": "Acme hook",
            "webhook_url": URL,
            "access_token": ACCESS_TOKEN,
            "refresh_token": REFRESH_TOKEN,
            "signing_secret": SIGNING_SECRET,
            "token_expires_at": (timezone.now() + datetime.timedelta(days=30)).isoformat(),
        },
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    pk = body["id"]
    assert body["access_token_last4"] == ACCESS_TOKEN[-4:]
    assert body["signing_secret_last4"] == SIGNING_SECRET[-4:]
    assert not {"access_token", "refresh_token", "signing_secret"} & set(body)

    account = SocialAccount.objects.get(pk=pk)
    assert services.account_secrets(account=account).access_token == ACCESS_TOKEN
    assert account.access_token_key_version == KeyMaterial.from_settings().version

    responses = [
        created,
        admin_api_client.get("/api/v1/social-accounts/"),
        admin_api_client.get(f"/api/v1/social-accounts/{pk}/"),
        admin_api_client.patch(f"/api/v1/social-accounts/{pk}/", {"display_name": "Renamed"}),
        admin_api_client.patch(f"/api/v1/social-accounts/{pk}/", {"access_token": "  "}),  # 400
        superuser_client.get("/admin/generations/socialaccount/"),
        superuser_client.get(f"/admin/generations/socialaccount/{pk}/change/"),
    ]
    # Rotated through the admin's password field: saved encrypted, shown nowhere.
    rotated = "oauth-access-Rotated00aaBBccDDeeFF99"
    page = superuser_client.post(
        f"/admin/generations/socialaccount/{pk}/change/",
        {
            "handle": "acme-hook",
            "display_name": "Acme hook",
            "webhook_url": URL,
            "is_active": "on",
            "new_access_token": rotated,
        },
    )
    assert page.status_code == 302, page.content.decode()[:2000]
    account.refresh_from_db()
    assert services.account_secrets(account=account).access_token == rotated
    responses.append(superuser_client.get(f"/admin/generations/socialaccount/{pk}/change/"))

    for response in responses:
        assert response.status_code < 500
        for secret in (ACCESS_TOKEN, REFRESH_TOKEN, SIGNING_SECRET, rotated):
            assert secret.encode() not in response.content
    for secret in (ACCESS_TOKEN, REFRESH_TOKEN, SIGNING_SECRET, rotated):
        assert secret not in caplog.text
        assert database_holds(secret) == [], secret
    # The audit log says the secrets changed, never what they are.
    rotation = AuditEvent.objects.for_object(account).filter(action="rotate").get()
    assert rotation.changes["access_token_encrypted"] == ["[secret]", "[secret changed]"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"platform": "webhook", "handle": "h", "signing_secret": SIGNING_SECRET}, "webhook_url"),
        ({"platform": "webhook", "handle": "h", "webhook_url": URL}, "signing_secret"),
        (
            {"platform": "webhook", "handle": "h", "webhook_url": "ftp://x", "signing_secret": "s"},
            "webhook_url",
        ),
        ({"platform": "myspace", "handle": "h"}, "platform"),
        ({"platform": "x", "handle": ""}, "handle"),
        ({"platform": "x", "handle": "h", "access_token": "has spaces in it"}, "access_token"),
    ],
    ids=[
        "webhook without url",
        "webhook without secret",
        "not http",
        "unknown platform",
        "no handle",
        "bad token",
    ],
)
def test_bad_accounts_are_400_naming_the_field_and_write_nothing(admin_api_client, payload, field):
    response = admin_api_client.post("/api/v1/social-accounts/", payload)
    assert response.status_code == 400
    assert field in str(response.json())
    assert not SocialAccount.all_objects.exists()
    assert not AuditEvent.objects.filter(object_type="generations.socialaccount").exists()


def test_a_handle_is_unique_per_organization_and_platform_among_live_accounts(
    organization, other_organization, admin_api_client, other_api_client
):
    payload = {"platform": "x", "handle": "@acme"}
    assert admin_api_client.post("/api/v1/social-accounts/", payload).status_code == 201
    duplicate = admin_api_client.post("/api/v1/social-accounts/", payload)
    assert duplicate.status_code == 400
    assert [error["code"] for error in duplicate.json()["errors"]] == ["unique"]  # as every duplicate
    assert (
        admin_api_client.post("/api/v1/social-accounts/", {**payload, "platform": "linkedin"}).status_code
        == 201
    )
    assert other_api_client.post("/api/v1/social-accounts/", payload).status_code == 201
    first = SocialAccount.objects.get(organization=organization, platform="x")
    assert admin_api_client.delete(f"/api/v1/social-accounts/{first.pk}/").status_code == 204
    assert admin_api_client.post("/api/v1/social-accounts/", payload).status_code == 201


def test_editors_read_accounts_but_only_admins_write_them(api_client, account):
    assert api_client.get("/api/v1/social-accounts/").json()["results"][0]["id"] == account.pk
    assert api_client.post("/api/v1/social-accounts/", {"platform": "x", "handle": "e"}).status_code == 403


# --- Posts ----------------------------------------------------------------------------------------


def test_scheduling_a_post_queues_its_delivery_in_the_same_transaction(api_client, account):
    publish_at = timezone.now() + datetime.timedelta(hours=2)
    response = api_client.post(
        "/api/v1/scheduled-posts/",
        {"account": account.pk, "text": "Hi", "publish_at": publish_at.isoformat()},
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "scheduled" and body["attempts"] == 0 and body["max_attempts"] == 5
    assert body["idempotency_key"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT queue_name, scheduled_at, args FROM procrastinate_jobs WHERE task_name = %s",
            [services.PUBLISH_TASK],
        )
        [(queue, scheduled_at, args)] = cursor.fetchall()
    assert (queue, scheduled_at, json.loads(args)) == ("publishing", publish_at, {"post_id": body["id"]})


def test_a_generation_can_be_published_instead_of_text(organization, api_client, account):
    generation = GenerationFactory(organization=organization, content="Sunrise over the Tagus.")
    response = api_client.post(
        "/api/v1/scheduled-posts/", {"account": account.pk, "generation": generation.pk}
    )
    assert response.status_code == 201
    assert ScheduledPost.objects.get().content == "Sunrise over the Tagus."


def _bad_post_cases():
    past = (timezone.now() - datetime.timedelta(hours=1)).isoformat()
    return [
        (
            "other tenant's account",
            lambda ctx: {"account": ctx["foreign_account"].pk, "text": "x"},
            "account",
        ),
        ("unknown account", lambda ctx: {"account": 999999, "text": "x"}, "account"),
        ("deleted account", lambda ctx: {"account": ctx["deleted_account"].pk, "text": "x"}, "account"),
        ("unsupported platform", lambda ctx: {"account": ctx["linkedin"].pk, "text": "x"}, "not supported"),
        ("inactive account", lambda ctx: {"account": ctx["inactive"].pk, "text": "x"}, "inactive"),
        ("no text nor generation", lambda ctx: {"account": ctx["account"].pk}, "text"),
        (
            "other tenant's generation",
            lambda ctx: {"account": ctx["account"].pk, "generation": ctx["foreign_generation"].pk},
            "generation",
        ),
        (
            "publish_at in the past",
            lambda ctx: {"account": ctx["account"].pk, "text": "x", "publish_at": past},
            "in the past",
        ),
        (
            "max_attempts 0",
            lambda ctx: {"account": ctx["account"].pk, "text": "x", "max_attempts": 0},
            "max_attempts",
        ),
        (
            "max_attempts 21",
            lambda ctx: {"account": ctx["account"].pk, "text": "x", "max_attempts": 21},
            "max_attempts",
        ),
    ]


@pytest.mark.parametrize(
    ("case", "payload", "says"), _bad_post_cases(), ids=[c[0] for c in _bad_post_cases()]
)
def test_bad_posts_are_400_and_write_nothing(
    organization, other_organization, api_client, account, case, payload, says
):
    context = {
        "account": account,
        "foreign_account": webhook_account(other_organization, URL, handle="theirs"),
        "foreign_generation": GenerationFactory(organization=other_organization),
        "linkedin": services.social_account_create(
            organization=organization, platform=Platform.LINKEDIN, handle="li"
        ),
        "inactive": webhook_account(organization, URL, handle="off", is_active=False),
        "deleted_account": webhook_account(organization, URL, handle="gone"),
    }
    context["deleted_account"].delete()
    events = AuditEvent.objects.count()

    response = api_client.post("/api/v1/scheduled-posts/", payload(context))

    assert response.status_code == 400, response.json()
    assert says in str(response.json())
    assert not ScheduledPost.objects.exists()
    assert publish_jobs() == 0
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize("at", ["in an hour", "left out"])
def test_an_idempotency_key_replays_the_first_post_and_refuses_another_body(api_client, account, at):
    """Left out, publish_at is "now": a retry moments later is the same request, not a 409."""
    payload = {"account": account.pk, "text": "Once", "idempotency_key": "campaign-42-day-1"}
    if at == "in an hour":
        payload["publish_at"] = (timezone.now() + datetime.timedelta(hours=1)).isoformat()
    first = api_client.post("/api/v1/scheduled-posts/", payload)
    again = api_client.post("/api/v1/scheduled-posts/", payload)
    other = api_client.post("/api/v1/scheduled-posts/", {**payload, "text": "Twice"})
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 409)
    assert again.json()["id"] == first.json()["id"]
    assert ScheduledPost.objects.count() == 1 and publish_jobs() == 1


def test_cancel_and_retry_follow_the_life_cycle_and_are_audited(api_client, account):
    post, _ = services.scheduled_post_create(organization=account.organization, account=account, text="x")
    assert api_client.post(f"/api/v1/scheduled-posts/{post.pk}/retry/").status_code == 409
    cancelled = api_client.post(f"/api/v1/scheduled-posts/{post.pk}/cancel/")
    assert cancelled.json()["status"] == "cancelled"
    assert api_client.post(f"/api/v1/scheduled-posts/{post.pk}/cancel/").status_code == 200  # no-op
    retried = api_client.post(f"/api/v1/scheduled-posts/{post.pk}/retry/")
    assert retried.status_code == 200 and retried.json()["status"] == "scheduled"
    assert publish_jobs() == 2
    ScheduledPost.objects.filter(pk=post.pk).update(status=PostStatus.PUBLISHED, published_at=timezone.now())
    assert api_client.post(f"/api/v1/scheduled-posts/{post.pk}/cancel/").status_code == 409
    statuses = [
        event.changes.get("status")
        for event in AuditEvent.objects.for_object(post).order_by("id")
        if "status" in event.changes
    ]
    assert statuses == [[None, "scheduled"], ["scheduled", "cancelled"], ["cancelled", "scheduled"]]


def test_posts_are_filtered_by_status_account_and_day(organization, api_client, account):
    second = webhook_account(organization, URL, handle="second")
    tomorrow = timezone.now() + datetime.timedelta(days=1)
    a, _ = services.scheduled_post_create(organization=organization, account=account, text="a")
    b, _ = services.scheduled_post_create(
        organization=organization, account=second, text="b", publish_at=tomorrow
    )
    services.scheduled_post_cancel(organization=organization, post=a)

    def ids(**query):
        response = api_client.get("/api/v1/scheduled-posts/", query)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids(status="cancelled") == [a.pk]
    assert ids(account=second.pk) == [b.pk]
    assert ids(date=tomorrow.date().isoformat()) == [b.pk]
    assert ids(publish_after=(tomorrow - datetime.timedelta(minutes=1)).isoformat()) == [b.pk]


def test_another_tenant_sees_and_touches_none_of_the_posts(api_client, other_api_client, account):
    post, _ = services.scheduled_post_create(organization=account.organization, account=account, text="x")
    assert other_api_client.get("/api/v1/scheduled-posts/").json()["results"] == []
    assert other_api_client.get(f"/api/v1/scheduled-posts/{post.pk}/").status_code == 404
    assert other_api_client.post(f"/api/v1/scheduled-posts/{post.pk}/cancel/").status_code == 404
    assert other_api_client.get(f"/api/v1/social-accounts/{account.pk}/").status_code == 404
    post.refresh_from_db()
    assert post.status == PostStatus.SCHEDULED


def test_posts_are_neither_edited_nor_deleted_through_the_api(api_client, account):
    post, _ = services.scheduled_post_create(organization=account.organization, account=account, text="x")
    assert api_client.patch(f"/api/v1/scheduled-posts/{post.pk}/", {"text": "y"}).status_code == 405
    assert api_client.delete(f"/api/v1/scheduled-posts/{post.pk}/").status_code == 405


def test_an_expired_oauth_token_fails_the_post_without_delivering(organization, account):
    services.social_account_update(
        organization=organization,
        account=account,
        token_expires_at=timezone.now() - datetime.timedelta(minutes=1),
    )
    post, _ = services.scheduled_post_create(organization=organization, account=account, text="x")
    post = services.scheduled_post_publish(post_id=post.pk)
    assert post.status == PostStatus.FAILED
    assert post.attempts == 1
    assert "OAuth access token expired" in post.last_error and "reconnect the account" in post.last_error


# --- Admin ----------------------------------------------------------------------------------------


def test_admin_lists_posts_by_day_and_cancels_and_retries_them(organization, superuser_client, account):
    post, _ = services.scheduled_post_create(organization=organization, account=account, text="admin post")
    today = timezone.now().date()
    page = superuser_client.get(
        "/admin/generations/scheduledpost/",
        {"publish_at__year": today.year, "publish_at__month": today.month, "publish_at__day": today.day},
    )
    assert page.status_code == 200
    assert f"/admin/generations/scheduledpost/{post.pk}/change/" in page.content.decode()
    assert superuser_client.get(f"/admin/generations/scheduledpost/{post.pk}/change/").status_code == 200

    changelist = "/admin/generations/scheduledpost/"
    superuser_client.post(changelist, {"action": "cancel_selected", "_selected_action": [post.pk]})
    post.refresh_from_db()
    assert post.status == PostStatus.CANCELLED
    superuser_client.post(changelist, {"action": "retry_selected", "_selected_action": [post.pk]})
    post.refresh_from_db()
    assert post.status == PostStatus.SCHEDULED
    assert AuditEvent.objects.for_object(post).filter(user__username="root").count() == 2


def test_admin_schedules_a_post_through_the_service(organization, superuser_client, account):
    response = superuser_client.post(
        "/admin/generations/scheduledpost/add/",
        {
            "organization": organization.pk,
            "account": account.pk,
            "text": "from the admin",
            "publish_at_0": timezone.now().date().isoformat(),
            "publish_at_1": (timezone.now() + datetime.timedelta(minutes=1)).strftime("%H:%M:%S"),
            "max_attempts": 5,
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert ScheduledPost.objects.get().text == "from the admin"
    assert publish_jobs() == 1


# --- Key rotation ---------------------------------------------------------------------------------


def test_rotate_encryption_key_rotates_the_social_secrets_too(organization):
    account = webhook_account(
        organization, URL, secrets={"access_token": ACCESS_TOKEN, "refresh_token": REFRESH_TOKEN}
    )
    old_key = settings.CRYPTOGRAPHY_KEY
    new_key = "rotated-cryptography-key-0123456789-abcdefghijklmnopqrstuvwxyz"
    # The rotation window: the new key writes, the old one still reads.
    with override_settings(CRYPTOGRAPHY_KEY=new_key, CRYPTOGRAPHY_OLD_KEYS=[old_key]):
        call_command("rotate_encryption_key", no_progress=True, stdout=io.StringIO())
    account.refresh_from_db()
    new_version = KeyMaterial(new_key).version
    assert account.access_token_key_version == account.refresh_token_key_version == new_version
    assert account.signing_secret_key_version == new_version
    with override_settings(CRYPTOGRAPHY_KEY=new_key, CRYPTOGRAPHY_OLD_KEYS=[]):
        secrets = services.account_secrets(account=account)
    assert (secrets.access_token, secrets.refresh_token, secrets.signing_secret) == (
        ACCESS_TOKEN,
        REFRESH_TOKEN,
        SIGNING_SECRET,
    )


# --- the shared API checks (list, retrieve, query count, tenant walls) ------------------------


class TestSocialAccountAPI(TenantReadAPITests):
    """Social accounts as every tenant resource: listed and read inside the caller's organization."""

    model = SocialAccount
    url = "/api/v1/social-accounts/"

    @pytest.fixture
    def make_object(self):
        counter = iter(range(1_000_000))

        def make(organization):
            return webhook_account(organization, URL, handle=f"hook-{next(counter)}")

        return make


class TestScheduledPostAPI(TenantReadAPITests):
    """Scheduled posts as every tenant resource: listed and read inside the caller's organization."""

    model = ScheduledPost
    url = "/api/v1/scheduled-posts/"

    @pytest.fixture
    def make_object(self):
        counter = iter(range(1_000_000))

        def make(organization):
            account = webhook_account(organization, URL, handle=f"posts-{next(counter)}")
            post, _ = services.scheduled_post_create(
                organization=organization,
                account=account,
                text="A post",
                publish_at=timezone.now() + datetime.timedelta(days=1),
            )
            return post

        return make


@pytest.mark.parametrize(
    ("query", "status"),
    [
        # An offset PostgreSQL refuses is converted to UTC first (found by the fuzzer: was a 500).
        ("publish_before=1999-07-15T19:44:45%2B18:33", 200),
        ("publish_after=0539-07-29T02:27:13Z", 400),
        ("date=0626-06-02", 400),
        ("publish_before=9999-12-31T23:59:59-18:00", 400),
    ],
)
def test_post_filters_take_any_offset_and_refuse_dates_outside_the_window(api_client, query, status):
    response = api_client.get(f"/api/v1/scheduled-posts/?{query}")
    assert response.status_code == status, response.content
    if status == 400:
        assert response.json()["type"] == "validation_error"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"webhook_url": URL}, "A webhook account needs a signing secret."),
        ({"new_signing_secret": SIGNING_SECRET}, "A webhook account needs its URL."),
    ],
)
def test_admin_refuses_an_incomplete_webhook_account_on_the_form(
    organization, superuser_client, data, message
):
    """The service would refuse it too (publisher.account_errors); the form must say so first,
    or the admin's save would end in a 500."""
    response = superuser_client.post(
        "/admin/generations/socialaccount/add/",
        {
            "organization": organization.pk,
            "platform": Platform.WEBHOOK,
            "handle": "hooks",
            "is_active": "on",
            **data,
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert any(message in messages for messages in errors.values()), errors
    assert not SocialAccount.all_objects.exists()


def test_admin_says_a_bad_webhook_url_once(organization, superuser_client):
    """The form's own URL check speaks for the field; the publisher's "needs its URL" would
    only repeat it."""
    response = superuser_client.post(
        "/admin/generations/socialaccount/add/",
        {
            "organization": organization.pk,
            "platform": Platform.WEBHOOK,
            "handle": "hooks",
            "webhook_url": "not a url",
            "new_signing_secret": SIGNING_SECRET,
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["webhook_url"] == ["Enter a valid URL."]
    assert not SocialAccount.all_objects.exists()


def test_admin_adds_a_webhook_account_through_the_service(organization, superuser_client):
    response = superuser_client.post(
        "/admin/generations/socialaccount/add/",
        {
            "organization": organization.pk,
            "platform": Platform.WEBHOOK,
            "handle": "hooks",
            "webhook_url": URL,
            "is_active": "on",
            "new_signing_secret": SIGNING_SECRET,
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    account = SocialAccount.objects.get()
    assert (account.organization, account.handle, account.webhook_url) == (organization, "hooks", URL)
    assert services.account_secrets(account=account).signing_secret == SIGNING_SECRET
    assert AuditEvent.objects.for_object(account).filter(user__username="root").count() == 1


def test_a_post_on_an_inactive_account_is_not_retried(api_client, account):
    """As a new post on it is refused: a retried one could only fail again."""
    post, _ = services.scheduled_post_create(organization=account.organization, account=account, text="x")
    api_client.post(f"/api/v1/scheduled-posts/{post.pk}/cancel/")
    SocialAccount.objects.filter(pk=account.pk).update(is_active=False)
    jobs = publish_jobs()

    response = api_client.post(f"/api/v1/scheduled-posts/{post.pk}/retry/")

    assert (response.status_code, response.json()["errors"][0]["code"]) == (400, "inactive")
    assert ScheduledPost.objects.get(pk=post.pk).status == PostStatus.CANCELLED
    assert publish_jobs() == jobs


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:5432/",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://10.0.0.7/hook",
        "http://[::1]:8000/",
        "http://[::ffff:127.0.0.1]/",
        "http://localhost:8000/",
        "http://api.localhost/",
        "http://0.0.0.0/",
    ],
)
def test_a_webhook_to_a_local_or_private_address_is_refused(admin_api_client, settings, url):
    """The request would leave from inside our network, and its answer is shown to the tenant."""
    settings.PUBLISHING_ALLOW_PRIVATE_TARGETS = False

    response = admin_api_client.post(
        "/api/v1/social-accounts/",
        {"platform": "webhook", "handle": "hooks", "webhook_url": url, "signing_secret": SIGNING_SECRET},
        format="json",
    )

    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["attr"] == "webhook_url"
    assert not SocialAccount.all_objects.exists()


@pytest.fixture
def receiver():
    """A webhook endpoint on 127.0.0.1 that records what reaches it."""
    from tests.background.harness import Receiver

    listening = Receiver()
    yield listening
    listening.close()


def _deliver(post):
    from generations.publishing.publishers import AccountSecrets, publisher_for

    return publisher_for(Platform.WEBHOOK).publish(post, secrets=AccountSecrets(None, None, "s"), attempt=1)


def _resolving(monkeypatch, *answers: str):
    """Name look-ups answer ``answers`` in turn, the last one repeating (a DNS server that
    rebinds: public for the first question, private after); returns the questions asked."""
    from generations.publishing.publishers import webhook

    asked = []

    def getaddrinfo(host, port, *args, **kwargs):
        address = answers[min(len(asked), len(answers) - 1)]
        asked.append(host)
        return [(2, 1, 6, "", (address, port or 0))]

    monkeypatch.setattr(webhook.socket, "getaddrinfo", getaddrinfo)
    return asked


def test_a_delivery_to_a_name_that_now_means_a_private_address_fails_without_a_request(
    organization, settings, monkeypatch, receiver
):
    """Saved with a public name, looked up again at delivery: refused there, nothing sent."""
    from generations.publishing.publishers import Outcome

    settings.PUBLISHING_ALLOW_PRIVATE_TARGETS = False
    port = receiver.server.server_address[1]
    account = webhook_account(organization, f"http://hooks.example.com:{port}/inkwell")
    post, _ = services.scheduled_post_create(organization=organization, account=account, text="x")
    _resolving(monkeypatch, "127.0.0.1")

    delivery = _deliver(post)

    assert delivery.outcome == Outcome.FAIL
    assert "private address" in delivery.error
    assert receiver.deliveries == []


def test_a_name_that_rebinds_to_a_private_address_after_the_check_is_not_connected_to(
    organization, settings, monkeypatch, receiver
):
    """DNS rebinding: the name answers a public address to the delivery's check and the
    receiver's private one a moment later. The connection is opened only to an address that was
    vetted when connecting, so the private one is refused there and nothing reaches it."""
    from generations.publishing.publishers import Outcome

    settings.PUBLISHING_ALLOW_PRIVATE_TARGETS = False
    port = receiver.server.server_address[1]
    account = webhook_account(organization, f"http://hooks.example.com:{port}/inkwell")
    post, _ = services.scheduled_post_create(organization=organization, account=account, text="x")
    asked = _resolving(monkeypatch, "93.184.215.14", "127.0.0.1")

    delivery = _deliver(post)

    assert asked == ["hooks.example.com", "hooks.example.com"]  # the check, then the connection
    assert delivery.outcome == Outcome.FAIL
    assert "private address" in delivery.error
    assert receiver.deliveries == []


def test_a_delivery_connects_to_the_address_it_vetted_not_to_the_name(organization, settings, monkeypatch):
    """The socket is opened to the public address the look-up answered (a second look-up by
    the HTTP library could answer another); unreachable here, so the delivery is retried."""
    import httpcore

    from generations.publishing.publishers import Outcome

    settings.PUBLISHING_ALLOW_PRIVATE_TARGETS = False
    account = webhook_account(organization, "https://hooks.example.com/inkwell")
    post, _ = services.scheduled_post_create(organization=organization, account=account, text="x")
    _resolving(monkeypatch, "93.184.215.14")
    connected = []

    def connect_tcp(self, host, port, *args, **kwargs):
        connected.append((host, port))
        raise httpcore.ConnectError("unreachable from the test")

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", connect_tcp)

    delivery = _deliver(post)

    assert connected == [("93.184.215.14", 443)]
    assert delivery.outcome == Outcome.RETRY


def test_a_webhook_on_a_private_address_is_delivered_where_allowed(organization, receiver):
    """Tests and local development allow private targets: the name is connected to as given."""
    from generations.publishing.publishers import Outcome

    account = webhook_account(organization, receiver.url)
    post, _ = services.scheduled_post_create(organization=organization, account=account, text="x")

    delivery = _deliver(post)

    assert delivery.outcome == Outcome.PUBLISHED
    assert [d.json["id"] for d in receiver.deliveries] == [post.pk]
