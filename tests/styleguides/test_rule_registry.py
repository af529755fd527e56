"""A new brand-rule type is one module: registering a throwaway type makes it validated when a
rule is saved, checked against texts, accepted by the API and shown in the admin form (with the
JS field map), with no other file touched."""

import json
import re

import pytest
from django import forms
from django.core.exceptions import ValidationError

from styleguides import rules
from styleguides.compliance import check_text, validate_rule_parameters
from styleguides.models import BrandRule
from styleguides.rules.base import RuleKind, parameter_error, require_keys
from tests.styleguides.factories import StyleGuideFactory
from tests.styleguides.test_admin import CHANGELIST, editor, editor_client, guide_form, inline_management  # noqa: F401

pytestmark = pytest.mark.django_db


class NoExclamations(RuleKind):
    """Throwaway type: at most ``max_marks`` exclamation marks."""

    admin_fields = {"max_marks": forms.IntegerField(required=False, min_value=0)}
    error_field = "max_marks"

    def validate(self, parameters):
        require_keys(parameters, {"max_marks"})
        value = parameters.get("max_marks", 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise parameter_error("'max_marks' must be a whole number of at least 0.")
        return {"max_marks": value}

    def check(self, checker, rule, statistics):
        marks = [match.span() for match in re.finditer("!", checker.text)]
        allowed = rule.parameters["max_marks"]
        return [checker.violation(rule, "Too excited.", *span) for span in marks[allowed:]]


def register_throwaway() -> type[RuleKind]:
    """Register :class:`NoExclamations` as a rule type, as a module of ``styleguides/rules`` would."""
    return rules.register("no_exclamations", "No exclamation marks")(NoExclamations)


@pytest.fixture
def throwaway_type():
    register_throwaway()
    yield NoExclamations
    rules.unregister("no_exclamations")


def test_registered_type_is_validated_and_checked(throwaway_type):
    assert validate_rule_parameters("no_exclamations", {}) == {"max_marks": 0}
    with pytest.raises(ValidationError, match="max_marks"):
        validate_rule_parameters("no_exclamations", {"max_marks": -1})
    with pytest.raises(ValidationError, match="Unknown parameter"):
        validate_rule_parameters("no_exclamations", {"limit": 3})
    from styleguides.compliance import EffectiveRule

    rule = EffectiveRule(
        name="Calm", rule_type="no_exclamations", parameters={"max_marks": 1}, severity="error"
    )
    result = check_text("Hi! Welcome!", [rule])
    assert not result.passed
    assert [(v.start, v.end, v.message) for v in result.violations] == [(11, 12, "Too excited.")]


def test_registered_type_is_a_model_choice_and_saved_through_the_api(
    throwaway_type, api_client, organization
):
    guide = StyleGuideFactory(organization=organization)
    payload = {
        "guide": guide.pk,
        "name": "Calm",
        "rule_type": "no_exclamations",
        "parameters": {"max_marks": 2},
    }
    response = api_client.post("/api/v1/brand-rules/", payload, format="json")
    assert response.status_code == 201, response.content
    assert BrandRule.objects.get(pk=response.json()["id"]).parameters == {"max_marks": 2}
    bad = {**payload, "name": "Bad", "parameters": {"max_marks": "lots"}}
    response = api_client.post("/api/v1/brand-rules/", bad, format="json")
    assert response.status_code == 400
    assert not BrandRule.objects.filter(name="Bad").exists()


def test_unregistered_type_is_refused(api_client, organization):
    guide = StyleGuideFactory(organization=organization)
    payload = {"guide": guide.pk, "name": "Calm", "rule_type": "no_exclamations", "parameters": {}}
    response = api_client.post("/api/v1/brand-rules/", payload, format="json")
    assert response.status_code == 400
    assert not BrandRule.objects.exists()


def test_registered_type_is_shown_and_saved_in_the_admin_form(throwaway_type, editor_client, organization):  # noqa: F811
    html = editor_client.get(f"{CHANGELIST}add/").content.decode()
    assert 'name="rules-__prefix__-max_marks"' in html
    assert '<option value="no_exclamations">No exclamation marks</option>' in html
    field_map = re.search(r'data-rule-fields="([^"]+)"', html).group(1)
    assert json.loads(field_map.replace("&quot;", '"'))["no_exclamations"] == ["max_marks"]

    data = guide_form(organization)
    data.update(inline_management(total=1))
    rule = {"name": "Calm", "rule_type": "no_exclamations", "severity": "error", "is_active": "on"}
    data.update({f"rules-0-{name}": value for name, value in {**rule, "max_marks": "3"}.items()})
    response = editor_client.post(f"{CHANGELIST}add/", data)
    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    assert BrandRule.objects.get(name="Calm").parameters == {"max_marks": 3}

    data["slug"], data["name"] = "other", "Other"
    data["rules-0-max_marks"] = "-2"
    response = editor_client.post(f"{CHANGELIST}add/", data)
    assert response.status_code == 200
    assert response.context["inline_admin_formsets"][0].formset.errors[0]["max_marks"]
    assert BrandRule.objects.filter(name="Calm").count() == 1


def test_every_built_in_type_declares_everything_once():
    kinds = rules.rule_kinds()
    assert [kind.type for kind in kinds] == [
        "banned_term",
        "required_phrase",
        "max_length",
        "min_length",
        "regex",
        "max_sentence_length",
        "reading_level",
    ]
    for kind in kinds:
        assert kind.error_field in kind.admin_fields
        assert kind.label
