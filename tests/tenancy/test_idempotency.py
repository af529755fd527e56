"""The idempotency core (``tenancy.idempotency``): fingerprints, replays, conflicts, deleted
rows, races, and the convention that it is the only copy in the product code."""

from __future__ import annotations

import ast
import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import IntegrityError, transaction

from analytics.services import METRIC_INGEST, PROVIDER_CALL_INGEST
from generations.models import Generation
from generations.services import GENERATION_INGEST
from tenancy.idempotency import ConflictingReplay, DeletedReplay, request_fingerprint
from tenancy.statements import Statement
from tests.analytics.factories import PerformanceMetricFactory, ProviderCallFactory
from tests.generations.factories import GenerationFactory

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_APPS = ("tenancy", "providers", "styleguides", "generations", "analytics", "config")


def test_a_fingerprint_ignores_key_order_and_whitespace_but_not_values():
    body = {"b": [1, 2], "a": {"y": Decimal("0.10"), "x": datetime.date(2026, 1, 2)}, "é": "ü"}
    same = {"é": "ü", "a": {"x": datetime.date(2026, 1, 2), "y": Decimal("0.10")}, "b": [1, 2]}

    assert request_fingerprint(body) == request_fingerprint(same)
    assert len(request_fingerprint(body)) == 64
    assert request_fingerprint(body) != request_fingerprint({**body, "b": [2, 1]})


@pytest.mark.django_db
class TestAnswers:
    def test_the_same_body_is_the_first_row_not_created(self, organization):
        row = GenerationFactory(organization=organization, request_id="r", request_fingerprint="f")

        recorded = GENERATION_INGEST.replay(organization=organization, key="r", fingerprint="f")

        assert (recorded.instance, recorded.created) == (row, False)

    def test_a_new_key_has_no_answer(self, organization, other_organization):
        GenerationFactory(organization=other_organization, request_id="r", request_fingerprint="f")
        assert GENERATION_INGEST.replay(organization=organization, key="r", fingerprint="f") is None

    def test_another_body_is_a_conflict_naming_the_key(self, organization):
        GenerationFactory(organization=organization, request_id="r", request_fingerprint="f")

        with pytest.raises(ConflictingReplay) as raised:
            GENERATION_INGEST.replay(organization=organization, key="r", fingerprint="other")

        assert (raised.value.status_code, raised.value.code, raised.value.attr) == (
            409,
            "conflicting_replay",
            "request_id",
        )
        assert "'r'" in raised.value.detail

    @pytest.mark.parametrize("fingerprint", ["f", "other"], ids=["same body", "another body"])
    def test_a_deleted_row_is_a_deleted_replay_with_its_restore_url(self, organization, fingerprint):
        row = GenerationFactory(organization=organization, request_id="r", request_fingerprint="f")
        row.delete()

        with pytest.raises(DeletedReplay) as raised:
            GENERATION_INGEST.replay(organization=organization, key="r", fingerprint=fingerprint)

        assert (raised.value.status_code, raised.value.code) == (409, "deleted")
        assert raised.value.restore_url == f"/api/v1/generations/{row.pk}/restore/"
        assert raised.value.restore_url in raised.value.detail

    def test_a_batch_names_each_item(self, organization):
        GenerationFactory(organization=organization, request_id="old", request_fingerprint="f")

        with pytest.raises(ConflictingReplay) as raised:
            GENERATION_INGEST.replays(organization=organization, keys=["new", "old"], fingerprints=["n", "x"])
        assert raised.value.attr == "items.1.request_id"
        assert raised.value.detail.startswith("Item 1: ")

        answers = GENERATION_INGEST.replays(
            organization=organization, keys=["new", "old"], fingerprints=["n", "f"]
        )
        assert answers[0] is None and answers[1].created is False


