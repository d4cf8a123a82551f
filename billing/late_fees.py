"""Late payment: a late fee once per overdue invoice, and new requests paused while a client
has an invoice long overdue, as the agency's policy says (LatePaymentPolicy).

- The fee is due `fee_after_days` days after the invoice's due date: a fixed amount in the
  invoice's currency (an invoice in a currency the policy names no amount for gets none),
  or a percentage of what is still due on it, rounded half up to the minor unit.
- It is a charge of its own (kind late_fee) tied to the overdue invoice, made once: under
  the invoice's row lock, and the database holds one per invoice, so two sweeps at once,
  or a retried one, make one fee. It is billed like the invoice's own work, under the
  contract line of the invoice's first charge: a per-task contract gets an invoice of its
  own for it at once, a weekly or monthly one finds it on the client's next invoice. An
  invoice of late fees alone gets no fee on the fee.
- New requests pause `pause_after_days` days after an open invoice's due date, for the
  client's own people (the request form and the API); staff may still request work for
  the client. The pause is read from the invoices as they stand, so it lifts the moment
  the invoice is paid, voided or marked uncollectible (the webhook moves it).
- Both are shown to the client before they apply (`late_payment_notices`).
An invoice with no due date (collected from the card on file) is never late.
"""

import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Membership
from billing import report_months
from billing.models import (
    Charge,
    ChargeKind,
    ChargeStatus,
    Invoice,
    InvoiceStatus,
    LateFeeKind,
    LatePaymentPolicy,
)
from core.audit import audit_record
from core.currencies import to_stripe
from core.errors import ApplicationError
from core.jobs import queue_job
from core.money import format_money
from core.roles import STAFF_ROLES

logger = logging.getLogger(__name__)

MAX_DAYS = 365


def late_fee_key(invoice_id: int) -> str:
    return f"charge-late-fee-{invoice_id}"


# -- the policy -----------------------------------------------------------------------------


def policy_for(agency) -> LatePaymentPolicy | None:
    """The agency's late-payment policy (None: no fee, no pause), read once per agency
    object, so a page or a sweep asking about many invoices reads it once."""
    if not hasattr(agency, "_late_payment_policy"):
        agency._late_payment_policy = LatePaymentPolicy.objects.filter(agency=agency).first()
    return agency._late_payment_policy


def late_payment_policy_update(
    *,
    agency,
    actor,
    fee_kind: str,
    fixed_amounts: dict | None = None,
    percent_basis_points: int | None = None,
    fee_after_days: int = 7,
    pause_requests: bool = False,
    pause_after_days: int = 30,
) -> LatePaymentPolicy:
    """Set the agency's late-payment policy (audited). A fixed fee names an amount for at
    least one currency; a percentage is above 0 and at most 100 %; the days are 0 to 365.
    Invoices already charged a fee keep it; the new rule applies to fees still to come."""
    if fee_kind not in LateFeeKind.values:
        raise ApplicationError(
            "Choose a kind of late fee.", code="late_fee_kind_invalid", extra={"field": "fee_kind"}
        )
    amounts = {
        currency.upper(): int(amount)
        for currency, amount in (fixed_amounts or {}).items()
        if amount is not None
    }
    if any(amount <= 0 for amount in amounts.values()):
        raise ApplicationError(
            "A late fee must be more than nothing.",
            code="late_fee_amount_invalid",
            extra={"field": "fixed_amounts"},
        )
    if fee_kind == LateFeeKind.FIXED and not amounts:
        raise ApplicationError(
            "Enter the fee for at least one currency.",
            code="late_fee_amount_required",
            extra={"field": "fixed_amounts"},
        )
    if fee_kind == LateFeeKind.PERCENT and not (
        percent_basis_points is not None and 1 <= percent_basis_points <= 10000
    ):
        raise ApplicationError(
            "Enter a percentage above 0 and at most 100.",
            code="late_fee_percent_invalid",
            extra={"field": "percent_basis_points"},
        )
    for field, days in (("fee_after_days", fee_after_days), ("pause_after_days", pause_after_days)):
        if days is None or not 0 <= days <= MAX_DAYS:
            raise ApplicationError(
                f"Enter a number of days from 0 to {MAX_DAYS}.",
                code="late_fee_days_invalid",
                extra={"field": field},
            )
    with transaction.atomic():
        policy, _ = LatePaymentPolicy.objects.select_for_update().get_or_create(agency=agency)
        policy.fee_kind = fee_kind
        policy.fixed_amounts = amounts if fee_kind == LateFeeKind.FIXED else {}
        policy.percent_basis_points = (
            percent_basis_points if fee_kind == LateFeeKind.PERCENT else None
        )
        policy.fee_after_days = fee_after_days
        policy.pause_requests = pause_requests
        policy.pause_after_days = pause_after_days
        policy.updated_by = actor
        policy.save()
        audit_record(
            agency=agency,
            actor=actor,
            action="late_payment_policy.updated",
            target=policy,
            fee_kind=policy.fee_kind,
            fixed_amounts=policy.fixed_amounts,
            percent_basis_points=policy.percent_basis_points,
            fee_after_days=policy.fee_after_days,
            pause_requests=policy.pause_requests,
            pause_after_days=policy.pause_after_days,
        )
    agency._late_payment_policy = policy
    return policy


