"""Prompt templates: versions, labels, rendering with variables, snippets, guide and vertical,
and the sandbox."""

import pytest
from django.core.exceptions import ValidationError

from styleguides import services
from styleguides.errors import NotPublished, TemplateRenderError, VersionNotFound
from styleguides.models import PromptTemplate, PromptTemplateVersion, StyleGuide, Vertical
from tests.styleguides.factories import StyleGuideFactory, make_snippet, make_template

pytestmark = pytest.mark.django_db

BLOG = {
    "system_template": '{% include "inkwell/style-guide" %}\n{% include "about-us" %}',
    "user_template": (
        "Write a {{ words }}-word blog post about {{ topic }} for {{ vertical.name }} readers"
        "{% if audience %} ({{ audience }}){% endif %}."
    ),
    "variables": [
        {"name": "topic", "required": True, "description": "What the post is about"},
        {"name": "words", "required": False, "default": 600},
        {"name": "audience", "required": False},
    ],
}


@pytest.fixture
def blog(organization):
    return make_template(organization, **BLOG)


@pytest.fixture
def about_us(organization):
    return make_snippet(organization, slug="about-us", body="About us: a family-run hotel since 1962.")


@pytest.fixture
def brand_guide(organization, seeded):
    """A published brand guide built on the published hospitality guide."""
    guide = StyleGuideFactory(
        organization=organization,
        parent=StyleGuide.objects.get(organization=None, slug="hospitality"),
        name="Acme Hotels voice",
        tone="Playful and warm",
        body="Call guests 'friends'.",
        banned_terms=["deal"],
    )
    services.style_guide_publish(organization=organization, guide=guide)
    return guide


def test_render_composes_variables_snippets_guide_and_vertical(organization, blog, about_us, brand_guide):
    rendered = services.template_render(
        organization=organization,
        template=blog,
        variables={"topic": "autumn breaks"},
        style_guide=brand_guide,
    )
    hospitality = StyleGuide.objects.get(organization=None, slug="hospitality")
    assert rendered.user == "Write a 600-word blog post about autumn breaks for Hospitality readers."
    assert "# Style guide: Acme Hotels voice" in rendered.system
    assert "Tone: Playful and warm" in rendered.system  # the child wins
    assert "Industry: Hospitality" in rendered.system  # the vertical comes from the parent guide
    assert "Never use: cheap, deal" in rendered.system  # banned terms merged down the chain
    assert "Hospitality style guide" in rendered.system and "Call guests 'friends'." in rendered.system
    assert rendered.system.endswith("About us: a family-run hotel since 1962.")
    assert rendered.template_version == 1
    assert rendered.template_version_id == blog.versions.get().pk
    assert rendered.style_guide_version_id == brand_guide.versions.get().pk
    assert rendered.style_guide_version_ids == [
        brand_guide.versions.get().pk,
        hospitality.versions.get().pk,
        hospitality.parent.versions.get().pk,
    ]
    assert rendered.vertical_id == Vertical.objects.get(slug="hospitality").pk
    assert rendered.snippet_version_ids == [about_us.versions.get().pk]
    assert rendered.variables == {"topic": "autumn breaks", "words": 600, "audience": None}


def test_explicit_vertical_wins_over_the_guides(organization, blog, about_us, brand_guide):
    rendered = services.template_render(
        organization=organization,
        template=blog,
        variables={"topic": "x", "words": 300, "audience": "runners"},
        style_guide=brand_guide,
        vertical=Vertical.objects.get(slug="athletics"),
    )
    assert rendered.user == "Write a 300-word blog post about x for Athletics readers (runners)."


def test_versions_and_labels_choose_what_renders(organization):
    template = make_template(organization, user_template="v1 {{ topic }}", labels=["production"])
    services.prompt_template_version_create(
        organization=organization, template=template, user_template="v2 {{ topic }}", variables=["topic"]
    )
    services.prompt_template_label_set(
        organization=organization, template=template, name="staging", version=template.versions.get(version=2)
    )

    def render(**kwargs):
        return services.template_render(
            organization=organization, template=template, variables={"topic": "t"}, **kwargs
        ).user

    assert render() == "v2 t"  # the latest by default
    assert render(label="production") == "v1 t"
    assert render(label="staging") == "v2 t"
    assert render(version=1) == "v1 t"
    with pytest.raises(VersionNotFound):
        render(version=3)
    with pytest.raises(VersionNotFound):
        render(label="canary")


