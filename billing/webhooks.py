"""Stripe's webhooks, one URL per agency: verified by signature, kept by event id, and
applied to our invoices forward only.

Stripe calls this URL, not a person: there is no session, no CSRF token and no agency
member. What proves the call is the Stripe-Signature header, checked with the agency's
webhook signing secret (the platform's when the agency bills through the platform), and
its timestamp, which must lie within Stripe's tolerance of now, before or after. Anything
unverified, and anything signed that is not the shape of a Stripe event, is answered 400
and leaves nothing behind: Stripe retries a 500 for days.

An event says which invoice moved, never what it is now worth: what we record (status,
amounts, dates) is read back from Stripe with the agency's key, so neither a stale event
nor a payload that passed for signed can move money state on its own.
"""

import logging
import time

import stripe
from django.db import IntegrityError, transaction
from django.http import HttpResponse, HttpResponseBadRequest
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from rest_framework import serializers

from accounts.models import Agency
from billing import report_months
from billing.cards import CARD_EVENTS, card_event_apply
from billing.invoicing import RETRYABLE, invoice_apply_stripe
from billing.models import STRIPE_ID_MAX_LENGTH, Invoice, StripeEvent
from billing.reminders import queue_invoice_news
from billing.stripe_access import stripe_client_for, webhook_secret_for
from core.api.parsers import loads_bounded
from core.errors import ApplicationError
from core.tenancy import agency_scope

logger = logging.getLogger(__name__)

# How far a signature's timestamp may be from now, either way (Stripe's SDK checks only
# the past; a timestamp in the future would let a captured delivery be replayed later).
TOLERANCE_SECONDS = stripe.Webhook.DEFAULT_TOLERANCE
# Stripe's ids: a prefix and letters, digits or underscores, at most 255 characters.
STRIPE_ID = r"^[A-Za-z0-9]+_[A-Za-z0-9_]+$"
# Far more than any Stripe event nests.
MAX_EVENT_DEPTH = 64

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


class _EventObject(serializers.Serializer):
    id = serializers.RegexField(STRIPE_ID, max_length=STRIPE_ID_MAX_LENGTH, required=False)


class _EventData(serializers.Serializer):
    object = _EventObject()


class StripeEventShape(serializers.Serializer):
    """What every Stripe event has, and all of it we read: which event, what kind, and
    the id of the object it is about."""

    id = serializers.RegexField(r"^evt_[A-Za-z0-9_]+$", max_length=STRIPE_ID_MAX_LENGTH)
    type = serializers.CharField(max_length=STRIPE_ID_MAX_LENGTH)
    data = _EventData()


def stripe_event_receive(*, agency, event_id: str, event_type: str, object_id: str):
    """Store a verified event once and apply it. Returns None for a redelivery (already
    stored), which the caller acknowledges all the same.

    An invoice event of one of our invoices refreshes it from Stripe; if Stripe cannot be
    reached the error propagates and nothing is stored, so that Stripe delivers it again.
    An event that could not be applied (the agency has no key to ask Stripe with, or
    Stripe will not say) is kept without `processed_at`."""
    ours = event_type in INVOICE_EVENTS and (
        Invoice.objects.filter(agency=agency, stripe_invoice_id=object_id).exists()
    )
    current = None
    if ours and not StripeEvent.objects.filter(agency=agency, event_id=event_id).exists():
        current = _invoice_in_stripe(agency, object_id)
    if event_type in CARD_EVENTS and not (
        StripeEvent.objects.filter(agency=agency, event_id=event_id).exists()
    ):
        # Read back from Stripe and applied before the event is stored: if Stripe cannot
        # be reached this raises, nothing is stored, and Stripe delivers it again.
        card_event_apply(
            agency=agency,
            event={"id": event_id, "type": event_type, "data": {"object": {"id": object_id}}},
        )
    with transaction.atomic():
        try:
            with transaction.atomic():
                stored = StripeEvent.objects.create(
                    agency=agency, event_id=event_id, type=event_type, object_id=object_id
                )
        except IntegrityError:
            return None
        if current is not None:
            _apply_invoice_event(agency, event_type, current)
        if not ours or current is not None:
            stored.processed_at = timezone.now()
            stored.save(update_fields=["processed_at"])
    return stored


def _invoice_in_stripe(agency, invoice_id: str) -> dict | None:
    """The invoice as Stripe holds it now; None (logged) if Stripe will not say (no such
    invoice, a key it refuses) or the agency has no key to ask with."""
    try:
        stripe_client = stripe_client_for(agency)
    except ApplicationError:
        logger.warning("agency %s: invoice event for %s not applied, no key", agency.pk, invoice_id)
        return None
    try:
        return stripe_client.v1.invoices.retrieve(invoice_id).to_dict()
    except RETRYABLE:
        raise
    except stripe.StripeError as error:
        # Asking again would get the same answer (no such invoice, a revoked key): the
        # event is kept unapplied, for a person to look at.
        logger.error("agency %s: invoice %s not read from Stripe: %r", agency.pk, invoice_id, error)
        return None


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
        report_months.invoice_touched(invoice=invoice, changed=changed)
    if {"status", "finalized_at", "payment_failed"} & set(changed):
        queue_invoice_news(invoice)  # issued, or its payment failed: told on commit


def _signed_at(header: str) -> int | None:
    """The timestamp the signature covers: the header's first `t`, as the SDK reads it."""
    for item in header.split(","):
        key, _, value = item.partition("=")
        if key == "t":
            return int(value) if value.isdigit() else None
    return None


def _verified_event(request, secret: str) -> tuple[dict | None, str]:
    """(the event's fields, "") for a delivery Stripe signed just now; (None, why) else."""
    header = request.headers.get("Stripe-Signature") or ""
    try:
        payload = request.body.decode("utf-8")
        stripe.WebhookSignature.verify_header(payload, header, secret, TOLERANCE_SECONDS)
    except (UnicodeDecodeError, stripe.SignatureVerificationError):
        return None, "Bad signature or payload."
    signed_at = _signed_at(header)
    if signed_at is None or signed_at > time.time() + TOLERANCE_SECONDS:
        return None, "The signature's timestamp is outside the tolerance."
    try:
        body = loads_bounded(payload, max_depth=MAX_EVENT_DEPTH)
    except ValueError:
        return None, "Not JSON."
    shape = StripeEventShape(data=body)
    if not shape.is_valid():
        return None, "Not a Stripe event."
    return shape.validated_data, ""


@csrf_exempt
@require_POST
def stripe_webhook(request, agency):
    """POST /billing/stripe/webhook/<agency slug>/: 200 once stored (or already stored);
    400 for an unknown agency, a missing, bad or ill-timed signature, or a body that is not
    a Stripe event; 503 while Stripe cannot be asked about the invoice (Stripe retries)."""
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
        event, refusal = _verified_event(request, secret)
        if event is None:
            return HttpResponseBadRequest(refusal)
        try:
            stripe_event_receive(
                agency=found,
                event_id=event["id"],
                event_type=event["type"],
                object_id=event["data"]["object"].get("id", ""),
            )
        except RETRYABLE as error:
            logger.warning("webhook for agency %s: Stripe unreachable (%s)", found.pk, error)
            return HttpResponse("Stripe could not be reached; deliver again.", status=503)
    return HttpResponse(status=200)
