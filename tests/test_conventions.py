"""Tests of the house conventions themselves, so a new viewset, model or admin that forgets one
fails here rather than in review (after NetBox's filterset-coverage tests).

- every viewset registered under the API has an API test class built on the shared mixins;
- every unique constraint of a tenant table starts with ``organization``;
- every table with ``organization_id`` has an index whose first column is ``organization_id``;
- every ModelAdmin of our apps inherits the scoped base (``InkwellModelAdmin``).
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import connection, models
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from rest_framework.viewsets import ViewSetMixin

import tests
from tenancy import rls
from tenancy.admin_mixins import InkwellModelAdmin
from tests.api_cases import TenantReadAPITests

OUR_APPS = ("tenancy", "providers", "styleguides", "generations", "analytics")

# Viewsets with no tenant CRUD/read test class, and why (each must still exist: a stale entry fails).
VIEWSETS_WITHOUT_API_TEST_CLASS = {
    "providers.api.views.ProviderViewSet": "global catalogue, read-only, not tenant-scoped (test_api.py)",
    "providers.api.views.AIModelViewSet": "global catalogue, read-only, not tenant-scoped (test_api.py)",
    "styleguides.api.views.VerticalViewSet": "global, looked up by slug (test_seed_fixture.py)",
    "generations.api.views.CacheEntryViewSet": "keyed by cache key, not id (test_cache.py)",
}


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


def registered_viewsets() -> set[type]:
    """Every viewset class routed under ``api/v1/``."""
    found = set()
    for route, callback in _walk(get_resolver("config.urls").url_patterns):
        cls = getattr(callback, "cls", None)
        if route.startswith("api/v1/") and cls is not None and issubclass(cls, ViewSetMixin):
            found.add(cls)
    return found


def api_test_classes() -> list[type]:
    """Every class built on the shared API mixins, in every test module."""
    for module in pkgutil.walk_packages(tests.__path__, prefix="tests."):
        # The fuzz module builds its cases from the live schema when imported; it has no CRUD classes.
        if module.name.rsplit(".", 1)[-1].startswith("test_") and module.name != "tests.test_api_fuzz":
            importlib.import_module(module.name)
    found, todo = [], [TenantReadAPITests]
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__dict__.get("url") or getattr(cls, "url", ""):
            found.append(cls)
    return found


def dotted(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def uncovered_viewsets(viewsets: set[type], test_classes: list[type]) -> list[str]:
    covered = {resolve(cls.url).func.cls for cls in test_classes if cls.url}
    return sorted(
        dotted(view)
        for view in viewsets
        if view not in covered and dotted(view) not in VIEWSETS_WITHOUT_API_TEST_CLASS
    )


def tenant_models() -> list[type[models.Model]]:
    return [
        model
        for model in apps.get_models()
        if model._meta.app_label in OUR_APPS and any(f.name == "organization" for f in model._meta.fields)
    ]


def unique_constraints_not_led_by_organization(model_list) -> list[str]:
    bad = []
    for model in model_list:
        for constraint in model._meta.constraints:
            unique = isinstance(constraint, models.UniqueConstraint) and constraint.fields
            if unique and constraint.fields[0] != "organization":
                bad.append(f"{model._meta.label}.{constraint.name}: {constraint.fields}")
    return bad


def tables_without_organization_index(model_list) -> list[str]:
    bad = []
    with connection.cursor() as cursor:
        for model in model_list:
            constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
            if not any(
                (info["index"] or info["unique"] or info["primary_key"])
                and info["columns"]
                and info["columns"][0] == "organization_id"
                for info in constraints.values()
            ):
                bad.append(model._meta.db_table)
    return bad


def admins_outside_the_scoped_base(registry) -> list[str]:
    return sorted(
        f"{model._meta.label}: {type(model_admin).__name__}"
        for model, model_admin in registry.items()
        if model._meta.app_label in OUR_APPS and not isinstance(model_admin, InkwellModelAdmin)
    )


def keys_not_restricting_deletes(model_list) -> list[str]:
    """The database's foreign keys into ``model_list``'s tables whose ``ON DELETE`` is not
    ``RESTRICT`` (``tenancy.foreign_keys``: Django recreates a key as ``NO ACTION`` when it alters
    the field)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname FROM pg_constraint "
            "WHERE contype = 'f' AND confdeltype <> 'r' AND confrelid::regclass::text = ANY(%s) "
            "ORDER BY 1, 2",
            [[model._meta.db_table for model in model_list]],
        )
        return [f"{table}.{name}" for table, name in cursor.fetchall()]


