"""Bad input through the API: a clear 4xx in the one error format, and nothing written."""

import pytest
from django.core.exceptions import ValidationError

from styleguides import services
from styleguides.models import (
    BrandRule,
    ContextSnippet,
    PromptTemplate,
    PromptTemplateVersion,
    StyleGuide,
    StyleGuideVersion,
)
from styleguides.rules.base import MAX_TERM_LENGTH, MAX_TERMS, compile_pattern
from tenancy.models import AuditEvent
from tests.styleguides.factories import BrandRuleFactory, StyleGuideFactory, make_snippet, make_template

pytestmark = pytest.mark.django_db


def snapshot():
    """Everything the styleguides app and the audit log hold, to prove nothing was written."""
    return (
        list(StyleGuide.all_objects.order_by("pk").values()),
        list(BrandRule.objects.order_by("pk").values()),
        StyleGuideVersion.objects.count(),
        PromptTemplate.all_objects.count(),
        ContextSnippet.all_objects.count(),
        AuditEvent.objects.count(),
    )


def assert_error(response, status, attr=None, code=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["type"] in ("client_error", "validation_error")
    error = body["errors"][0]
    assert error["detail"]
    if attr is not None:
        assert error["attr"] == attr
    if code is not None:
        assert error["code"] == code


@pytest.mark.parametrize(
    ("url", "make", "payload"),
    [
        (
            "/api/v1/style-guides/",
            lambda org: StyleGuideFactory(organization=org, slug="taken"),
            {"name": "Again", "slug": "taken"},
        ),
        (
            "/api/v1/templates/",
            lambda org: make_template(org, slug="taken"),
            {"name": "Again", "slug": "taken", "user_template": "x"},
        ),
        (
            "/api/v1/snippets/",
            lambda org: make_snippet(org, slug="taken"),
            {"name": "Again", "slug": "taken", "body": "x"},
        ),
    ],
    ids=["style-guide", "template", "snippet"],
)
def test_duplicate_slug_in_one_organization(api_client, organization, other_organization, url, make, payload):
    make(organization)
    make(other_organization)  # another organization's slug is no conflict…
    before = snapshot()
    response = api_client.post(url, payload, format="json")
    assert response.status_code in (400, 409), response.content
    assert "slug" in response.json()["errors"][0]["detail"]
    assert snapshot() == before


def test_a_deleted_guides_slug_can_be_reused(api_client, organization):
    guide = StyleGuideFactory(organization=organization, slug="reuse")
    api_client.delete(f"/api/v1/style-guides/{guide.pk}/")
    assert (
        api_client.post("/api/v1/style-guides/", {"name": "New", "slug": "reuse"}, format="json").status_code
        == 201
    )
    # …and restoring the old one now conflicts instead of making two live guides with one slug.
    assert api_client.post(f"/api/v1/style-guides/{guide.pk}/restore/").status_code == 409
    assert StyleGuide.objects.filter(organization=organization, slug="reuse").count() == 1


def test_global_slugs_are_unique_too(db):
    StyleGuideFactory(organization=None, slug="house")
    with pytest.raises(ValidationError, match="slug"):
        services.style_guide_create(organization=None, name="Another", slug="house")
    assert StyleGuide.objects.filter(organization=None, slug="house").count() == 1


@pytest.mark.parametrize(
    ("parameters", "detail"),
    [
        ({"pattern": "(unclosed"}, "Invalid regular expression"),
        ({"pattern": "a{2,1}"}, "Invalid regular expression"),
        ({"pattern": "x?"}, "matches empty text"),
        ({"pattern": "ok", "ignore_case": "yes"}, "true or false"),
        # Counted repetitions unrolled at compile time (gigabytes): a backslash repeated (was read
        # as an escaped brace: 4 million repetitions, 1 GB), verbose mode's spaced or commented
        # bounds.
        ({"pattern": r"\\{20000}"}, "multiply to more than"),
        ({"pattern": r"(?:\\{2000}){2000}"}, "multiply to more than"),
        ({"pattern": r"\\\\{20000}"}, "multiply to more than"),
        ({"pattern": "(?x)a{20 000}"}, "multiply to more than"),
        ({"pattern": "(?x)a{2#one\n0000}"}, "multiply to more than"),
        # A } in a verbose comment does not close the bound: a{2000}{2000}.
        ({"pattern": "(?x)(?:a{2#}\n000}){2#}\n000}"}, "multiply to more than"),
        # \g{n} is a literal g, repeated.
        ({"pattern": r"(?:a\g{200}){200}"}, "multiply to more than"),
    ],
)
def test_invalid_regex_rule_is_refused_when_saved(api_client, organization, parameters, detail):
    guide = StyleGuideFactory(organization=organization)
    before = snapshot()
    response = api_client.post(
        "/api/v1/brand-rules/",
        {"guide": guide.pk, "name": "Bad", "rule_type": "regex", "parameters": parameters},
        format="json",
    )
    assert_error(response, 400, attr="parameters")
    assert detail in response.json()["errors"][0]["detail"]
    assert snapshot() == before


@pytest.mark.parametrize(
    ("pattern", "matching"),
    [
        (r"\p{Lu}{3}-\d{4}", "ABC-1234"),
        (r"\{5\}", "{5}"),  # escaped braces are text, not a repetition
        (r"\N{EM DASH}{2}", "\u2014\u2014"),
        (r"(?x) \d{3} - \d{4}  # a phone number", "555-1234"),
        (r"\\{3}", "\\\\\\"),  # a backslash, three times
    ],
)
def test_a_regex_rule_within_the_bound_is_saved_and_matches(api_client, organization, pattern, matching):
    guide = StyleGuideFactory(organization=organization)
    response = api_client.post(
        "/api/v1/brand-rules/",
        {"guide": guide.pk, "name": "Shape", "rule_type": "regex", "parameters": {"pattern": pattern}},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert compile_pattern(pattern).search(matching)


def test_invalid_regex_update_is_refused_and_the_rule_keeps_its_pattern(api_client, organization):
    rule = BrandRuleFactory(
        guide=StyleGuideFactory(organization=organization),
        rule_type="regex",
        parameters={"pattern": "ok", "ignore_case": False, "mode": "forbid"},
    )
    before = snapshot()
    response = api_client.patch(
        f"/api/v1/brand-rules/{rule.pk}/", {"parameters": {"pattern": "[unclosed"}}, format="json"
    )
    assert_error(response, 400, attr="parameters")
    assert snapshot() == before


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("patch", "", {"body": "Hijacked"}),
        ("put", "", {"name": "Hijacked", "slug": "healthcare"}),
        ("delete", "", None),
        ("post", "publish/", {}),
        ("post", "restore/", None),
    ],
)
def test_tenant_editing_a_global_guide_is_403_and_nothing_is_written(
    api_client, healthcare_guide, method, path, payload
):
    before = snapshot()
    response = getattr(api_client, method)(
        f"/api/v1/style-guides/{healthcare_guide.pk}/{path}", payload, format="json"
    )
    assert_error(response, 403, code="permission_denied")
    assert snapshot() == before