def outstanding(invoice: Invoice) -> int:
    return max(invoice.amount_due - invoice.amount_paid, 0)


def fee_amount(policy: LatePaymentPolicy | None, invoice: Invoice) -> int:
    """The fee the policy puts on this invoice (0: none)."""
    if policy is None or policy.fee_kind == LateFeeKind.NONE:
        return 0
    if policy.fee_kind == LateFeeKind.FIXED:
        return int(policy.fixed_amounts.get(invoice.currency.upper()) or 0)
    # Half up, in integers: (2 * due * bp + 10000) // 20000.
    return (2 * outstanding(invoice) * policy.percent_basis_points + 10000) // 20000


def fee_due_at(policy: LatePaymentPolicy | None, invoice: Invoice) -> dt.datetime | None:
    if policy is None or policy.fee_kind == LateFeeKind.NONE or invoice.due_date is None:
        return None
    return invoice.due_date + dt.timedelta(days=policy.fee_after_days)


def pause_at(policy: LatePaymentPolicy | None, invoice: Invoice) -> dt.datetime | None:
    if policy is None or not policy.pause_requests or invoice.due_date is None:
        return None
    return invoice.due_date + dt.timedelta(days=policy.pause_after_days)


# -- the fee --------------------------------------------------------------------------------


def _fees_only(invoice: Invoice) -> bool:
    return not (
        Charge.objects.filter(agency_id=invoice.agency_id, invoice=invoice)
        .exclude(kind=ChargeKind.LATE_FEE)
        .exists()
    )


