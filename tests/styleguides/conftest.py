"""Fixtures of the styleguides tests."""

import pytest
from django.core.management import call_command

from styleguides.models import StyleGuide


@pytest.fixture
def seeded(db):
    """The seed verticals and their guides, loaded the way operators load them."""
    call_command("loaddata", "verticals", verbosity=0)


@pytest.fixture
def healthcare_guide(seeded):
    return StyleGuide.objects.get(organization=None, slug="healthcare")
