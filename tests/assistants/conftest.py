import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from assistants.schedule import WEEKDAYS
from tests.assistants.factories import ServiceCategoryFactory

ALWAYS = {day: [["00:00", "24:00"]] for day in WEEKDAYS}  # on shift whenever a test runs


@pytest.fixture
def api():
    """api(user) -> a DRF client authenticated with that user's token."""

    def make(user=None):
        http = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            http.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return http

    return make


@pytest.fixture
def categories(agency):
    """Three service categories of `agency`, by slug."""
    return {
        slug: ServiceCategoryFactory(agency=agency, slug=slug, name=name)
        for slug, name in [
            ("bookkeeping", "Bookkeeping"),
            ("inbox-management", "Inbox management"),
            ("travel-arrangements", "Travel arrangements"),
        ]
    }