def late_fee_apply(*, agency, invoice: Invoice, now: dt.datetime | None = None) -> Charge | None:
    """The invoice's one late fee, made once its moment has come while it is still open
    and unpaid; the fee it already has. None: no fee (not yet due, paid, no amount for its
    currency, or an invoice of late fees alone)."""
    now = now or timezone.now()
    policy = policy_for(agency)
    existing = Charge.objects.filter(
        agency=agency, kind=ChargeKind.LATE_FEE, late_fee_for_id=invoice.pk
    ).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            # The invoice's lock orders two sweeps at once: the second finds the fee made.
            invoice = Invoice.objects.select_for_update().get(agency=agency, pk=invoice.pk)
            existing = Charge.objects.filter(
                agency=agency, kind=ChargeKind.LATE_FEE, late_fee_for=invoice
            ).first()
            if existing is not None:
                return existing
            due_at = fee_due_at(policy, invoice)
            if invoice.status != InvoiceStatus.OPEN or due_at is None or due_at > now:
                return None
            if invoice.late_fee_done_at is not None:
                return None
            if _fees_only(invoice):
                invoice.late_fee_done_at = now
                invoice.save(update_fields=["late_fee_done_at"])
                return None
            amount = fee_amount(policy, invoice)
            if amount <= 0 or to_stripe(amount, invoice.currency).amount <= 0:
                return None  # nothing in this currency, or nothing left to pay
            source = (
                Charge.objects.filter(agency=agency, invoice=invoice)
                .exclude(kind=ChargeKind.LATE_FEE)
                .order_by("created_at", "pk")
                .first()
            )
            label = invoice.number or f"of {invoice.due_date:%d %b %Y}"
            charge = Charge.objects.create(
                agency=agency,
                kind=ChargeKind.LATE_FEE,
                late_fee_for=invoice,
                # Billed under the overdue work's own line and contract: its cadence decides
                # whether the fee gets an invoice of its own or goes on the next one.
                contract_line_id=source.contract_line_id,
                terms_id=source.terms_id,
                client_id=invoice.client_id,
                amount=amount,
                currency=invoice.currency,
                description=f"Late fee: invoice {label} unpaid"[:255],
                idempotency_key=late_fee_key(invoice.pk),
                billable_at=now,
                status=ChargeStatus.PENDING,
                breakdown={
                    "late_fee_for": invoice.pk,
                    "invoice_number": invoice.number,
                    "due_date": invoice.due_date.isoformat(),
                    "fee_after_days": policy.fee_after_days,
                    "fee_kind": policy.fee_kind,
                    "still_due": outstanding(invoice),
                    **(
                        {"percent_basis_points": policy.percent_basis_points}
                        if policy.fee_kind == LateFeeKind.PERCENT
                        else {"fixed_amount": amount}
                    ),
                    "amount": amount,
                },
            )
            invoice.late_fee_done_at = now
            invoice.save(update_fields=["late_fee_done_at"])
            report_months.charges_touched(agency_id=agency.pk, charges=[charge])
            audit_record(
                agency=agency,
                actor=None,
                action="charge.late_fee",
                target=charge,
                invoice=invoice.pk,
                amount=amount,
                currency=charge.currency,
            )
            transaction.on_commit(
                lambda: queue_job(
                    "billing.jobs.push_charge", agency_id=agency.pk, charge_id=charge.pk
                )
            )
            charge.made_now = True  # for the sweep's count: this call made it
    except IntegrityError:
        # A racing sweep made it first (on a database that did not make us wait).
        existing = Charge.objects.filter(
            agency=agency, kind=ChargeKind.LATE_FEE, late_fee_for_id=invoice.pk
        ).first()
        if existing is None:
            raise
        return existing
    return charge


def sweep_late_fees(*, now: dt.datetime) -> int:
    """Beat's sweep: the late fee of every open invoice whose fee has come due. Returns how
    many fees it made.

    It spans agencies on purpose: the policies with a fee, then one query (on the index of
    open invoices whose fee is still to come) for invoices past the shortest wait; each
    fee is made in its agency's scope. Once an invoice's fee is made it leaves the index.
    """
    from core.tenancy import agency_scope, scopes_disabled

    with scopes_disabled():
        policies = {
            policy.agency_id: policy
            for policy in LatePaymentPolicy.objects.exclude(fee_kind=LateFeeKind.NONE)
        }
        if not policies:
            return 0
        shortest = min(policy.fee_after_days for policy in policies.values())
        invoices = list(
            Invoice.objects.filter(
                status=InvoiceStatus.OPEN,
                late_fee_done_at=None,
                due_date__lte=now - dt.timedelta(days=shortest),
                agency_id__in=list(policies),
            )
            .select_related("agency")
            .order_by("due_date", "pk")
        )
    made = 0
    for invoice in invoices:
        policy = policies[invoice.agency_id]
        if fee_due_at(policy, invoice) > now or fee_amount(policy, invoice) <= 0:
            continue  # not yet; or no fee in its currency, or nothing left to pay
        invoice.agency._late_payment_policy = policy
        with agency_scope(invoice.agency):
            try:
                fee = late_fee_apply(agency=invoice.agency, invoice=invoice, now=now)
            except ApplicationError as error:
                logger.error("invoice %s: no late fee: %s", invoice.pk, error)
                continue
            made += getattr(fee, "made_now", False)
    return made


