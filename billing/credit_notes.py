"""Credit notes: staff credit an open or paid invoice through Stripe, exactly once.

A credit is a whole line of the invoice (one charge), part of one, or an amount, with a
reason. On an open invoice it lowers what the client still has to pay; on a paid one the
admin chooses: refunded to the card, or left as a credit on the client's balance for the
next invoices. Never more than the invoice's total (or the line's amount) in all.

Our row is written first, under the invoice's lock, so its id keys the request to Stripe:
a double click, a retried request or the job that finishes one Stripe could not answer
issues one credit note. A refusal from Stripe removes the row again (nothing was issued);
Stripe unreachable leaves it pending for `credit_note_finish` to complete.
"""

import logging

import stripe
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from billing.idempotency import stripe_once
from billing.invoicing import RETRYABLE, _save_from_stripe, _stripe_refused
from billing.models import (
    Charge,
    CreditNote,
    CreditNoteReason,
    CreditNoteStatus,
    CreditSettlement,
    Invoice,
    InvoiceStatus,
)
from billing.stripe_access import stripe_client_for
from billing.tax import credit_split, taxes_from_stripe
from core.audit import audit_record
from core.currencies import from_stripe, to_stripe
from core.errors import ApplicationError
from core.jobs import queue_job
from core.money import format_money

logger = logging.getLogger(__name__)

CREDITABLE = (InvoiceStatus.OPEN, InvoiceStatus.PAID)
MEMO_MAX = 500


def credited_on(invoice: Invoice, charge: Charge | None = None) -> int:
    """What the invoice has been credited already in all (tax included), or one of its
    lines in the line's own terms; pending included."""
    notes = CreditNote.objects.filter(agency_id=invoice.agency_id, invoice=invoice)
    if charge is not None:
        return notes.filter(charge=charge).aggregate(total=Sum("line_amount"))["total"] or 0
    return notes.aggregate(total=Sum("amount"))["total"] or 0


def _refuse(message: str, code: str, field: str | None = None, **extra) -> ApplicationError:
    if field:
        extra["field"] = field
    return ApplicationError(message, code=code, extra=extra)


def credit_note_issue(
    *,
    agency,
    actor,
    invoice: Invoice,
    reason: str,
    memo: str,
    amount: int | None = None,
    charge: Charge | None = None,
    settlement: str | None = None,
) -> CreditNote:
    """Credit `amount` (or the rest of the charge's line) on an open or paid invoice.

    A line's amount is in the line's own terms, as Stripe credits it, and carries its
    share of the line's tax (billing.tax.credit_split): added on top for an exclusive
    rate, held in it for an inclusive one. What is refunded or credited is the total."""
    memo = (memo or "").strip()
    if reason not in CreditNoteReason.values:
        raise _refuse("Choose why the invoice is credited.", "credit_reason_invalid", "reason")
    if not memo:
        raise _refuse(
            "Say in a few words what the credit is for; the client sees it.",
            "credit_memo_required",
            "memo",
        )
    if len(memo) > MEMO_MAX:
        raise _refuse(
            f"Keep the note to {MEMO_MAX} characters (it has {len(memo)}).",
            "credit_memo_too_long",
            "memo",
        )
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(agency=agency, pk=invoice.pk)
        if invoice.status not in CREDITABLE or not invoice.stripe_invoice_id:
            raise _refuse(
                f"Only open or paid invoices can be credited; this one is "
                f"{invoice.get_status_display().lower()}.",
                "invoice_not_creditable",
                status=invoice.status,
            )
        settlement = _settlement_for(invoice, settlement)
        left = invoice.total - credited_on(invoice)
        if charge is not None:
            if charge.invoice_id != invoice.pk:
                raise _refuse("That charge is not on this invoice.", "credit_charge_elsewhere")
            line_left = charge.amount - credited_on(invoice, charge)
        elif invoice.tax:
            raise _refuse(
                "This invoice carries tax: credit one of its lines, so the tax is credited "
                "with it.",
                "credit_line_required_with_tax",
                "charge",
            )
        if amount is None:
            if charge is None:
                raise _refuse(
                    "Give an amount, or choose the line to credit.", "credit_amount_required"
                )
            # The rest of the line; without tax, never past what the invoice has left.
            amount = line_left if invoice.tax else min(left, line_left)
        if not isinstance(amount, int) or amount <= 0:
            raise _refuse("A credit is an amount above zero.", "credit_amount_invalid", "amount")
        line_amount = amount
        net, tax = amount, 0
        if charge is not None:
            if amount > line_left:
                raise _refuse(
                    f"At most {format_money(line_left, invoice.currency)} can still be "
                    "credited on this line.",
                    "credit_amount_too_large",
                    "amount",
                    most=line_left,
                )
            _, _, net, tax = credit_split(charge, amount, invoice.currency)
            amount = net + tax
        if amount > left:
            raise _refuse(
                f"At most {format_money(left, invoice.currency)} can still be credited "
                f"{'on this line' if charge else 'on this invoice'}.",
                "credit_amount_too_large",
                "amount",
                most=left,
            )
        if settlement == CreditSettlement.DUE and amount > invoice.amount_due:
            raise _refuse(
                f"At most {format_money(invoice.amount_due, invoice.currency)} is still due.",
                "credit_amount_too_large",
                "amount",
                most=invoice.amount_due,
            )
        if settlement == CreditSettlement.REFUND:
            refunded = (
                CreditNote.objects.filter(
                    agency=agency, invoice=invoice, settlement=CreditSettlement.REFUND
                ).aggregate(total=Sum("amount"))["total"]
                or 0
            )
            if amount > invoice.amount_paid - refunded:
                raise _refuse(
                    f"At most {format_money(invoice.amount_paid - refunded, invoice.currency)} "
                    "of what was paid can still be refunded.",
                    "credit_refund_too_large",
                    "amount",
                )
        note = CreditNote.objects.create(
            agency=agency,
            invoice=invoice,
            charge=charge,
            amount=amount,
            net=net,
            tax=tax,
            line_amount=line_amount,
            currency=invoice.currency,
            settlement=settlement,
            reason=reason,
            memo=memo,
            created_by=actor if actor is not None and actor.is_authenticated else None,
        )
    try:
        return _issue(agency, note)
    except stripe.StripeError as error:
        if isinstance(error, RETRYABLE):
            transaction.on_commit(
                lambda: queue_job(
                    "billing.jobs.finish_credit_note", agency_id=agency.pk, credit_note_id=note.pk
                )
            )
            raise _refuse(
                "Stripe could not be reached; the credit note will be issued as soon as it "
                "answers.",
                "stripe_unreachable",
                credit_note=note.pk,
            ) from None
        note.delete()  # Stripe said no: nothing was issued
        raise _stripe_refused(invoice, "credit", error) from None


