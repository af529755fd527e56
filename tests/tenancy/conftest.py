"""Fixtures shared by the tenancy tests."""

from __future__ import annotations

import pytest

from tenancy.choices import Role
from tests.tenancy.admin_walker import staff_member


@pytest.fixture
def admin_owner_client(client, organization):
    """A staff owner of ``organization`` logged in to the admin. A 5xx is returned, not raised:
    Django reports it to ``got_request_exception`` (which the test client re-raises) and then
    answers it, and these tests read the answer."""
    client.force_login(staff_member(organization, Role.OWNER))
    client.raise_request_exception = False
    return client
