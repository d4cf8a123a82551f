"""Stripe's webhooks, one URL per agency: verified by signature, kept by event id, and
applied to our invoices forward only.

Stripe calls this URL, not a person: there is no session, no CSRF token and no agency
member. What proves the call is the Stripe-Signature header, checked with the agency's
webhook signing secret (the platform's when the agency bills through the platform).
Anything unverified is answered 400 and leaves nothing behind.
"""

import json
import logging

import stripe
from django.db import IntegrityError, transaction
from django.http import HttpResponse, HttpResponseBadRequest
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.models import Agency
from billing.invoicing import invoice_apply_stripe
from billing.models import Invoice, StripeEvent
from billing.stripe_access import webhook_secret_for
from core.errors import ApplicationError
from core.tenancy import agency_scope

logger = logging.getLogger(__name__)

INVOICE_EVENTS = {
    "invoice.finalized",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
    "invoice.voided",
    "invoice.marked_uncollectible",
    "invoice.sent",
    "invoice.updated",
}


def stripe_event_receive(*, agency, event: dict) -> StripeEvent | None:
    """Store a verified event once and apply it. Returns None for a redelivery (already
    stored), which the caller acknowledges all the same."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                stored = StripeEvent.objects.create(
                    agency=agency,
                    event_id=event["id"],
                    type=event.get("type", ""),
                    object_id=str((event.get("data") or {}).get("object", {}).get("id", ""))[:64],
                )
        except IntegrityError:
            return None
        if stored.type in INVOICE_EVENTS:
            _apply_invoice_event(agency, stored.type, event["data"]["object"])
        stored.processed_at = timezone.now()
        stored.save(update_fields=["processed_at"])
    return stored


def _apply_invoice_event(agency, event_type: str, data: dict) -> None:
    invoice = (
        Invoice.objects.select_for_update()
        .filter(agency=agency, stripe_invoice_id=data.get("id", ""))
        .first()
    )
    if invoice is None:
        return  # not one of ours (made in the Stripe dashboard, say)
    changed = invoice_apply_stripe(invoice, data)
    if event_type == "invoice.payment_failed" and invoice.status == "open":
        invoice.payment_failed = True
        invoice.last_payment_error = "The payment failed."
        changed += ["payment_failed", "last_payment_error"]
    if event_type == "invoice.sent" and invoice.sent_at is None:
        invoice.sent_at = timezone.now()
        changed.append("sent_at")
    if changed:
        invoice.save(update_fields=sorted(set(changed)))


@csrf_exempt
@require_POST
def stripe_webhook(request, agency):
    """POST /billing/stripe/webhook/<agency slug>/: 200 once stored (or already stored),
    400 for an unknown agency or a missing or bad signature."""
    found = Agency.objects.filter(slug=agency).first()
    if found is None:
        return HttpResponseBadRequest("Unknown agency.")
    with agency_scope(found):
        try:
            secret = webhook_secret_for(found)
        except ApplicationError:
            secret = ""
        if not secret:
            logger.warning("webhook for agency %s refused: no signing secret set", found.pk)
            return HttpResponseBadRequest("No webhook signing secret is set up.")
        signature = request.headers.get("Stripe-Signature")
        try:
            stripe.Webhook.construct_event(request.body, signature, secret)
            event = json.loads(request.body)
        except (ValueError, stripe.SignatureVerificationError):
            return HttpResponseBadRequest("Bad signature or payload.")
        if not isinstance(event, dict) or not event.get("id"):
            return HttpResponseBadRequest("Not an event.")
        stripe_event_receive(agency=found, event=event)
    return HttpResponse(status=200)