# -- the pause ------------------------------------------------------------------------------


def paused_by(*, agency, client, now: dt.datetime | None = None) -> Invoice | None:
    """The open invoice that pauses the client's new requests, if any (the oldest)."""
    policy = policy_for(agency)
    if policy is None or not policy.pause_requests:
        return None
    now = now or timezone.now()
    return (
        Invoice.objects.filter(
            agency=agency,
            client=client,
            status=InvoiceStatus.OPEN,
            due_date__lte=now - dt.timedelta(days=policy.pause_after_days),
        )
        .order_by("due_date", "pk")
        .first()
    )


def pause_message(invoice: Invoice) -> str:
    name = f"invoice {invoice.number}" if invoice.number else "your overdue invoice"
    return (
        f"New requests are paused until {name} is paid. Pay it from your invoices page and "
        "you can request work again straight away."
    )


def check_requests_allowed(*, agency, client, actor) -> None:
    """Refuse a client member's new request while the client is paused (tasks.hooks). Staff
    may still request work for the client: the agency decides what it takes on."""
    invoice = paused_by(agency=agency, client=client)
    if invoice is None:
        return
    if actor is not None and getattr(actor, "is_authenticated", False):
        role = (
            Membership.objects.filter(agency=agency, user=actor, is_active=True)
            .values_list("role", flat=True)
            .first()
        )
        if role in STAFF_ROLES:
            return
    raise ApplicationError(
        pause_message(invoice),
        code="requests_paused",
        extra={"invoice": invoice.pk, "invoice_number": invoice.number},
    )


# -- what the client is told before -------------------------------------------------------

# How far ahead of its due date an invoice's consequences are shown.
NOTICE_AHEAD = dt.timedelta(days=7)


def late_payment_notices(*, agency, invoices, now: dt.datetime) -> dict[int, list[dict]]:
    """For each open invoice overdue or due within NOTICE_AHEAD: what happens if it stays
    unpaid, [{"kind": "fee"|"pause", "at", "amount", "currency"}], only what is still to
    come (a fee already made, or a pause begun, is said elsewhere). No queries beyond the
    policy's and one for the fees made."""
    policy = policy_for(agency)
    if policy is None:
        return {}
    candidates = [
        invoice
        for invoice in invoices
        if invoice.status == InvoiceStatus.OPEN
        and invoice.due_date is not None
        and invoice.due_date <= now + NOTICE_AHEAD
    ]
    if not candidates:
        return {}
    charged = set(
        Charge.objects.filter(
            agency=agency,
            kind=ChargeKind.LATE_FEE,
            late_fee_for__in=[invoice.pk for invoice in candidates],
        ).values_list("late_fee_for_id", flat=True)
    )
    notices: dict[int, list[dict]] = {}
    for invoice in candidates:
        rows = []
        fee_at = fee_due_at(policy, invoice)
        amount = fee_amount(policy, invoice)
        if fee_at and fee_at > now and amount and invoice.pk not in charged:
            rows.append(
                {
                    "kind": "fee",
                    "at": fee_at,
                    "amount": amount,
                    "currency": invoice.currency,
                    "words": f"A late fee of {format_money(amount, invoice.currency)}",
                }
            )
        paused_at = pause_at(policy, invoice)
        if paused_at and paused_at > now:
            rows.append({"kind": "pause", "at": paused_at})
        if rows:
            notices[invoice.pk] = rows
    return notices


def notice_sentences(notices: list[dict], when) -> str:
    """The notices as the client reads them; `when` formats a moment for the reader."""
    sentences = []
    for notice in notices:
        if notice["kind"] == "fee":
            sentences.append(f"{notice['words']} will be added on {when(notice['at'])} if unpaid.")
        else:
            sentences.append(f"New requests pause on {when(notice['at'])} if unpaid.")
    return " ".join(sentences)
