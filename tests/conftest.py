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
