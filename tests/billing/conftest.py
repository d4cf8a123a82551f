import json
import urllib.request

import pytest
import stripe

from billing.stripe_test_server.runner import point_stripe_at, running_server

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


PLATFORM_KEY = "sk_test_platform"


@pytest.fixture
def stripe_on(settings, stripe_server):
    """Billing pointed at the test server with the platform key; returns an SDK client
    for looking at what Stripe holds."""
    settings.STRIPE_API_BASE = stripe_server
    settings.STRIPE_SECRET_KEY = PLATFORM_KEY
    # Our retries (as Celery's would) are what the tests exercise, not the SDK's.
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    return stripe.StripeClient(
        PLATFORM_KEY, base_addresses={"api": stripe_server}, max_network_retries=0
    )
