"""Serializer fields built once per class and cloned per instance (tenancy/api/field_prototypes.py).

Each instance gets its own fields: what one instance changes (a field made read-only on
update), evaluates (a related field's queryset) or reads late (choices from a registry) never
reaches another, and a change of DRF's settings rebuilds the fields.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from rest_framework import serializers
from rest_framework.relations import HyperlinkedIdentityField

from providers.api.serializers import ProviderCredentialSerializer
from providers.models import ProviderCredential
from styleguides import rules
from styleguides.api.serializers import BrandRuleSerializer
from tests.providers.factories import ProviderFactory
from tests.styleguides.test_rule_registry import register_throwaway
from tests.testapp.models import Widget

pytestmark = pytest.mark.django_db


class ParentSerializer(serializers.Serializer):
    parent = serializers.PrimaryKeyRelatedField(queryset=Widget.objects.all())


class WidgetLinkSerializer(serializers.ModelSerializer):
    """A widget's URL under the name DRF's ``URL_FIELD_NAME`` gives it ("link" in the test)."""

    class Meta:
        model = Widget
        fields = ["id", "link"]


def test_an_update_serializer_leaves_the_next_create_serializer_writable():
    provider = ProviderFactory()
    # Given an update serializer, which makes provider and api_key read-only on its own fields
    update = ProviderCredentialSerializer(
        instance=ProviderCredential(provider=provider, name="Old"), data={"name": "New"}, partial=True
    )
    assert update.fields["provider"].read_only and update.fields["api_key"].read_only
    # when a create serializer of the same class comes next, then both are written.
    create = ProviderCredentialSerializer(
        data={"provider": provider.slug, "name": "Main", "api_key": "sk-test-0123456789"}
    )
    assert not create.fields["provider"].read_only and not create.fields["api_key"].read_only
    assert create.is_valid(), create.errors
    assert create.validated_data["provider"] == provider
    assert create.validated_data["api_key"] == "sk-test-0123456789"
    # And the update serializer still refuses to change them.
    assert update.is_valid(), update.errors
    assert set(update.validated_data) == {"name"}


def test_related_fields_do_not_share_a_queryset_between_instances(organization):
    first = ParentSerializer()
    assert list(first.fields["parent"].queryset) == []  # evaluated: the queryset keeps its rows
    widget = Widget.objects.create(organization=organization, name="late", slug="late")
    second = ParentSerializer(data={"parent": widget.pk})
    assert second.fields["parent"].queryset is not first.fields["parent"].queryset
    assert widget in second.fields["parent"].queryset
    assert second.is_valid(), second.errors


def test_a_rule_type_registered_after_the_fields_were_built_is_a_valid_choice():
    assert "no_exclamations" not in BrandRuleSerializer().fields["rule_type"].choices
    register_throwaway()
    try:
        assert "no_exclamations" in BrandRuleSerializer().fields["rule_type"].choices
    finally:
        rules.unregister("no_exclamations")
    assert "no_exclamations" not in BrandRuleSerializer().fields["rule_type"].choices


def test_a_change_of_rest_framework_settings_rebuilds_the_fields():
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "URL_FIELD_NAME": "link"}):
        assert isinstance(WidgetLinkSerializer().fields["link"], HyperlinkedIdentityField)
    # Back under the default name ("url"), "link" is no field of a widget any more.
    with pytest.raises(ImproperlyConfigured, match="link"):
        WidgetLinkSerializer().fields  # noqa: B018 - building the fields is the point