# --- The conventions ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_registered_viewset_has_an_api_test_class():
    viewsets = registered_viewsets()
    assert uncovered_viewsets(viewsets, api_test_classes()) == []
    stale = set(VIEWSETS_WITHOUT_API_TEST_CLASS) - {dotted(view) for view in viewsets}
    assert not stale, f"exempted viewsets no longer routed: {sorted(stale)}"


@pytest.mark.parametrize("label", sorted(model._meta.label for model in tenant_models()))
def test_every_tenant_unique_constraint_starts_with_organization(label):
    assert unique_constraints_not_led_by_organization([apps.get_model(label)]) == []


@pytest.mark.django_db
def test_every_tenant_table_has_an_index_led_by_organization_id():
    assert tables_without_organization_index(tenant_models()) == []


@pytest.mark.parametrize(
    "label", sorted(m._meta.label for m in admin.site._registry if m._meta.app_label in OUR_APPS)
)
def test_every_model_admin_inherits_the_scoped_base(label):
    model = apps.get_model(label)
    assert admins_outside_the_scoped_base({model: admin.site._registry[model]}) == []


@pytest.mark.django_db
def test_every_key_into_a_table_retention_deletes_from_restricts_deletes():
    # Retention deletes these tables' rows by the hundred thousand; NO ACTION would double the
    # database's checks of each deleted row (tenancy/foreign_keys.py). A new key (or an AlterField
    # of one) needs a SetDeleteAction("…", "…", "RESTRICT") in its app's migrations.
    from analytics.retention import COMPACTED_MODELS

    assert keys_not_restricting_deletes(COMPACTED_MODELS) == []


# --- The checks themselves catch a broken convention --------------------------------------------


@pytest.mark.django_db
def test_a_viewset_without_a_test_class_is_reported():
    class OrphanViewSet(ViewSetMixin):
        pass

    assert uncovered_viewsets({OrphanViewSet}, api_test_classes()) == [dotted(OrphanViewSet)]


def test_a_unique_constraint_not_led_by_organization_is_reported():
    class Probe(models.Model):  # noqa: DJ008
        organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE)
        name = models.CharField(max_length=10)

        class Meta:
            app_label = "tests_conventions"
            constraints = [models.UniqueConstraint(fields=["name", "organization"], name="probe_unique")]

    assert unique_constraints_not_led_by_organization([Probe]) == [
        "tests_conventions.Probe.probe_unique: ('name', 'organization')"
    ]


@pytest.mark.django_db
def test_a_table_without_an_organization_index_is_reported():
    class Probe(models.Model):  # noqa: DJ008
        organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE, db_index=False)

        class Meta:
            app_label = "tests_conventions"
            db_table = "conventions_probe"

    # DDL runs as the tables' owner (the app role has DML grants only); the test's transaction
    # rolls the table back.
    with rls.database_owner(), connection.schema_editor() as editor:
        editor.create_model(Probe)
    assert tables_without_organization_index([Probe]) == ["conventions_probe"]


def test_an_admin_outside_the_scoped_base_is_reported():
    from styleguides.models import Vertical

    assert admins_outside_the_scoped_base({Vertical: admin.ModelAdmin(Vertical, admin.site)}) == [
        "styleguides.Vertical: ModelAdmin"
    ]


@pytest.mark.django_db
def test_a_key_that_does_not_restrict_deletes_is_reported():
    from analytics.models import RetentionBatch

    # The archive's key to its batch is Django's NO ACTION: nothing deletes batches.
    reported = keys_not_restricting_deletes([RetentionBatch])
    assert len(reported) == 1
    assert reported[0].startswith("analytics_archivedrecord.")