def test_snippets_prefer_the_organizations_own_and_nest(organization):
    make_snippet(None, slug="signature", body="Global signature")
    make_snippet(organization, slug="signature", body="Acme signature {% include 'legal' %}")
    legal = make_snippet(organization, slug="legal", body="(c) Acme")
    template = make_template(organization, user_template='{% include "signature" %}', variables=[])
    rendered = services.template_render(organization=organization, template=template, variables={})
    assert rendered.user == "Acme signature (c) Acme"
    assert legal.versions.get().pk in rendered.snippet_version_ids


def test_editing_a_snippet_makes_a_new_version_that_renders(organization):
    snippet = make_snippet(organization, slug="hours", body="Open 9-5")
    template = make_template(organization, user_template='{% include "hours" %}', variables=[])
    services.context_snippet_update(organization=organization, instance=snippet, body="Open 8-6")
    rendered = services.template_render(organization=organization, template=template, variables={})
    assert rendered.user == "Open 8-6"
    assert rendered.snippet_version_ids == [snippet.versions.get(version=2).pk]
    assert snippet.versions.get(version=1).body == "Open 9-5"


@pytest.mark.parametrize(
    ("variables", "messages"),
    [
        ({}, ["Missing required variable(s): topic."]),
        ({"topic": "x", "tone": "y", "colour": "z"}, ["Unknown variable(s): colour, tone."]),
        ({"tone": "y"}, ["Unknown variable(s): tone.", "Missing required variable(s): topic."]),
    ],
)
def test_missing_and_unknown_variables_are_named(organization, blog, about_us, variables, messages):
    with pytest.raises(ValidationError) as caught:
        services.template_render(organization=organization, template=blog, variables=variables)
    assert caught.value.message_dict["variables"] == messages


SANDBOX_ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ range.__self__ }}",
    "{{ topic.__class__ }}",
    "{{ topic|attr('__class__') }}",
    "{{ ('{0.__class__}'|attr('format'))(topic) }}",
    "{{ '{0.__class__.__mro__}'.format(topic) }}",
    "{{ lipsum.__globals__ }}",
    "{{ self.__init__.__globals__ }}",
    "{{ 'x' * 100000000 }}",
    "{{ 10 ** 100000 }}",
    "{% for i in range(100000) %}{% endfor %}",
    "{{ [].append(1) }}",
]


@pytest.mark.parametrize("body", SANDBOX_ESCAPES)
def test_sandbox_escapes_fail(organization, body):
    try:
        template = make_template(organization, user_template=body, variables=["topic"])
    except ValidationError:
        return  # refused when saved (an unknown global such as cycler, lipsum or self)
    with pytest.raises(TemplateRenderError) as caught:
        services.template_render(organization=organization, template=template, variables={"topic": "x"})
    assert "<class" not in caught.value.detail  # nothing of Python's internals leaks into the message


@pytest.mark.parametrize(
    ("fields", "attr", "message"),
    [
        ({"user_template": "Hello {{ name "}, "user_template", "Template syntax error. Line 1"),
        ({"user_template": "{% if x %}open"}, "user_template", "Template syntax error"),
        (
            {"system_template": "{% endfor %}", "user_template": "ok"},
            "system_template",
            "Template syntax error",
        ),
        (
            {"user_template": "Hi {{ name }}", "variables": []},
            "user_template",
            "undeclared variable(s): name",
        ),
        (
            {"user_template": "{% include snippet_name %}", "variables": ["snippet_name"]},
            "user_template",
            "name a snippet in quotes",
        ),
        ({"user_template": "x", "variables": [{"name": "style_guide"}]}, "variables", "reserved"),
        ({"user_template": "x", "variables": [{"name": "a"}, {"name": "a"}]}, "variables", "declared twice"),
        ({"user_template": "x", "variables": [{"name": "9lives"}]}, "variables", "Bad variable name"),
        (
            {"user_template": "x", "variables": [{"name": "a", "required": True, "default": 1}]},
            "variables",
            "cannot have a default",
        ),
    ],
)
def test_broken_template_versions_are_refused_when_saved(organization, fields, attr, message):
    template = make_template(organization)
    with pytest.raises(ValidationError) as caught:
        services.prompt_template_version_create(
            organization=organization, template=template, **{"variables": [], **fields}
        )
    assert message in " ".join(caught.value.message_dict[attr])
    assert template.versions.count() == 1


