"""The seed verticals: loadable twice without duplicates, each with a real, published guide."""

import pytest
from django.core.management import call_command

from styleguides import selectors, services
from styleguides.models import BrandRule, StyleGuide, StyleGuideVersion, Vertical
from styleguides.versioning import guide_has_unpublished_changes

pytestmark = pytest.mark.django_db

VERTICALS = ["athletics", "healthcare", "hospitality", "tech"]


def counts():
    return (
        Vertical.objects.count(),
        StyleGuide.all_objects.count(),
        BrandRule.objects.count(),
        StyleGuideVersion.objects.count(),
    )


def test_loaddata_twice_gives_four_verticals_with_their_guides_and_nothing_duplicated(db):
    call_command("loaddata", "verticals", verbosity=0)
    first = counts()
    call_command("loaddata", "verticals", verbosity=0)
    assert counts() == first
    assert sorted(Vertical.objects.values_list("slug", flat=True)) == VERTICALS
    for slug in VERTICALS:
        guide = StyleGuide.objects.get(organization=None, vertical__slug=slug, kind="vertical")
        assert guide.status == "published"
        assert guide.parent.slug == "clear-writing"
        assert guide.rules.exists()
        assert list(guide.versions.values_list("version", flat=True)) == [1]


@pytest.mark.parametrize(
    ("slug", "must_mention"),
    [
        ("hospitality", ["sensory", "warm", "accessib", "taxes", "nestled"]),
        ("healthcare", ["medical advice", "cure", "person with", "privacy", "source"]),
        ("tech", ["precise", "unhackable", "SLA", "benchmark", "acronym"]),
        ("athletics", ["energetic", "body", "warm-up", "inclusive", "evidence"]),
        ("clear-writing", ["active voice", "alt text", "plain word"]),
    ],
)
def test_seed_guides_are_real_prose(seeded, slug, must_mention):
    guide = StyleGuide.objects.get(organization=None, slug=slug)
    words = guide.body.split()
    assert len(words) >= 300, f"{slug} guide is only {len(words)} words"
    assert guide.body.count("\n## ") >= 4  # organised in sections an editor can scan
    lowered = guide.body.lower()
    for phrase in must_mention:
        assert phrase.lower() in lowered, f"{slug} guide never mentions {phrase!r}"
    assert guide.tone and guide.audience and guide.summary


def test_seed_versions_match_their_drafts(seeded):
    for guide in selectors.style_guides_for(organization=None):
        assert guide.latest_version == 1
        assert not guide_has_unpublished_changes(guide, latest_hash=guide.latest_version_hash), guide.slug


def test_seed_guides_catch_what_their_industry_fears(seeded):
    cases = {
        "healthcare": ("This miracle cream cures eczema.", {"Banned term: miracle", "Medical claims"}),
        "hospitality": (
            "A cheap hotel nestled by the sea. Only 2 rooms left!",
            {"Banned term: cheap", "Pressure tactics", "Travel clichés"},
        ),
        "tech": (
            "Our unhackable, revolutionary platform is 100% secure.",
            {"Security absolutes", "Hype words", "Hundred percent claims"},
        ),
        "athletics": (
            "Get your bikini body. No excuses, no pain, no gain.",
            {"Banned term: bikini body", "Body shaming", "No pain, no gain"},
        ),
    }
    for slug, (text, expected_rules) in cases.items():
        guide = StyleGuide.objects.get(organization=None, slug=slug)
        result = services.style_guide_check(organization=None, guide=guide, text=text)
        assert not result.passed
        assert expected_rules <= {violation.rule for violation in result.violations}, slug
        assert result.guide_version_ids[0] == guide.versions.get().pk
