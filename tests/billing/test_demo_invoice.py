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
from stripe_test_server.runner import running_server
from tests.billing.conftest import PLATFORM_KEY

DEV_SECRET = "whsec_development_only"


def pay_on_hosted_page(url: str, card="4242424242424242") -> None:
    data = urllib.parse.urlencode({"card_number": card}).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as page:
        assert "Payment succeeded" in page.read().decode()


@pytest.mark.django_db(transaction=True)
def test_paying_the_demo_invoice_on_the_hosted_page_marks_it_paid(live_server, settings):
    webhook = f"{live_server.url}/billing/stripe/webhook/demo/"
    # As `make run` starts it (Procfile.dev): every event sent to the demo agency's URL.
    with running_server(forward_webhooks=(webhook,), forward_secret=DEV_SECRET) as stripe_url:
        settings.STRIPE_API_BASE = stripe_url
        settings.STRIPE_SECRET_KEY = PLATFORM_KEY
        settings.STRIPE_WEBHOOK_SECRET = DEV_SECRET
        settings.STRIPE_MAX_NETWORK_RETRIES = 0
        call_command("seed_demo", stdout=io.StringIO())  # its jobs run eagerly here

        from accounts.models import Agency

        demo = Agency.objects.get(slug="demo")
        with agency_scope(demo):
            invoice = Invoice.objects.get(client__name="Cedar Legal")
            assert invoice.status == "open" and invoice.amount_due == 6000
            assert invoice.hosted_invoice_url.startswith(stripe_url)

        pay_on_hosted_page(invoice.hosted_invoice_url)
        deadline = time.monotonic() + 10
        with agency_scope(demo):
            while time.monotonic() < deadline:
                invoice.refresh_from_db()
                if invoice.status == "paid":
                    break
                time.sleep(0.1)
            assert invoice.status == "paid" and invoice.amount_paid == 6000
