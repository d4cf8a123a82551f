import pytest
from django.test import Client as HttpClient

from core.roles import Role
from tests.factories import AgencyFactory, MembershipFactory


@pytest.fixture
def agency(db):
    return AgencyFactory()


@pytest.fixture
def other_agency(db):
    return AgencyFactory()


@pytest.fixture
def member(agency):
    """member(role) -> a Membership of that role in `agency` (client role gets a client)."""

    def make(role=Role.ASSISTANT, **kwargs):
        return MembershipFactory(agency=kwargs.pop("agency", agency), role=role, **kwargs)

    return make


@pytest.fixture
def signed_in():
    """signed_in(user) -> a Django test client signed in as that user."""

    def make(user):
        http = HttpClient()
        http.force_login(user)
        return http

    return make


@pytest.fixture
def count_queries():
    """count_queries(callable) -> how many SQL queries the call made."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def run(call):
        with CaptureQueriesContext(connection) as captured:
            call()
        return len(captured)

    return run


@pytest.fixture
def api():
    """api(user) -> a DRF test client authenticated with that user's token (anonymous if
    no user is given)."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    def make(user=None):
        http = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            http.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return http

    return make
