"""An in-repo Stripe test server: Stripe's HTTP API for the endpoints the product uses, so
tests and the zero-setup default run the real `stripe` SDK over real HTTP.

Standard library only and no Django, so it runs as its own process:

    python -m stripe_test_server --host 127.0.0.1 --port 12111

(or the port in STRIPE_TEST_SERVER_PORT when --port is not given). Point the SDK at it
with `stripe.api_base = "http://127.0.0.1:12111"` (or
`StripeClient(key, base_addresses={"api": ...})`); any key starting `sk_test_` or
`rk_test_` works and each key is its own account. Besides Stripe's API it serves hosted
pages (an invoice's, /hosted/invoices/<id>; Checkout's for saving a card,
/hosted/checkout/<id>; the customer portal's, /hosted/billing_portal/<id>) and test
controls under /_test/ (faults, stats, reset, deliver).
"""

from .fixtures import FIXTURES_PATH, NULLABLE
from .server import StripeTestServer

__all__ = ["FIXTURES_PATH", "NULLABLE", "StripeTestServer"]