def test_tenant_cannot_add_or_edit_rules_of_a_global_guide(api_client, healthcare_guide):
    before = snapshot()
    added = api_client.post(
        "/api/v1/brand-rules/",
        {
            "guide": healthcare_guide.pk,
            "name": "Mine",
            "rule_type": "banned_term",
            "parameters": {"terms": ["x"]},
        },
        format="json",
    )
    assert_error(added, 403, code="permission_denied")
    rule = healthcare_guide.rules.first()
    assert_error(
        api_client.patch(f"/api/v1/brand-rules/{rule.pk}/", {"severity": "warning"}, format="json"), 403
    )
    assert_error(api_client.delete(f"/api/v1/brand-rules/{rule.pk}/"), 403)
    assert snapshot() == before


def test_tenant_cannot_build_on_another_tenants_guide(api_client, other_organization):
    theirs = StyleGuideFactory(organization=other_organization)
    before = snapshot()
    response = api_client.post(
        "/api/v1/style-guides/", {"name": "X", "slug": "x", "parent": theirs.pk}, format="json"
    )
    assert_error(response, 400, attr="parent", code="does_not_exist")
    assert snapshot() == before


@pytest.mark.parametrize("method", ["post", "patch"])
def test_tenant_cannot_put_a_rule_in_another_tenants_guide(
    api_client, organization, other_organization, method
):
    """Issue 10: a row of A pointing at B's is refused, on create and on update alike (on update
    before any look-up: a rule never changes guide)."""
    rule = BrandRuleFactory(guide=StyleGuideFactory(organization=organization))
    theirs = StyleGuideFactory(organization=other_organization)
    before = snapshot()
    if method == "post":
        payload = {
            "guide": theirs.pk,
            "name": "X",
            "rule_type": "banned_term",
            "parameters": {"terms": ["a"]},
        }
        response = api_client.post("/api/v1/brand-rules/", payload, format="json")
    else:
        response = api_client.patch(f"/api/v1/brand-rules/{rule.pk}/", {"guide": theirs.pk}, format="json")
    assert_error(response, 400, attr="guide", code="does_not_exist" if method == "post" else "unknown_field")
    assert snapshot() == before