def test_unknown_snippet_and_include_cycles_are_400s(organization):
    make_snippet(organization, slug="a", body="{% include 'b' %}")
    make_snippet(organization, slug="b", body="{% include 'a' %}")
    cyclic = make_template(organization, user_template="{% include 'a' %}", variables=[])
    with pytest.raises(TemplateRenderError, match="circle"):
        services.template_render(organization=organization, template=cyclic, variables={})
    missing = make_template(organization, user_template="{% include 'nowhere' %}", variables=[])
    with pytest.raises(TemplateRenderError, match=r"Unknown snippet.*nowhere"):
        services.template_render(organization=organization, template=missing, variables={})


def test_a_guide_the_template_never_uses_is_refused(organization, brand_guide):
    template = make_template(organization)
    with pytest.raises(ValidationError, match="does not use a style guide"):
        services.template_render(
            organization=organization, template=template, variables={"topic": "x"}, style_guide=brand_guide
        )


def test_an_unpublished_guide_cannot_be_rendered(organization, blog, about_us):
    draft = StyleGuideFactory(organization=organization)
    with pytest.raises(NotPublished):
        services.template_render(
            organization=organization, template=blog, variables={"topic": "x"}, style_guide=draft
        )


def test_optional_parts_use_is_defined(organization, brand_guide):
    template = make_template(
        organization,
        user_template=(
            "{% if style_guide is defined %}Tone: {{ style_guide.tone }}{% else %}No guide{% endif %}"
        ),
        variables=[],
    )
    assert (
        services.template_render(organization=organization, template=template, variables={}).user
        == "No guide"
    )
    with_guide = services.template_render(
        organization=organization, template=template, variables={}, style_guide=brand_guide
    )
    assert with_guide.user == "Tone: Playful and warm"


# --- API ------------------------------------------------------------------------------------


def test_render_endpoint(api_client, organization, blog, about_us, brand_guide):
    response = api_client.post(
        f"/api/v1/templates/{blog.pk}/render/?label=",
        {"variables": {"topic": "spa days"}, "style_guide": brand_guide.pk},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["user"] == "Write a 600-word blog post about spa days for Hospitality readers."
    assert body["template_version"] == 1
    assert body["style_guide_version_id"] == brand_guide.versions.get().pk
    assert body["snippet_version_ids"] == [about_us.versions.get().pk]


def test_render_endpoint_by_label_and_version_in_the_url(api_client, organization):
    template = make_template(organization, user_template="one {{ topic }}", labels=["production"])
    api_client.patch(f"/api/v1/templates/{template.pk}/", {"user_template": "two {{ topic }}"}, format="json")
    url = f"/api/v1/templates/{template.pk}/render/"
    assert (
        api_client.post(f"{url}?label=production", {"variables": {"topic": "t"}}, format="json").json()[
            "user"
        ]
        == "one t"
    )
    assert (
        api_client.post(f"{url}?version=2", {"variables": {"topic": "t"}}, format="json").json()["user"]
        == "two t"
    )
    missing = api_client.post(f"{url}?label=canary", {"variables": {"topic": "t"}}, format="json")
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["attr"] == "label"


@pytest.mark.parametrize(
    ("query", "body", "attr", "code"),
    [
        ("", {"version": "1"}, "version", "invalid"),
        ("", {"version": 1.0}, "version", "invalid"),
        ("", {"label": 5}, "label", "invalid"),
        ("", {"vertical": ""}, "vertical", "blank"),
        ("", {"style_guide": ""}, "style_guide", "blank"),
        ("?version=two", {}, "version", "invalid"),
    ],
)
def test_render_holds_the_body_to_its_json_types_and_the_url_to_its_text(
    api_client, organization, query, body, attr, code
):
    """The URL's ``?version=`` is text (``?version=2`` works, above); the body's is JSON."""
    template = make_template(organization, user_template="one {{ topic }}")
    response = api_client.post(
        f"/api/v1/templates/{template.pk}/render/{query}",
        {"variables": {"topic": "t"}, **body},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert [(e["attr"], e["code"]) for e in response.json()["errors"]] == [(attr, code)]


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, [("variables", "Missing required variable(s): topic.")]),
        ({"topic": "x", "colour": "y"}, [("variables", "Unknown variable(s): colour.")]),
    ],
)
def test_render_endpoint_names_bad_variables(api_client, organization, variables, expected):
    template = make_template(organization)
    response = api_client.post(
        f"/api/v1/templates/{template.pk}/render/", {"variables": variables}, format="json"
    )
    assert response.status_code == 400
    assert [(e["attr"], e["detail"]) for e in response.json()["errors"]] == expected


