import pytest
import stripe

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