@pytest.mark.django_db
class TestInsert:
    def test_a_key_taken_meanwhile_answers_the_winner_and_keeps_the_transaction_usable(self, organization):
        # The winner committed between our look-up and our INSERT (simulated: it is already there).
        winner = ProviderCallFactory(organization=organization, request_id="c", request_fingerprint="f")
        loser = ProviderCallFactory.build(organization=organization, request_id="c")

        recorded = PROVIDER_CALL_INGEST.insert(loser, fingerprint="f")

        assert (recorded.instance, recorded.created) == (winner, False)
        assert PROVIDER_CALL_INGEST.rows(organization).count() == 1  # the savepoint rolled back only us

    def test_a_key_taken_meanwhile_with_another_body_is_a_conflict(self, organization):
        ProviderCallFactory(organization=organization, request_id="c", request_fingerprint="f")

        with pytest.raises(ConflictingReplay):
            PROVIDER_CALL_INGEST.insert(
                ProviderCallFactory.build(organization=organization, request_id="c"), fingerprint="other"
            )

    def test_a_key_of_a_deleted_row_meets_the_constraint_too(self, organization):
        GenerationFactory(organization=organization, request_id="r", request_fingerprint="f").delete()

        with pytest.raises(DeletedReplay):
            GENERATION_INGEST.insert(
                GenerationFactory.build(organization=organization, request_id="r"), fingerprint="f"
            )

    def test_other_integrity_errors_are_not_taken_for_a_race(self, organization):
        bad = GenerationFactory.build(organization=organization, request_id="neg", input_tokens=-1)

        with pytest.raises(IntegrityError), transaction.atomic():
            GENERATION_INGEST.insert(bad, fingerprint="f")
        assert not Generation.all_objects.filter(request_id="neg").exists()

    def test_an_insert_stores_every_value_and_null_for_the_columns_it_leaves_out(
        self, organization, django_assert_num_queries
    ):
        # Given two rows of one shape: empty nullable columns (no database default) left out
        first = GenerationFactory.build(organization=organization, request_id="a", user_ref=None)
        second = GenerationFactory.build(organization=organization, request_id="b", user_ref=None)

        # When both are inserted: one statement each, the same text
        with django_assert_num_queries(2) as queries:
            GENERATION_INGEST.insert(first, fingerprint="f")
            GENERATION_INGEST.insert(second, fingerprint="g")

        # Then the rows read back exactly as built
        assert queries[0]["sql"].split(" VALUES ")[0] == queries[1]["sql"].split(" VALUES ")[0]
        assert '"user_ref"' not in queries[0]["sql"]
        for built in (first, second):
            stored = Generation.all_objects.get(pk=built.pk)
            for field in Generation._meta.concrete_fields:
                assert getattr(stored, field.attname) == getattr(built, field.attname), field.name
            assert stored.user_ref is None and stored.request_fingerprint in ("f", "g")

    def test_an_expression_value_is_inserted_through_djangos_compiler(self, organization):
        from django.db.models.functions import Now

        row = GenerationFactory.build(organization=organization, request_id="x", completed_at=Now())

        recorded = GENERATION_INGEST.insert(row, fingerprint="f")

        assert recorded.created
        assert Generation.all_objects.get(pk=row.pk).completed_at is not None

    def test_writes_made_with_a_row_go_in_its_statement_and_only_when_it_is_written(
        self, organization, django_assert_num_queries
    ):
        def touch(row, written_with):
            # A write of another table that must happen exactly when the row is written.
            written_with.statements.append(
                Statement(
                    f"UPDATE tenancy_organization SET name = name || %s WHERE id = %s "
                    f"AND {written_with.condition}",
                    ["+", organization.pk],
                )
            )

        first = GenerationFactory.build(organization=organization, request_id="w")
        with django_assert_num_queries(1):
            assert GENERATION_INGEST.insert(first, fingerprint="f", add_writes=touch).created
        assert first.pk is not None and first.request_fingerprint == "f"

        # A replay: its INSERT writes nothing, so neither does the statement's other write.
        again = GenerationFactory.build(organization=organization, request_id="w", request_fingerprint="f")
        recorded = GENERATION_INGEST.insert(again, fingerprint="f", add_writes=touch)

        assert (recorded.instance.pk, recorded.created) == (first.pk, False)
        organization.refresh_from_db()
        assert organization.name.endswith("+") and not organization.name.endswith("++")

    def test_a_failing_write_made_with_a_row_leaves_the_row_unwritten(self, organization):
        def impossible(row, written_with):
            # A rollup row without its day: NOT NULL refuses it, and the whole statement fails.
            written_with.statements.append(
                Statement(
                    f"INSERT INTO analytics_generationmodeldailyrollup (organization_id) "
                    f"SELECT %s WHERE {written_with.condition}",
                    [organization.pk],
                )
            )

        row = GenerationFactory.build(organization=organization, request_id="lost")
        with pytest.raises(IntegrityError), transaction.atomic():
            GENERATION_INGEST.insert(row, fingerprint="f", add_writes=impossible)

        assert not Generation.all_objects.filter(request_id="lost").exists()

    def test_a_metric_is_keyed_by_its_generation(self, organization):
        generation = GenerationFactory(organization=organization)
        PerformanceMetricFactory(generation=generation, request_fingerprint="f")

        with pytest.raises(ConflictingReplay) as raised:
            METRIC_INGEST.replay(organization=organization, key=generation, fingerprint="other")
        assert raised.value.attr == "generation"
        assert f"generation {generation.pk}" in raised.value.detail


def _product_modules():
    for app in PRODUCT_APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts:
                yield path


def test_the_core_is_the_only_copy_of_idempotent_ingestion_in_the_product_code():
    """No module but the core catches a unique violation or defines a request fingerprint."""
    offenders = []
    for path in _product_modules():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            caught = isinstance(node, ast.ExceptHandler) and "IntegrityError" in ast.unparse(
                node.type or ast.Name("")
            )
            defined = isinstance(node, ast.FunctionDef) and node.name in {"request_fingerprint", "_replayed"}
            if (caught or defined) and path != ROOT / "tenancy" / "idempotency.py":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
