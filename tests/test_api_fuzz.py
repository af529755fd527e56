"""Property-based API fuzzing with schemathesis against our own OpenAPI schema.

Every operation is called with generated inputs through the real WSGI app, with a real API key,
on the real database: inputs the schema allows (positive mode) and inputs it forbids (negative
mode: wrong types, missing required fields, values out of range). No input may produce a server
error, and every answer must keep the
published contract: a documented status code and content type, documented headers, and a body
that validates against the schema (nullable fields, enums, and every error code, which the schema
enumerates from one registry: ``tenancy.api.error_codes``).

``FUZZ_EXAMPLES`` sets the cases per operation (CI's second pass runs 3); shrinking is off, so a
failure is reported as found rather than minimised.
"""

import os

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from schemathesis.specs.openapi import checks as openapi_checks

from tenancy import services
from tenancy.choices import APIKeyRole
from tests.factories import OrganizationFactory

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())
schema.config.generation.update(
    modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
)


@pytest.fixture
def auth_header(db):
    organization = OrganizationFactory(slug="fuzz")
    _, plain_key = services.api_key_create(organization=organization, name="fuzz", role=APIKeyRole.ADMIN)
    # As Django's test client does: the WSGI handler would otherwise close the test's connection
    # (and its transaction) at the end of every request.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield {"Authorization": f"Api-Key {plain_key}"}
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


CHECKS = [
    schemathesis.checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
]


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "8")),
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_keep_the_published_contract(case, auth_header):
    response = case.call(headers=auth_header)
    case.validate_response(response, checks=CHECKS)
