"""Serializer fields built once per class (``tenancy.api.field_prototypes``) and DRF's surrogate
check (``tenancy.api.parsers.install_fast_surrogate_check``): each serializer instance has its
own fields, and the checks answer as DRF's own."""

import pytest
from rest_framework import serializers

from generations.api.serializers import GenerationCreateSerializer


def test_each_serializer_has_its_own_fields_children_and_querysets():
    # Given two serializers of one class
    first, second = GenerationCreateSerializer(), GenerationCreateSerializer()

    # Then no field, child of a field, or queryset is shared, and each is bound to its own
    for name in ("usage", "parameters", "metadata"):
        one, other = first.fields[name], second.fields[name]
        assert one is not other and one.child is not other.child
        assert one.parent is first and one.child.parent is one and one.child.root is first
    for name in ("campaign", "run", "parent", "style_guide_version", "vertical"):
        one, other = first.fields[name], second.fields[name]
        assert one is not other and one.queryset is not other.queryset
        assert one.root is first


def test_a_field_changed_on_one_serializer_leaves_the_next_alone():
    # Given a serializer whose field an instance makes read-only
    first = GenerationCreateSerializer()
    first.fields["content"].read_only = True

    # Then the next instance of the class has it writable
    assert GenerationCreateSerializer().fields["content"].read_only is False


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("plain text", None),
        ("emoji \U0001f600 is a pair, not a lone surrogate", None),
        ("lone \ud800 high", "Surrogate characters are not allowed: U+D800."),
        ("two \udfff then \ud801", "Surrogate characters are not allowed: U+DFFF."),
    ],
)
def test_a_char_field_refuses_lone_surrogates_with_drfs_message(value, error):
    # When a CharField validates the text (outside the JSON parser, which refuses them first)
    field = serializers.CharField()
    if error is None:
        assert field.run_validation(value) == value
        return
    with pytest.raises(serializers.ValidationError) as raised:
        field.run_validation(value)

    # Then DRF's own error names the first surrogate
    assert raised.value.detail == [error]
    assert raised.value.detail[0].code == "surrogate_characters_not_allowed"
