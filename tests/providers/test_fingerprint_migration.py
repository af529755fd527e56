"""``providers.0005`` and ``analytics.0005``: fingerprints become keyed (HMAC with
``FINGERPRINT_KEY``) on credentials, provider calls and rollups; both reverse."""

from __future__ import annotations

import hashlib

import pytest

from analytics.models import ProviderCall, ProviderCallDailyRollup
from providers.credentials import fingerprint_of
from providers.models import ProviderCredential
from tests.analytics.factories import ProviderCallFactory
from tests.migrations_support import migrate
from tests.providers.factories import make_credential

pytestmark = pytest.mark.django_db(transaction=True)
BARE = [("analytics", "0005_provider_call_recorded_by_key"), ("providers", "0004_row_level_security")]
KEYED = [("analytics", "0006_key_fingerprint_hmac"), ("providers", "0005_credential_fingerprint_hmac")]
API_KEY = "sk-test-migration-0123456789abcdef"
UNKNOWN_KEY = "sk-test-never-stored-0123456789abcdef"


def sha256(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def fingerprints(credential, call, stranger, rollup_pk):
    # Only the fingerprint columns: at an older migration the tables lack columns added since.
    calls = ProviderCall.objects.values_list("key_fingerprint", flat=True)
    return (
        ProviderCredential.all_objects.values_list("fingerprint", flat=True).get(pk=credential.pk),
        calls.get(pk=call.pk),
        calls.get(pk=stranger.pk),
        ProviderCallDailyRollup.objects.values_list("key_fingerprint", flat=True).get(pk=rollup_pk),
    )


def test_fingerprints_are_rekeyed_and_the_migrations_reverse(back_to_the_latest_afterwards, organization):
    # Given a credential and calls made with its key, and a call made with a key never stored, as
    # the keyed migrations leave them
    credential = make_credential(organization, api_key=API_KEY)
    call = ProviderCallFactory(organization=organization, key_fingerprint=fingerprint_of(API_KEY))
    stranger = ProviderCallFactory(organization=organization, key_fingerprint=fingerprint_of(UNKNOWN_KEY))
    rollup = ProviderCallDailyRollup.objects.create(
        organization=organization, day=call.occurred_at.date(), key_fingerprint=fingerprint_of(API_KEY)
    )
    keyed = fingerprints(credential, call, stranger, rollup.pk)
    assert keyed == (fingerprint_of(API_KEY),) * 2 + (fingerprint_of(UNKNOWN_KEY), fingerprint_of(API_KEY))

    # When the migrations are reversed, the bare SHA-256 of every key Inkwell holds comes back (a
    # key it never held cannot be un-keyed)
    migrate(BARE)
    assert fingerprints(credential, call, stranger, rollup.pk) == (
        sha256(API_KEY),
        sha256(API_KEY),
        fingerprint_of(UNKNOWN_KEY),
        sha256(API_KEY),
    )

    # Then run forward again, they are keyed again and the credential still names its calls
    migrate(KEYED)
    assert fingerprints(credential, call, stranger, rollup.pk)[:2] == keyed[:2]
    assert fingerprints(credential, call, stranger, rollup.pk)[3] == keyed[3]
