"""Admin for editors: filters, search, inline rules with plain fields, publish action and button,
the check tool, version diffs, restore from the trash, and staff scope."""

import re

import pytest
from django.contrib.auth.models import Permission

from styleguides.models import BrandRule, StyleGuide, StyleGuideVersion
from tenancy.models import AuditEvent
from tests.factories import MembershipFactory, UserFactory
from tests.styleguides.factories import BrandRuleFactory, StyleGuideFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/styleguides/styleguide/"


def editor_permissions():
    return Permission.objects.filter(
        content_type__app_label="styleguides",
        codename__in=[
            f"{verb}_{model}"
            for verb in ("add", "change", "delete", "view")
            for model in ("styleguide", "brandrule", "styleguideversion")
        ],
    )


@pytest.fixture
def editor(organization):
    """A staff member (not a superuser) of ``organization`` with the style guide permissions."""
    user = UserFactory(username="editor", is_staff=True)
    user.user_permissions.set(editor_permissions())
    MembershipFactory(user=user, organization=organization)
    return user


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


def inline_management(prefix="rules", total=0, initial=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "0",
    }


def guide_form(organization, **overrides):
    data = {
        "organization": organization.pk,
        "kind": "brand",
        "vertical": "",
        "parent": "",
        "name": "Acme voice",
        "slug": "acme-voice",
        "summary": "",
        "body": "# Voice\nFriendly.",
        "tone": "Friendly",
        "audience": "",
        "reading_level": "",
        "banned_terms": "",
        "required_terms": "",
    }
    data.update(inline_management())
    data.update(overrides)
    return data


def rule_form(index, **fields):
    base = {
        "name": "No synergy",
        "rule_type": "banned_term",
        "severity": "error",
        "is_active": "on",
        "message": "",
        "terms": "synergy",
        "whole_word": "on",
        "match": "all",
        "unit": "characters",
        "mode": "forbid",
        "parameters": "",
    }
    base.update(fields)
    return {f"rules-{index}-{name}": value for name, value in base.items()}


def test_changelist_offers_filters_and_search(editor_client, organization, seeded):
    StyleGuideFactory(organization=organization, name="Acme voice")
    response = editor_client.get(CHANGELIST)
    html = response.content.decode()
    assert response.status_code == 200
    for filter_title in ("By kind", "By vertical", "By status", "By organization", "By deleted"):
        assert filter_title in html
    row = ">{}</a></th>"
    assert row.format("Acme voice") in html and row.format("Healthcare") in html  # own and global
    searched = editor_client.get(CHANGELIST, {"q": "acme"}).content.decode()
    assert row.format("Acme voice") in searched and row.format("Healthcare") not in searched
    global_only = editor_client.get(CHANGELIST, {"owner": "global"}).content.decode()
    assert row.format("Acme voice") not in global_only and row.format("Healthcare") in global_only


def test_staff_never_see_another_organizations_guides(editor_client, other_organization):
    theirs = StyleGuideFactory(organization=other_organization, name="Globex secret voice")
    assert "Globex secret voice" not in editor_client.get(CHANGELIST).content.decode()
    assert editor_client.get(f"{CHANGELIST}{theirs.pk}/change/").status_code == 404