@pytest.mark.parametrize(
    "body",
    ["{{ ''.__class__.__mro__ }}", "{{ topic.__class__.__init__.__globals__ }}", "{{ 'a' * 10000000 }}"],
)
def test_render_endpoint_refuses_sandbox_escapes(api_client, organization, body):
    template = make_template(organization, user_template=body, variables=["topic"])
    response = api_client.post(
        f"/api/v1/templates/{template.pk}/render/", {"variables": {"topic": "x"}}, format="json"
    )
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["attr"] == "user_template"
    assert error["code"] in ("sandbox_violation", "template_error")
    assert "<class" not in response.content.decode()


def test_template_syntax_error_is_400_and_nothing_is_written(api_client, organization):
    response = api_client.post(
        "/api/v1/templates/",
        {
            "name": "Broken",
            "slug": "broken",
            "user_template": "Hello {{ name ",
            "variables": [{"name": "name"}],
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "user_template"
    assert "syntax error" in response.json()["errors"][0]["detail"]
    assert not PromptTemplate.all_objects.filter(slug="broken").exists()

    template = make_template(organization)
    response = api_client.post(
        f"/api/v1/templates/{template.pk}/versions/", {"user_template": "{% for %}"}, format="json"
    )
    assert response.status_code == 400
    assert template.versions.count() == 1


def test_versions_and_labels_endpoints(api_client, organization):
    template = make_template(organization)
    created = api_client.post(
        f"/api/v1/templates/{template.pk}/versions/",
        {
            "user_template": "Write about {{ topic }} in {{ words }} words.",
            "variables": [{"name": "topic"}, {"name": "words", "default": 200}],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["version"] == 2
    assert created.json()["variables"][1] == {
        "name": "words",
        "required": False,
        "description": "",
        "default": 200,
    }
    labelled = api_client.post(
        f"/api/v1/templates/{template.pk}/labels/", {"name": "production", "version": 2}, format="json"
    )
    assert labelled.status_code == 200
    assert labelled.json()["labels"] == {"production": 2}
    assert (
        api_client.post(
            f"/api/v1/templates/{template.pk}/labels/", {"name": "production", "version": 9}, format="json"
        ).status_code
        == 400
    )
    listed = api_client.get(f"/api/v1/templates/{template.pk}/versions/").json()
    assert [v["version"] for v in listed] == [2, 1]


def test_global_templates_render_for_tenants_but_are_read_only(api_client, organization):
    template = make_template(None, user_template="Global {{ topic }}")
    assert (
        api_client.post(
            f"/api/v1/templates/{template.pk}/render/", {"variables": {"topic": "t"}}, format="json"
        ).json()["user"]
        == "Global t"
    )
    assert (
        api_client.patch(f"/api/v1/templates/{template.pk}/", {"name": "Mine now"}, format="json").status_code
        == 403
    )
    assert (
        api_client.post(
            f"/api/v1/templates/{template.pk}/versions/", {"user_template": "x"}, format="json"
        ).status_code
        == 403
    )
    assert PromptTemplateVersion.objects.filter(template=template).count() == 1
    template.refresh_from_db()
    assert template.name != "Mine now"


def test_render_with_another_tenants_guide_is_refused(
    api_client, organization, other_organization, blog, about_us
):
    theirs = StyleGuideFactory(organization=other_organization)
    services.style_guide_publish(organization=other_organization, guide=theirs)
    response = api_client.post(
        f"/api/v1/templates/{blog.pk}/render/",
        {"variables": {"topic": "x"}, "style_guide": theirs.pk},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "code": "does_not_exist",
        "detail": response.json()["errors"][0]["detail"],
        "attr": "style_guide",
    }