def _settlement_for(invoice: Invoice, settlement: str | None) -> str:
    if invoice.status == InvoiceStatus.OPEN:
        if settlement not in (None, "", CreditSettlement.DUE):
            raise _refuse(
                "This invoice is not paid yet: a credit lowers what is due.",
                "credit_settlement_invalid",
                "settlement",
            )
        return CreditSettlement.DUE
    if settlement not in (CreditSettlement.REFUND, CreditSettlement.BALANCE):
        raise _refuse(
            "This invoice is paid: choose whether the credit is refunded to the card or "
            "kept for the next invoices.",
            "credit_settlement_invalid",
            "settlement",
        )
    return settlement


def _line_of(stripe_client, invoice: Invoice, charge: Charge) -> str | None:
    """The Stripe invoice line that carries the charge's item."""
    lines = stripe_client.v1.invoices.line_items.list(
        invoice.stripe_invoice_id, params={"limit": 100}
    ).auto_paging_iter()
    for line in lines:
        details = line.parent.invoice_item_details if line.parent else None
        if details and details.invoice_item == charge.stripe_invoice_item_id:
            return line.id
    return None


def _issue(agency, note: CreditNote) -> CreditNote:
    invoice = note.invoice
    stripe_client = stripe_client_for(agency)
    sent = to_stripe(note.amount, note.currency).amount
    if note.charge_id:
        # Stripe adds the line's exclusive tax to what the line is credited.
        line_sent, sent, _, _ = credit_split(note.charge, note.line_amount, note.currency)
    params = {
        "invoice": invoice.stripe_invoice_id,
        "reason": note.reason,
        "memo": note.memo,
        "metadata": {"agency_id": str(agency.pk), "credit_note_id": str(note.pk)},
    }
    line_id = _line_of(stripe_client, invoice, note.charge) if note.charge_id else None
    if line_id:
        params["lines"] = [
            {"type": "invoice_line_item", "invoice_line_item": line_id, "amount": line_sent}
        ]
    else:
        params["amount"] = sent
    if note.settlement == CreditSettlement.REFUND:
        params["refund_amount"] = sent
    elif note.settlement == CreditSettlement.BALANCE:
        params["credit_amount"] = sent

    def issued_already():
        for found in stripe_client.v1.credit_notes.list(
            params={"invoice": invoice.stripe_invoice_id, "limit": 100}
        ).auto_paging_iter():
            held = found.metadata.to_dict() if found.metadata else {}
            if held.get("credit_note_id") == str(note.pk):
                return found
        return None

    stripe_note = stripe_once(
        agency=agency,
        key=f"cn-{note.pk}",
        send=lambda key: stripe_client.v1.credit_notes.create(
            params=params, options={"idempotency_key": key}
        ),
        find=issued_already,
    )
    with transaction.atomic():
        note = CreditNote.objects.select_for_update().get(agency=agency, pk=note.pk)
        if note.status == CreditNoteStatus.ISSUED:
            return note
        note.status = CreditNoteStatus.ISSUED
        note.stripe_credit_note_id = stripe_note.id
        note.number = stripe_note.number or ""
        note.amount = from_stripe(stripe_note.amount, note.currency)
        note.net, note.tax, _ = taxes_from_stripe(stripe_note.to_dict(), note.currency, agency.pk)
        note.issued_at = timezone.now()
        note.save()
        audit_record(
            agency=agency,
            actor=note.created_by,
            action="invoice.credited",
            target=invoice,
            credit_note=note.pk,
            stripe_credit_note_id=note.stripe_credit_note_id,
            amount=note.amount,
            currency=note.currency,
            settlement=note.settlement,
            reason=note.reason,
            charge=note.charge_id,
        )
    _save_from_stripe(invoice, stripe_client.v1.invoices.retrieve(invoice.stripe_invoice_id))
    return note


def credit_note_finish(*, agency, credit_note_id: int) -> CreditNote | None:
    """Issue a credit note that Stripe could not be asked for at the time (a job)."""
    note = (
        CreditNote.objects.select_related("invoice", "charge")
        .filter(agency=agency, pk=credit_note_id)
        .first()
    )
    if note is None or note.status == CreditNoteStatus.ISSUED:
        return note
    try:
        return _issue(agency, note)
    except RETRYABLE:
        raise
    except stripe.StripeError as error:
        # Refused now that Stripe answers (the invoice voided meanwhile, say): nothing was
        # issued, so the pending note goes, and staff see the invoice without it.
        logger.error("credit note %s of agency %s refused by Stripe: %s", note.pk, agency.pk, error)
        note.delete()
        return None
