"""A newcomer's first minute: the demo agency has an invoice to pay, and paying it on the
Stripe test server's hosted page tells the app, which shows it paid."""

import io
import time
import urllib.parse
import urllib.request

import pytest
from django.core.management import call_command

from billing.models import Invoice
from core.tenancy import agency_scope
from stripe_test_server.server import StripeTestServer
from tests.billing.conftest import PLATFORM_KEY
from tests.conftest import stripe_control

DEV_SECRET = "whsec_development_only"


def pay_on_hosted_page(url: str, card="4242424242424242") -> None:
    data = urllib.parse.urlencode({"card_number": card}).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as page:
        assert "Payment succeeded" in page.read().decode()


@pytest.mark.django_db(transaction=True)
def test_paying_the_demo_invoice_on_the_hosted_page_marks_it_paid(live_server, settings):
    server = StripeTestServer("127.0.0.1", 0).start()
    try:
        settings.STRIPE_API_BASE = server.base_url
        settings.STRIPE_SECRET_KEY = PLATFORM_KEY
        settings.STRIPE_WEBHOOK_SECRET = DEV_SECRET
        settings.STRIPE_MAX_NETWORK_RETRIES = 0
        call_command("seed_demo", stdout=io.StringIO())  # its jobs run eagerly here

        from accounts.models import Agency

        demo = Agency.objects.get(slug="demo")
        with agency_scope(demo):
            invoice = Invoice.objects.get(client__name="Cedar Legal")
        assert invoice.status == "open" and invoice.amount_due == 6000
        assert invoice.hosted_invoice_url.startswith(server.base_url)

        # As `make run` starts it (Procfile.dev): every event to the demo agency's URL,
        # signed with the development secret. (Wired only now: the embedded database is
        # one connection, which the page server's thread must not share mid-seed.)
        webhook = f"{live_server.url}/billing/stripe/webhook/demo/"
        server.state.forwards = [(webhook, DEV_SECRET)]
        pay_on_hosted_page(invoice.hosted_invoice_url)
        stripe_control(server.base_url, "POST", "/_test/deliver")  # what is still pending
        deadline = time.monotonic() + 10  # and one the sender's own thread may hold
        with agency_scope(demo):
            invoice.refresh_from_db()
            while invoice.status != "paid" and time.monotonic() < deadline:
                time.sleep(0.1)
                invoice.refresh_from_db()
        assert invoice.status == "paid" and invoice.amount_paid == 6000
    finally:
        server.stop()