def test_editor_creates_a_guide_with_a_rule_in_plain_fields(editor_client, organization):
    data = guide_form(organization)
    data.update(inline_management(total=1))
    data.update(rule_form(0, terms="synergy, game-changing"))
    response = editor_client.post(f"{CHANGELIST}add/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    guide = StyleGuide.objects.get(slug="acme-voice")
    rule = BrandRule.objects.get(guide=guide)
    assert rule.organization == organization
    assert rule.parameters == {
        "terms": ["synergy", "game-changing"],
        "case_sensitive": False,
        "whole_word": True,
    }
    assert AuditEvent.objects.for_object(rule).filter(action="create").exists()
    assert AuditEvent.objects.for_object(guide).filter(action="create").exists()


def test_invalid_regex_in_admin_is_shown_next_to_the_field_and_nothing_is_written(
    editor_client, organization
):
    data = guide_form(organization)
    data.update(inline_management(total=1))
    data.update(rule_form(0, rule_type="regex", pattern="(unclosed", terms=""))
    response = editor_client.post(f"{CHANGELIST}add/", data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Invalid regular expression" in html
    assert not StyleGuide.all_objects.filter(slug="acme-voice").exists()
    assert not BrandRule.objects.exists()


def test_save_and_publish_leads_to_a_preview_then_publishes(editor_client, organization):
    guide = StyleGuideFactory(organization=organization, body="Old body")
    data = guide_form(organization, name=guide.name, slug=guide.slug, body="New body", _publish="1")
    response = editor_client.post(f"{CHANGELIST}{guide.pk}/change/", data)
    assert response.status_code == 302
    assert response.url == f"{CHANGELIST}{guide.pk}/publish/"
    preview = editor_client.get(response.url).content.decode()
    assert "Publish version 1" in preview and "New&nbsp;body" in preview  # the diff shows the edit
    assert not StyleGuideVersion.objects.exists()

    done = editor_client.post(response.url, {"notes": "First release"}, follow=True)
    assert "as version 1" in done.content.decode()
    version = StyleGuideVersion.objects.get(guide=guide)
    assert (version.version, version.body, version.notes) == (1, "New body", "First release")
    assert version.published_by.username == "editor"
    assert AuditEvent.objects.for_object(guide).filter(action="publish").exists()


def test_publish_action_publishes_each_selected_guide(editor_client, organization):
    first, second = StyleGuideFactory(organization=organization), StyleGuideFactory(organization=organization)
    response = editor_client.post(
        CHANGELIST, {"action": "publish_selected", "_selected_action": [first.pk, second.pk]}, follow=True
    )
    assert response.status_code == 200
    assert set(StyleGuideVersion.objects.values_list("guide_id", "version")) == {
        (first.pk, 1),
        (second.pk, 1),
    }
    # Publishing again with nothing changed makes no new version and says so.
    again = editor_client.post(
        CHANGELIST, {"action": "publish_selected", "_selected_action": [first.pk]}, follow=True
    )
    assert "Nothing changed since version 1" in again.content.decode()
    assert StyleGuideVersion.objects.count() == 2


def test_change_page_has_publish_check_and_compare(editor_client, organization):
    guide = StyleGuideFactory(organization=organization)
    html = editor_client.get(f"{CHANGELIST}{guide.pk}/change/").content.decode()
    assert 'name="_publish"' in html
    assert f"{CHANGELIST}{guide.pk}/check/" in html
    assert f"{CHANGELIST}{guide.pk}/diff/" in html
    assert "Never published" in html


def test_check_tool_highlights_violations_including_inherited_rules(
    editor_client, organization, healthcare_guide
):
    guide = StyleGuideFactory(organization=organization, parent=healthcare_guide, banned_terms=["synergy"])
    response = editor_client.post(
        f"{CHANGELIST}{guide.pk}/check/", {"text": "Our synergy cures all. Click here.", "against": "draft"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Does not pass" in html
    assert '<mark class="sg-error"' in html and ">synergy</mark>" in html and ">cures</mark>" in html
    assert ">Click here</mark>" in html  # inherited from the house style, a warning
    assert '<mark class="sg-warning"' in html


def test_check_tool_names_the_rules_it_ran_out_of_time_for(editor_client, organization, settings):
    settings.STYLEGUIDES_CHECK_TIME_BUDGET_SECONDS = 0
    guide = StyleGuideFactory(organization=organization)
    BrandRuleFactory(
        guide=guide,
        name="Discount codes",
        rule_type="regex",
        parameters={"pattern": r"[A-Z]{4}\d{2}", "ignore_case": False, "mode": "forbid"},
    )
    response = editor_client.post(f"{CHANGELIST}{guide.pk}/check/", {"text": "SAVE20", "against": "draft"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Does not pass" in html
    assert 'id="sg-skipped"' in html and "Discount codes (error)" in html


def test_diff_compares_two_versions_and_the_draft(editor_client, organization):
    from styleguides import services

    guide = StyleGuideFactory(organization=organization, body="First wording")
    services.style_guide_publish(organization=organization, guide=guide)
    services.owned_row_update(organization=organization, instance=guide, body="Second wording")
    services.style_guide_publish(organization=organization, guide=guide)
    services.owned_row_update(organization=organization, instance=guide, body="Third wording")
    html = editor_client.get(f"{CHANGELIST}{guide.pk}/diff/", {"from": "1", "to": "2"}).content.decode()
    assert "First" in html and "Second" in html and 'class="diff"' in html
    draft = editor_client.get(f"{CHANGELIST}{guide.pk}/diff/", {"from": "2", "to": "draft"}).content.decode()
    assert "Third" in draft
    page = editor_client.get(f"{CHANGELIST}{guide.pk}/change/").content.decode()
    assert "changes in v2" in page  # the versions inline links to the diff


def test_deleted_guide_waits_in_the_trash_and_can_be_restored(editor_client, organization):
    guide = StyleGuideFactory(organization=organization, name="Old voice")
    assert editor_client.post(f"{CHANGELIST}{guide.pk}/delete/", {"post": "yes"}).status_code == 302
    guide.refresh_from_db()
    assert guide.is_deleted
    row = ">Old voice</a></th>"
    assert row not in editor_client.get(CHANGELIST).content.decode()
    assert row in editor_client.get(CHANGELIST, {"deleted": "yes"}).content.decode()
    editor_client.post(
        f"{CHANGELIST}?deleted=yes", {"action": "restore_selected", "_selected_action": [guide.pk]}
    )
    guide.refresh_from_db()
    assert not guide.is_deleted


def test_a_slug_a_live_guide_holds_is_a_form_error_not_a_500(editor_client, organization):
    """The partial unique constraint names ``deleted_at``, which the form leaves out: Django would
    skip it, and the service's ``full_clean`` raised past the admin."""
    StyleGuideFactory(organization=organization, name="Live", slug="voice")

    response = editor_client.post(f"{CHANGELIST}add/", guide_form(organization, slug="voice"))

    assert response.status_code == 200
    assert "Another live row already has this slug in this organization." in response.content.decode()
    assert StyleGuide.all_objects.filter(organization=organization).count() == 1


def test_restoring_a_guide_whose_slug_was_taken_says_so_and_restores_the_others(editor_client, organization):
    taken = StyleGuideFactory(organization=organization, name="Old voice", slug="voice")
    free = StyleGuideFactory(organization=organization, name="Old tone", slug="tone")
    taken.delete()
    free.delete()
    StyleGuideFactory(organization=organization, name="New voice", slug="voice")

    response = editor_client.post(
        f"{CHANGELIST}?deleted=yes",
        {"action": "restore_selected", "_selected_action": [taken.pk, free.pk]},
        follow=True,
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "cannot be restored: Another live row already has this slug in this organization." in page
    assert "Restored 1 row(s)." in page
    taken.refresh_from_db()
    free.refresh_from_db()
    assert taken.is_deleted and not free.is_deleted


def test_staff_cannot_edit_or_publish_a_global_guide(editor_client, healthcare_guide):
    before = StyleGuideVersion.objects.filter(guide=healthcare_guide).count()
    assert editor_client.post(f"{CHANGELIST}{healthcare_guide.pk}/publish/").status_code == 403
    page = editor_client.get(f"{CHANGELIST}{healthcare_guide.pk}/change/").content.decode()
    assert 'name="_save"' not in page
    assert StyleGuideVersion.objects.filter(guide=healthcare_guide).count() == before
    # …but they can check a text against it.
    assert editor_client.get(f"{CHANGELIST}{healthcare_guide.pk}/check/").status_code == 200


def test_rules_edited_inline_keep_their_settings(editor_client, organization):
    guide = StyleGuideFactory(organization=organization)
    rule = BrandRuleFactory(
        guide=guide, name="Short", rule_type="max_length", parameters={"limit": 280, "unit": "characters"}
    )
    page = editor_client.get(f"{CHANGELIST}{guide.pk}/change/").content.decode()
    assert 'value="280"' in page
    data = guide_form(organization, name=guide.name, slug=guide.slug)
    data.update(inline_management(total=1, initial=1))
    data.update(
        rule_form(0, id=rule.pk, guide=guide.pk, name="Short", rule_type="max_length", limit="140", terms="")
    )
    response = editor_client.post(f"{CHANGELIST}{guide.pk}/change/", data)
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.parameters == {"limit": 140, "unit": "characters"}
    assert AuditEvent.objects.for_object(rule).filter(action="update").exists()


def test_a_required_phrase_rule_edits_its_phrases_through_the_terms_field(editor_client, organization):
    """Given a required-phrase rule, whose list parameter is ``phrases`` (not ``terms``)."""
    guide = StyleGuideFactory(organization=organization)
    rule = BrandRuleFactory(
        guide=guide,
        name="Book direct",
        rule_type="required_phrase",
        parameters={"phrases": ["book direct"], "match": "all", "case_sensitive": False, "whole_word": True},
    )
    page = editor_client.get(f"{CHANGELIST}{guide.pk}/change/").content.decode()
    # The admin shows the phrases in its terms field.
    assert re.search(r'<textarea name="rules-0-terms"[^>]*>\s*book direct</textarea>', page)

    data = guide_form(organization, name=guide.name, slug=guide.slug)
    data.update(inline_management(total=1, initial=1))
    data.update(
        rule_form(
            0,
            id=rule.pk,
            guide=guide.pk,
            name="Book direct",
            rule_type="required_phrase",
            terms="book direct, best rate guaranteed",
            match="any",
        )
    )
    response = editor_client.post(f"{CHANGELIST}{guide.pk}/change/", data)

    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    rule.refresh_from_db()
    assert rule.parameters == {
        "phrases": ["book direct", "best rate guaranteed"],
        "match": "any",
        "case_sensitive": False,
        "whole_word": True,
    }
    assert AuditEvent.objects.for_object(rule).filter(action="update").exists()


# --- Templates and snippets -----------------------------------------------------------------

TEMPLATES = "/admin/styleguides/prompttemplate/"


@pytest.fixture
def superuser_client(client):
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    return client


def template_form(organization, **overrides):
    data = {
        "organization": organization.pk,
        "name": "Blog post",
        "slug": "blog-post",
        "content_type": "blog",
        "description": "",
        "system_template": "",
        "user_template": "Write about {{ topic }}.",
        "variables": '[{"name": "topic"}]',
        "version_notes": "",
        "labels-TOTAL_FORMS": "0",
        "labels-INITIAL_FORMS": "0",
        "labels-MIN_NUM_FORMS": "0",
        "labels-MAX_NUM_FORMS": "1000",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "0",
    }
    data.update(overrides)
    return data


def test_template_admin_saves_versions_and_refuses_syntax_errors(superuser_client, organization):
    from styleguides.models import PromptTemplate

    broken = superuser_client.post(
        f"{TEMPLATES}add/", template_form(organization, user_template="Hi {{ topic ")
    )
    assert broken.status_code == 200
    assert "Template syntax error" in broken.content.decode()
    assert not PromptTemplate.all_objects.exists()

    assert superuser_client.post(f"{TEMPLATES}add/", template_form(organization)).status_code == 302
    template = PromptTemplate.objects.get(slug="blog-post")
    assert list(template.versions.values_list("version", "user_template")) == [
        (1, "Write about {{ topic }}.")
    ]

    page = superuser_client.get(f"{TEMPLATES}{template.pk}/change/").content.decode()
    assert "Write about {{ topic }}." in page  # the latest version's body is what editors edit
    unchanged = superuser_client.post(
        f"{TEMPLATES}{template.pk}/change/", template_form(organization, description="d")
    )
    assert unchanged.status_code == 302
    assert template.versions.count() == 1  # metadata edits make no new version
    notes_alone = superuser_client.post(
        f"{TEMPLATES}{template.pk}/change/", template_form(organization, description="e", version_notes="Why")
    )
    assert notes_alone.status_code == 200  # notes no version would keep: a form error, not dropped
    assert "Notes are saved with a new version" in notes_alone.content.decode()
    template.refresh_from_db()
    assert (template.description, template.versions.count()) == ("d", 1)

    version = template.versions.get()
    changed = template_form(
        organization,
        user_template="Write {{ words }} words about {{ topic }}.",
        variables='[{"name": "topic"}, {"name": "words", "default": 300}]',
        version_notes="Length",
        **{
            "labels-TOTAL_FORMS": "1",
            "labels-0-name": "production",
            "labels-0-version": str(version.pk),
        },
    )
    assert superuser_client.post(f"{TEMPLATES}{template.pk}/change/", changed).status_code == 302
    assert list(template.versions.values_list("version", "notes")) == [(2, "Length"), (1, "")]
    assert template.labels.get(name="production").version == version
    assert "production → v1" in superuser_client.get(TEMPLATES).content.decode()


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ('[{"name": "topic", "required": false, "default": NaN}]', "not finite"),
        ('[{"name": "topic", "required": false, "default": Infinity}]', "not finite"),
        ('[{"name": "topic", "required": false, "default": -1e999}]', "not finite"),
        ('[{"name": "topic", "required": false, "default": ' + "[" * 3000 + "]" * 3000 + "}]", "too deep"),
        ('[{"name": "topic", "required": false, "default": ' + "[" * 100 + "]" * 100 + "}]", "deeper than"),
    ],
    ids=["nan", "infinity", "overflow", "past-the-decoder", "past-the-api-limit"],
)
def test_template_variables_jsonb_cannot_hold_are_a_form_error(
    superuser_client, organization, variables, message
):
    """Python's json reads NaN, Infinity and 1e999, which jsonb refuses (a 500), and gives up past
    ~1,000 levels (RecursionError, a 500): the form says what is wrong and nothing is saved."""
    from styleguides.models import PromptTemplate

    response = superuser_client.post(f"{TEMPLATES}add/", template_form(organization, variables=variables))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not PromptTemplate.all_objects.exists()


def test_variables_that_are_not_finite_are_refused_by_the_service(organization):
    from django.core.exceptions import ValidationError

    from styleguides.prompt_rendering import validate_variables

    with pytest.raises(ValidationError, match="finite"):
        validate_variables([{"name": "topic", "required": False, "default": float("nan")}])


def test_snippet_admin_writes_a_version_per_body_change(superuser_client, organization):
    from styleguides.models import ContextSnippet

    url = "/admin/styleguides/contextsnippet/"
    data = {
        "organization": organization.pk,
        "name": "About",
        "slug": "about",
        "description": "",
        "body": "One",
    }
    assert superuser_client.post(f"{url}add/", data).status_code == 302
    snippet = ContextSnippet.objects.get(slug="about")
    assert superuser_client.post(f"{url}{snippet.pk}/change/", {**data, "body": "Two"}).status_code == 302
    assert list(snippet.versions.values_list("version", "body")) == [(2, "Two"), (1, "One")]
