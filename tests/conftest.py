import json
import urllib.request

import pytest
import stripe
from django.test import Client as HttpClient

from core.roles import Role
from core.tenancy import scopes_disabled
from stripe_test_server.runner import point_stripe_at, running_server
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
    """signed_in(user) -> a Django test client signed in as that user. A user of one
    agency has been there before (the session remembers it, as after a first visit), so
    a page's first request costs what every later one does."""
    from accounts.models import Membership

    def make(user):
        http = HttpClient()
        http.force_login(user)
        with scopes_disabled():
            slugs = list(
                Membership.objects.filter(user=user, is_active=True).values_list(
                    "agency__slug", flat=True
                )
            )
        if len(slugs) == 1:
            session = http.session
            session["agency_slug"] = slugs[0]
            session.save()
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


def api_token_for(user) -> str:
    """A new API token for the user (the token itself: only its hash is stored)."""
    from accounts.models import ApiToken

    return ApiToken.objects.create(user=user, expiry=None, name="tests")[1]


@pytest.fixture
def api():
    """api(user) -> a DRF test client authenticated with that user's token (anonymous if
    no user is given)."""
    from rest_framework.test import APIClient

    def make(user=None):
        http = APIClient()
        if user is not None:
            token = api_token_for(user)
            http.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return http

    return make


# Test-server controls go straight to localhost; a proxy in the environment must not see them.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def stripe_control(base_url: str, method: str, path: str, payload: dict | None = None) -> dict:
    """Call one of the Stripe test server's /_test/ controls (faults, stats, reset, deliver)."""
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(f"{base_url}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with _opener.open(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="session")
def _stripe_test_server_url():
    # One server for the whole run: starting it is cheap, but every test resets it anyway.
    with running_server() as base_url:
        yield base_url


@pytest.fixture
def stripe_server(_stripe_test_server_url):
    """The in-repo Stripe test server's base URL, emptied (objects, idempotency keys,
    faults, pending webhooks) for this test, with the stripe module pointed at it."""
    stripe_control(_stripe_test_server_url, "POST", "/_test/reset")
    previous = point_stripe_at(_stripe_test_server_url)
    yield _stripe_test_server_url
    stripe.api_base = previous
