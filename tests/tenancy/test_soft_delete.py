"""The soft-delete base: managers, queryset delete, restore, hard delete, partial uniqueness."""

import pytest
from django.db import IntegrityError, transaction

from tests.testapp.models import Widget

pytestmark = pytest.mark.django_db


def test_delete_hides_and_restore_brings_back(organization):
    widget = Widget.objects.create(organization=organization, name="A", slug="a")
    widget.delete()

    assert not Widget.objects.filter(pk=widget.pk).exists()
    assert Widget.all_objects.filter(pk=widget.pk).exists()
    assert list(Widget.deleted_objects.all()) == [widget]

    widget.restore()
    assert Widget.objects.filter(pk=widget.pk).exists()
    assert not Widget.deleted_objects.exists()


def test_queryset_delete_soft_deletes_in_one_statement(organization, django_assert_num_queries):
    for i in range(5):
        Widget.objects.create(organization=organization, name=f"W{i}", slug=f"w{i}")
    with django_assert_num_queries(1):
        assert Widget.objects.all().delete() == 5
    assert Widget.objects.count() == 0
    assert Widget.all_objects.count() == 5
    assert Widget.all_objects.restore() == 5


def test_unique_constraint_ignores_deleted_rows(organization):
    first = Widget.objects.create(organization=organization, name="A", slug="same")
    with pytest.raises(IntegrityError), transaction.atomic():
        Widget.objects.create(organization=organization, name="B", slug="same")
    first.delete()
    Widget.objects.create(organization=organization, name="B", slug="same")  # slug free again
    with pytest.raises(IntegrityError), transaction.atomic():
        first.restore()  # two live rows may not share it


def test_hard_delete_removes_the_row(organization):
    widget = Widget.objects.create(organization=organization, name="A", slug="a")
    widget.hard_delete()
    assert not Widget.all_objects.filter(pk=widget.pk).exists()
    Widget.objects.create(organization=organization, name="B", slug="b").delete()
    assert Widget.all_objects.hard_delete()[0] == 1
    assert Widget.all_objects.count() == 0


def test_forward_relation_still_reaches_a_deleted_parent(organization):
    parent = Widget.objects.create(organization=organization, name="P", slug="p")
    child = Widget.objects.create(organization=organization, name="C", slug="c", parent=parent)
    parent.delete()
    child = Widget.objects.get(pk=child.pk)
    assert child.parent == parent  # history keeps pointing at deleted rows (base manager unfiltered)
