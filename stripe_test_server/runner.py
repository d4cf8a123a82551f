"""Run the Stripe test server inside a process (tests, dev shells) and point the SDK at it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from .server import StripeTestServer


@contextlib.contextmanager
def running_server(port: int = 0, host: str = "127.0.0.1", **options) -> Iterator[str]:
    """Start the server in a thread (port 0: a free one) and yield its base URL; stop it
    on exit. `options` go to StripeTestServer (hold_seconds, webhook_backoff, ...)."""
    server = StripeTestServer(host, port, **options)
    server.start()
    try:
        yield server.base_url
    finally:
        server.stop()


def point_stripe_at(base_url: str) -> str:
    """Send the stripe module's global API calls to `base_url`; returns the previous base
    so a caller can put it back. Retries and timeouts stay the caller's to configure
    (stripe.max_network_retries, stripe.default_http_client)."""
    import stripe

    previous = stripe.api_base
    stripe.api_base = base_url
    return previous