def test_tenant_cannot_move_its_guide_under_another_tenants(api_client, organization, other_organization):
    mine = StyleGuideFactory(organization=organization)
    theirs = StyleGuideFactory(organization=other_organization)
    before = snapshot()
    response = api_client.patch(f"/api/v1/style-guides/{mine.pk}/", {"parent": theirs.pk}, format="json")
    assert_error(response, 400, attr="parent", code="does_not_exist")
    assert snapshot() == before


def test_tenant_can_build_on_a_global_guide(api_client, healthcare_guide):
    response = api_client.post(
        "/api/v1/style-guides/",
        {"name": "Clinic", "slug": "clinic", "parent": healthcare_guide.pk, "vertical": "healthcare"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["parent"] == healthcare_guide.pk
    assert response.json()["vertical"] == "healthcare"


@pytest.mark.parametrize(
    ("payload", "attr"),
    [
        ({"name": "V", "slug": "v", "kind": "vertical"}, "non_field_errors"),
        ({"name": "V", "slug": "v", "vertical": "space"}, "vertical"),
        ({"name": "V", "slug": "v", "reading_level": 40}, "reading_level"),
        ({"name": "V", "slug": "not a slug"}, "slug"),
        ({"name": "V", "slug": "v", "status": "published"}, "status"),
    ],
)
def test_invalid_guides_are_refused(api_client, seeded, payload, attr):
    before = snapshot()
    response = api_client.post("/api/v1/style-guides/", payload, format="json")
    assert_error(response, 400, attr=attr)
    assert snapshot() == before


def test_nul_characters_in_json_are_a_400_not_a_database_error(api_client, organization):
    guide = StyleGuideFactory(organization=organization)
    before = snapshot()
    rule = api_client.post(
        "/api/v1/brand-rules/",
        {"guide": guide.pk, "name": "Nul", "rule_type": "banned_term", "parameters": {"terms": ["a\x00b"]}},
        format="json",
    )
    assert_error(rule, 400, attr="parameters.terms.0")
    template = api_client.post(
        "/api/v1/templates/",
        {
            "name": "T",
            "slug": "t",
            "user_template": "{{ a }}",
            "variables": [{"name": "a", "default": "x\x00"}],
        },
        format="json",
    )
    assert_error(template, 400, attr="variables.0.default")
    assert snapshot() == before


def test_moving_a_rule_to_another_guide_is_refused_by_name_and_changes_nothing(api_client, organization):
    """A rule stays on its guide: a PATCH naming another guide used to answer 200 and keep the rule
    where it was; now ``guide`` is read-only on update (400 naming it), nothing is written."""
    rule = BrandRuleFactory(guide=StyleGuideFactory(organization=organization))
    other_guide = StyleGuideFactory(organization=organization)
    before = snapshot()

    response = api_client.patch(
        f"/api/v1/brand-rules/{rule.pk}/", {"guide": other_guide.pk, "severity": "warning"}, format="json"
    )

    assert_error(response, 400, attr="guide", code="unknown_field")
    assert "stays on its guide" in response.json()["errors"][0]["detail"]
    assert snapshot() == before


def test_the_rule_update_service_refuses_to_move_a_rule(organization):
    rule = BrandRuleFactory(guide=StyleGuideFactory(organization=organization))
    other_guide = StyleGuideFactory(organization=organization)
    before = snapshot()
    with pytest.raises(ValidationError) as caught:
        services.brand_rule_update(organization=organization, instance=rule, guide=other_guide)
    assert "guide" in caught.value.message_dict
    assert snapshot() == before


def test_template_notes_without_a_new_version_are_refused_and_change_nothing(api_client, organization):
    """Notes describe a version: a PATCH with notes alone used to answer 200 and store nothing
    (no version was written to hold them); now it is a 400 naming ``notes``."""
    template = make_template(organization)
    before = snapshot(), list(PromptTemplateVersion.objects.values())

    response = api_client.patch(
        f"/api/v1/templates/{template.pk}/", {"notes": "Tightened the tone", "name": "Renamed"}, format="json"
    )

    assert_error(response, 400, attr="notes")
    assert "user_template" in response.json()["errors"][0]["detail"]
    assert (snapshot(), list(PromptTemplateVersion.objects.values())) == before


def test_template_notes_with_a_new_body_are_kept_on_the_new_version(api_client, organization):
    template = make_template(organization)
    response = api_client.patch(
        f"/api/v1/templates/{template.pk}/",
        {"user_template": "Write briefly about {{ topic }}.", "notes": "Shorter"},
        format="json",
    )
    assert response.status_code == 200, response.content
    latest = PromptTemplateVersion.objects.filter(template=template).latest()
    assert (latest.version, latest.notes) == (2, "Shorter")


TOO_MANY_TERMS = [f"term {n}" for n in range(MAX_TERMS + 1)]


@pytest.mark.parametrize("field", ["banned_terms", "required_terms"])
@pytest.mark.parametrize(
    ("terms", "attr", "detail"),
    [
        (TOO_MANY_TERMS, None, f"at most {MAX_TERMS} entries"),
        (["x" * (MAX_TERM_LENGTH + 1)], ".0", "no more than 100 characters"),
        (["ok", "  "], ".1", "blank"),
    ],
    ids=["too many", "too long", "blank"],
)
@pytest.mark.parametrize("method", ["post", "patch"])
def test_a_guides_term_lists_have_the_limits_of_a_rules(
    api_client, organization, field, terms, attr, detail, method
):
    """A guide's own banned and required terms are checked as rules are, so they are held to the
    rules' limits (before: any number of terms was stored and checked on every text)."""
    guide = StyleGuideFactory(organization=organization)
    before = snapshot()
    if method == "post":
        response = api_client.post("/api/v1/style-guides/", {"name": "Wordy", field: terms}, format="json")
    else:
        response = api_client.patch(f"/api/v1/style-guides/{guide.pk}/", {field: terms}, format="json")
    assert_error(response, 400, attr=field + (attr or ""))
    assert detail in response.json()["errors"][0]["detail"]
    assert snapshot() == before


def test_a_guides_term_lists_at_the_limit_are_stored_normalised(api_client, organization):
    terms = [f"term {n}" for n in range(MAX_TERMS - 1)] + [" cafe\u0301 "]
    payload = {"name": "Full", "banned_terms": terms, "required_terms": terms}
    response = api_client.post("/api/v1/style-guides/", payload, format="json")
    assert response.status_code == 201, response.content
    guide = StyleGuide.objects.get(pk=response.json()["id"])
    assert len(guide.banned_terms) == len(guide.required_terms) == MAX_TERMS
    assert guide.banned_terms[-1] == "caf\u00e9"  # as a checked text is compared: NFC


def test_the_guide_services_refuse_too_many_terms_by_field(organization):
    guide = StyleGuideFactory(organization=organization)
    with pytest.raises(ValidationError) as caught:
        services.owned_row_update(organization=organization, instance=guide, required_terms=TOO_MANY_TERMS)
    assert list(caught.value.message_dict) == ["required_terms"]
    guide.refresh_from_db()
    assert guide.required_terms == []
