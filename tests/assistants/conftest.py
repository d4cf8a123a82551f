import pytest

from assistants.schedule import WEEKDAYS
from tests.contracts.factories import CategoryFactory

ALWAYS = {day: [["00:00", "24:00"]] for day in WEEKDAYS}  # on shift whenever a test runs


@pytest.fixture
def categories(agency):
    """Three service categories of `agency`, by slug."""
    return {
        slug: CategoryFactory(agency=agency, slug=slug, name=name)
        for slug, name in [
            ("bookkeeping", "Bookkeeping"),
            ("inbox-management", "Inbox management"),
            ("travel-arrangements", "Travel arrangements"),
        ]
    }
