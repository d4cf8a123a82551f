"""Charges to Stripe, exactly once: invoice items, invoices, finalizing, paying or sending.

Every request to Stripe carries an idempotency key derived from our own ids, so a retried
job (lost connection, crashed worker, duplicate delivery) gets Stripe's first answer back
instead of a second object. Each step's result is recorded as soon as Stripe answers, and a
step already recorded is skipped, so a retry resumes where the last attempt stopped.

- Per-task contracts: `invoice_charge_now` makes a draft invoice for the one charge (the
  customer expanded on it, for the card on file), adds the charge's item to it, then
  charges the card or sends it, which finalizes the draft on the way: three requests.
- Weekly and monthly contracts: nothing goes to Stripe until beat's `close_billing_periods`
  makes one invoice per client and period (Monday to Monday, or the calendar month, in the
  client's zone) and puts the period's charges on it in bulk (`add_lines`, LINES_PER_REQUEST
  lines a request), one line (an invoice item) each.

What a retry finds already made at Stripe is found by the items' metadata (`_items_on`),
and a draft is settled under its charges' row locks just before it is finalized
(`_settle`), so a charge written off meanwhile never reaches an issued invoice.
"""

import contextlib
import datetime as dt
import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable

import stripe
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing import report_months
from billing.idempotency import note_intent, sent_before, stripe_once
from billing.models import (
    INVOICE_STATUS_RANK,
    Charge,
    ChargeKind,
    ChargeStatus,
    Invoice,
    InvoiceStatus,
    VoidedCharges,
)
from billing.reminders import queue_invoice_news
from billing.stripe_access import stripe_client_for, stripe_enabled_for
from billing.tax import invoice_tax_params, item_tax_params, rates_of_charges, taxes_from_stripe
from clients.models import Client
from contracts.models import BillingCadence, CollectionMethod, ServiceContract
from core.audit import audit_record
from core.currencies import from_stripe, to_stripe
from core.errors import ApplicationError
from core.jobs import queue_job
from core.periods import month_start, next_month, week_start
from core.times import local_midnight

logger = logging.getLogger(__name__)

# Errors worth retrying later with the same idempotency keys; anything else Stripe says
# would be said again.
RETRYABLE = (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError)
# A per-task charge still unbilled this long after it was made lost its job somewhere:
# beat's sweep bills it.
STRAGGLER_AGE = dt.timedelta(minutes=15)
# An invoice that should have been paid from the card on file, for a client with none,
# is sent to pay by link instead, due in this many days.
NO_CARD_DAYS_UNTIL_DUE = 14


# -- customers ----------------------------------------------------------------------------


def stripe_customer_for(*, agency, client: Client, stripe_client=None) -> str:
    """The client's Stripe customer id, creating the customer the first time.

    The idempotency key is the client's, so two workers at once, or one that crashed
    after Stripe answered, get the same customer back; after a 500 the customer is looked
    for by its metadata first. The first id saved (under the row's lock) stands.
    """
    if client.stripe_customer_id:
        return client.stripe_customer_id
    stripe_client = stripe_client or stripe_client_for(agency)
    metadata = {"agency_id": str(agency.pk), "client_id": str(client.pk)}
    params = {"name": client.name, "metadata": metadata}
    if client.billing_email:
        params["email"] = client.billing_email
    customer = stripe_once(
        agency=agency,
        key=f"customer-{agency.pk}-{client.pk}",
        send=lambda key: stripe_client.v1.customers.create(
            params=params, options={"idempotency_key": key}
        ),
        find=lambda: _find(stripe_client.v1.customers, {}, metadata),
    )
    with transaction.atomic():
        locked = Client.objects.select_for_update().get(agency=agency, pk=client.pk)
        if not locked.stripe_customer_id:
            locked.stripe_customer_id = customer.id
            locked.save(update_fields=["stripe_customer_id"])
    client.stripe_customer_id = locked.stripe_customer_id
    return client.stripe_customer_id


# How far back a retry looks for what an earlier attempt may have made: Stripe replays a
# key's answer for 24 hours, and a job retries within that.
LOOK_BACK = dt.timedelta(days=2)


def _find(resource, params: dict, metadata: dict, *, exclude_status=("void",)):
    """The newest object of a Stripe list (customers, invoices) made lately whose metadata
    holds all of `metadata`: what an attempt that met a 500 may have made."""
    since = int((timezone.now() - LOOK_BACK).timestamp())
    listed = resource.list(params={**params, "created": {"gte": since}, "limit": 100})
    for found in listed.auto_paging_iter():
        held = found.metadata.to_dict() if found.metadata else {}
        if getattr(found, "status", None) in exclude_status:
            continue
        if all(held.get(name) == value for name, value in metadata.items()):
            return found
    return None


# -- our copy of a Stripe invoice ---------------------------------------------------------


def _moment(timestamp) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC) if timestamp else None


def invoice_apply_stripe(invoice: Invoice, data: dict) -> list[str]:
    """Bring our invoice up to what Stripe says, forward only: a status never moves back
    (an old event or a stale read never reopens a paid invoice). Returns the fields changed,
    unsaved."""
    before = {field: getattr(invoice, field) for field in _MIRRORED}
    status = data.get("status")
    current = INVOICE_STATUS_RANK[invoice.status]
    rank = INVOICE_STATUS_RANK.get(status, -1)
    if rank > current:
        invoice.status = status
    if rank >= current:
        # Amounts and dates as of this state or a later one; never those of an older one.
        # Stripe's unit to ours (core.currencies): JPY alike, HUF and ISK in hundredths.
        currency = data.get("currency") or invoice.currency
        invoice.amount_due = from_stripe(data.get("amount_due") or 0, currency)
        invoice.amount_paid = max(
            invoice.amount_paid, from_stripe(data.get("amount_paid") or 0, currency)
        )
        invoice.total = from_stripe(data.get("total") or 0, currency)
        invoice.net, invoice.tax, invoice.taxes = taxes_from_stripe(
            data, currency, invoice.agency_id
        )
        invoice.starting_balance = from_stripe(data.get("starting_balance") or 0, currency)
        invoice.ending_balance = from_stripe(data.get("ending_balance") or 0, currency)
    invoice.number = data.get("number") or invoice.number
    invoice.hosted_invoice_url = data.get("hosted_invoice_url") or invoice.hosted_invoice_url
    invoice.invoice_pdf = data.get("invoice_pdf") or invoice.invoice_pdf
    invoice.due_date = _moment(data.get("due_date")) or invoice.due_date
    transitions = data.get("status_transitions") or {}
    invoice.finalized_at = invoice.finalized_at or _moment(transitions.get("finalized_at"))
    invoice.paid_at = invoice.paid_at or _moment(transitions.get("paid_at"))
    invoice.voided_at = invoice.voided_at or _moment(transitions.get("voided_at"))
    if invoice.status == InvoiceStatus.PAID:
        invoice.payment_failed = False
    return [field for field in _MIRRORED if getattr(invoice, field) != before[field]]


_MIRRORED = [
    "status",
    "total",
    "net",
    "tax",
    "taxes",
    "starting_balance",
    "ending_balance",
    "amount_due",
    "amount_paid",
    "number",
    "hosted_invoice_url",
    "invoice_pdf",
    "due_date",
    "finalized_at",
    "paid_at",
    "voided_at",
    "payment_failed",
]


def _save_from_stripe(invoice: Invoice, stripe_invoice) -> Invoice:
    changed = invoice_apply_stripe(invoice, stripe_invoice.to_dict())
    if changed:
        invoice.save(update_fields=changed)
        report_months.invoice_touched(invoice=invoice, changed=changed)
    return invoice


def _record_invoice(agency, *, client, contract, stripe_invoice, period=(None, None)) -> Invoice:
    """Our row for a Stripe invoice just created (or replayed): made once per Stripe id."""
    existing = Invoice.objects.filter(agency=agency, stripe_invoice_id=stripe_invoice.id).first()
    if existing is not None:
        return existing
    invoice = Invoice(
        agency=agency,
        client=client,
        contract=contract,
        stripe_invoice_id=stripe_invoice.id,
        collection_method=stripe_invoice.collection_method,
        currency=stripe_invoice.currency.upper(),
        period_start=period[0],
        period_end=period[1],
    )
    invoice_apply_stripe(invoice, stripe_invoice.to_dict())
    try:
        with transaction.atomic():
            invoice.save()
    except IntegrityError:
        # A racing worker recorded it first.
        return Invoice.objects.get(agency=agency, stripe_invoice_id=stripe_invoice.id)
    return invoice


def _invoice_params(customer_id: str, contract: ServiceContract, currency: str) -> dict:
    params = {
        "customer": customer_id,
        "collection_method": contract.collection_method,
        "currency": currency.lower(),
        # We finalize and collect ourselves, step by step; Stripe must not race us.
        "auto_advance": False,
    }
    if contract.collection_method == CollectionMethod.SEND_INVOICE:
        params["days_until_due"] = contract.days_until_due or 0
    # A client that pays no tax (exempt, reverse charge): the invoice says why.
    params |= invoice_tax_params(contract.client_id, contract.agency_id)
    return params


def _advance(
    agency, stripe_client, invoice: Invoice, on_it=None, *, customer=None
) -> Invoice | None:
    """Move the invoice on (`_advance_steps`); an invoice it leaves open (sent, or its card
    declined) is news for the client or the admins, told once this commits."""
    advanced = _advance_steps(agency, stripe_client, invoice, on_it, customer=customer)
    if advanced is not None:
        queue_invoice_news(advanced)
    return advanced


def _advance_steps(
    agency, stripe_client, invoice: Invoice, on_it=None, *, customer=None
) -> Invoice | None:
    """Settle a draft, then send it or charge the card on file, as its contract says: one
    request, as Stripe finalizes a draft it is asked to send or pay. A declined card (or no
    card at all) is recorded on the invoice, not raised. A draft left with nothing to bill
    (its charges written off meanwhile) is deleted instead: None. `customer` is the
    Stripe customer as just read, if the caller has it (else it is read when needed)."""
    key_id = invoice.stripe_invoice_id
    if invoice.status == InvoiceStatus.DRAFT:
        if on_it is None:
            on_it = _items_on(stripe_client, invoice)
        if not _settle(agency, stripe_client, invoice, on_it):
            try:
                stripe_client.v1.invoices.delete(key_id)
            except stripe.InvalidRequestError as error:
                if error.code != "resource_missing":
                    raise
            invoice.delete()
            return None
        if invoice.collection_method == CollectionMethod.CHARGE_AUTOMATICALLY:
            _send_instead_without_card(agency, stripe_client, invoice, customer)
    if invoice.status not in (InvoiceStatus.DRAFT, InvoiceStatus.OPEN):
        return invoice
    if invoice.collection_method == CollectionMethod.SEND_INVOICE:
        if invoice.sent_at is None or invoice.status == InvoiceStatus.DRAFT:
            try:
                sent = stripe_once(
                    agency=agency,
                    key=f"send-{key_id}",
                    send=lambda key: stripe_client.v1.invoices.send_invoice(
                        key_id, options={"idempotency_key": key}
                    ),
                )
            except stripe.InvalidRequestError as error:
                if error.code != "invoice_unexpected_status":
                    raise
                sent = stripe_client.v1.invoices.retrieve(key_id)  # paid or voided meanwhile
            changed = invoice_apply_stripe(invoice, sent.to_dict())
            if invoice.sent_at is None:
                invoice.sent_at = timezone.now()
                changed.append("sent_at")
            invoice.save(update_fields=changed)
        return invoice
    if invoice.payment_failed:
        return invoice  # Stripe's own retries (or a person) take it from here
    try:
        paid = stripe_once(
            agency=agency,
            key=f"pay-{key_id}",
            send=lambda key: stripe_client.v1.invoices.pay(
                key_id, options={"idempotency_key": key}
            ),
            find=lambda: _moved_on(stripe_client, key_id, lambda i: i.status == "paid"),
        )
    except stripe.CardError as error:
        # Finalized on the way, then declined: our copy learns its number and link too.
        _save_from_stripe(invoice, stripe_client.v1.invoices.retrieve(key_id))
        _payment_failed(invoice, error.user_message or "The card was declined.")
    except stripe.InvalidRequestError as error:
        if error.code == "invoice_already_paid":
            _save_from_stripe(invoice, stripe_client.v1.invoices.retrieve(key_id))
        elif error.code == "invoice_no_payment_method_types" or error.param == "payment_method":
            _save_from_stripe(invoice, stripe_client.v1.invoices.retrieve(key_id))
            _payment_failed(invoice, "The client has no card on file.")
        else:
            raise
    else:
        _save_from_stripe(invoice, paid)
    return invoice


def _send_instead_without_card(agency, stripe_client, invoice: Invoice, customer=None) -> None:
    """Decided before paying, not from a payment's error: a client with no card on file
    gets the draft sent by e-mail to pay by link (due in NO_CARD_DAYS_UNTIL_DUE days), and
    the invoice says so. `customer` as just read by the caller, or read here."""
    if customer is None:
        customer = stripe_client.v1.customers.retrieve(invoice.client.stripe_customer_id)
    settings = customer.invoice_settings
    if (settings and settings.default_payment_method) or customer.default_source:
        return
    key_id = invoice.stripe_invoice_id
    stripe_once(
        agency=agency,
        key=f"no-card-{key_id}",
        send=lambda key: stripe_client.v1.invoices.update(
            key_id,
            params={"collection_method": "send_invoice", "days_until_due": NO_CARD_DAYS_UNTIL_DUE},
            options={"idempotency_key": key},
        ),
        find=lambda: _moved_on(
            stripe_client, key_id, lambda i: i.collection_method == "send_invoice"
        ),
    )
    invoice.collection_method = CollectionMethod.SEND_INVOICE
    invoice.last_payment_error = "No card on file: sent by e-mail to pay by link instead."
    invoice.save(update_fields=["collection_method", "last_payment_error"])
    logger.info("invoice %s: no card on file, sent instead", invoice.pk)


def _moved_on(stripe_client, invoice_id: str, done: Callable) -> object | None:
    """The Stripe invoice, if it shows that a request which met a 500 was done after all."""
    stripe_invoice = stripe_client.v1.invoices.retrieve(invoice_id)
    return stripe_invoice if done(stripe_invoice) else None


def _payment_failed(invoice: Invoice, message: str) -> None:
    invoice.payment_failed = True
    invoice.last_payment_error = message[:255]
    invoice.save(update_fields=["payment_failed", "last_payment_error"])
    logger.info("invoice %s: payment failed: %s", invoice.pk, message)


# -- pushing a charge ---------------------------------------------------------------------


def _item_params(agency, charge: Charge, customer_id: str, known_rates=None) -> dict:
    metadata = {"charge_id": str(charge.pk)}
    if charge.task_id:
        metadata["task_id"] = str(charge.task_id)
    sent = to_stripe(charge.amount, charge.currency)
    return {
        "customer": customer_id,
        "amount": sent.amount,
        "currency": charge.currency.lower(),
        "description": f"{charge.description} ({sent.note})" if sent.note else charge.description,
        "metadata": metadata,
        # The rates the charge was made under (billing.tax), whatever kind of charge it is.
        **item_tax_params(charge, agency=agency, known=known_rates),
    }


def _item_key(charge: Charge, invoice: Invoice) -> str:
    # Per invoice: a charge put back after its invoice was voided goes on a new one.
    return f"ii-{charge.idempotency_key}-{invoice.stripe_invoice_id}"


def _items_on(stripe_client, invoice: Invoice) -> dict[int, str]:
    """The charges whose items a Stripe invoice carries (by the items' metadata), each with
    its item's id: what a retry finds already made."""
    items = stripe_client.v1.invoice_items.list(
        params={"invoice": invoice.stripe_invoice_id, "limit": 100}
    ).auto_paging_iter()
    found = {}
    for item in items:
        charge_id = (item.metadata.to_dict() if item.metadata else {}).get("charge_id", "")
        if charge_id.isdigit():
            found[int(charge_id)] = item.id
    return found


def _delete_item(stripe_client, item_id: str) -> None:
    """Take an item off Stripe's books (pending, or on a draft): once, however often asked."""
    try:
        stripe_client.v1.invoice_items.delete(item_id)
    except stripe.InvalidRequestError as error:
        if error.code != "resource_missing":
            raise


def _put_on_invoice(agency, stripe_client, charge: Charge, invoice: Invoice, customer_id, on_it):
    """The charge's one item on this draft invoice. `on_it` is what the invoice carries
    already (`_items_on`), so a retry finds the item it made instead of making another."""
    item_id = on_it.get(charge.pk)
    if item_id is None:
        if charge.stripe_invoice_item_id:
            # A pending item of an earlier release of billing, or the item of an invoice
            # since voided (deleting one there is refused, and harmless).
            with contextlib.suppress(stripe.InvalidRequestError):
                _delete_item(stripe_client, charge.stripe_invoice_item_id)
        params = _item_params(agency, charge, customer_id) | {"invoice": invoice.stripe_invoice_id}

        def made_already():
            item_id = _items_on(stripe_client, invoice).get(charge.pk)
            return stripe_client.v1.invoice_items.retrieve(item_id) if item_id else None

        item_id = stripe_once(
            agency=agency,
            key=_item_key(charge, invoice),
            send=lambda key: stripe_client.v1.invoice_items.create(
                params=params, options={"idempotency_key": key}
            ),
            find=made_already,
        ).id
        on_it[charge.pk] = item_id
    if charge.stripe_invoice_item_id != item_id:
        Charge.objects.filter(agency=agency, pk=charge.pk).update(stripe_invoice_item_id=item_id)
        charge.stripe_invoice_item_id = item_id


def _settle(agency, stripe_client, invoice: Invoice, on_it: dict[int, str]) -> list[int]:
    """Just before a draft is finalized: the charges it carries become invoiced, under
    their row locks, so a write-off from now on is refused; an item whose charge was
    written off (or held, or billed elsewhere) meanwhile comes off the draft. Returns the
    charges the invoice bills."""
    with transaction.atomic():
        locked = Charge.objects.select_for_update().filter(agency=agency, pk__in=list(on_it))
        billed = [
            charge.pk
            for charge in locked
            if charge.status == ChargeStatus.PENDING
            or (charge.status == ChargeStatus.INVOICED and charge.invoice_id == invoice.pk)
        ]
        Charge.objects.filter(agency=agency, pk__in=billed).update(
            invoice=invoice, status=ChargeStatus.INVOICED
        )
        report_months.charges_touched(agency_id=agency.pk, charges=locked)
        Charge.objects.filter(agency=agency, invoice=invoice).exclude(pk__in=billed).update(
            invoice=None
        )
    for charge_id, item_id in on_it.items():
        if charge_id not in billed:
            _delete_item(stripe_client, item_id)
    return billed


def _load(agency, charge_id: int) -> Charge:
    return Charge.objects.select_related("client", "contract_line__contract", "invoice").get(
        agency=agency, pk=charge_id
    )


# Written off (forgiven), or held at a budget cap until the client approves it.
NOT_BILLABLE = (ChargeStatus.WRITTEN_OFF, ChargeStatus.HELD, ChargeStatus.COVERED)


def pushed_at_once(contract: ServiceContract) -> bool:
    """Whether a task charge of this contract goes to Stripe as soon as it is made (on an
    invoice of its own); a weekly or monthly one waits for its period's close, so there is
    nothing to push before (top-ups are paid at once whatever the cadence: billing.top_ups)."""
    return contract.billing_cadence == BillingCadence.PER_TASK


def push_charge(*, agency, charge_id: int) -> Charge | None:
    """Send a per-task contract's charge to Stripe on an invoice of its own. A weekly or
    monthly contract's charge waits for its period's invoice, where it goes when the period
    closes: nothing of it is at Stripe before, so writing it off touches nothing there and
    no other period's invoice can pick it up. Returns None when there is nothing to do now:
    written off, held, waiting for its period, or Stripe not set up for the agency."""
    charge = _load(agency, charge_id)
    if charge.status in NOT_BILLABLE:
        if pushed_at_once(charge.contract_line.contract) and stripe_enabled_for(agency):
            _withdraw_unrecorded_invoice(agency, charge)
        return None
    if not stripe_enabled_for(agency):
        logger.warning("agency %s has no Stripe key: charge %s waits", agency.pk, charge.pk)
        return None
    if (
        not pushed_at_once(charge.contract_line.contract)
        # Bought hours are paid for at once, whatever the cadence (billing.top_ups).
        and charge.kind != ChargeKind.TOP_UP
    ):
        return None  # it waits for its period's invoice (close_billing_periods)
    _invoice_charge(agency, charge)
    return charge


def _charge_invoice_key(charge: Charge) -> str:
    key = f"inv-charge-{charge.pk}"
    if charge.times_rebilled:
        key += f"-again-{charge.times_rebilled}"
    return key


def _charge_invoice_metadata(agency, charge: Charge) -> dict:
    return {
        "agency_id": str(agency.pk),
        "charge_id": str(charge.pk),
        "billing_round": str(charge.times_rebilled),
    }


def invoice_charge_now(*, agency, charge: Charge) -> Invoice | None:
    """A per-task charge on an invoice of its own, in three requests: the draft (with the
    customer expanded, so whether a card is on file comes with it), the item on it, then
    send or pay, which finalizes the draft on the way (as Stripe does).

    The draft comes first, under a key of the charge, and excludes pending items; the
    item is then created on it under its own key. A retry at any point finds the same
    draft and the same item, so the charge reaches Stripe once and on one invoice; a
    write-off before the draft is finalized takes the item off again (`_settle`). The
    draft's key is noted before it is first sent (`note_intent`), so a draft Stripe made
    while its answer was lost is found and deleted if the charge is written off before a
    retry records it (`_withdraw_unrecorded_invoice`).
    """
    return _invoice_charge(agency, _load(agency, charge.pk))


def _invoice_charge(agency, charge: Charge) -> Invoice | None:
    """invoice_charge_now for a charge just loaded (_load)."""
    if charge.status in NOT_BILLABLE:
        return None
    contract = charge.contract_line.contract
    stripe_client = stripe_client_for(agency)
    customer_id = stripe_customer_for(
        agency=agency, client=charge.client, stripe_client=stripe_client
    )
    invoice = charge.invoice
    customer = None
    if invoice is None:
        params = _invoice_params(customer_id, contract, charge.currency)
        metadata = _charge_invoice_metadata(agency, charge)
        params |= {
            "pending_invoice_items_behavior": "exclude",
            "metadata": metadata,
            "expand": ["customer"],
        }
        key = _charge_invoice_key(charge)
        note_intent(agency, key)
        created = stripe_once(
            agency=agency,
            key=key,
            send=lambda key: stripe_client.v1.invoices.create(
                params=params, options={"idempotency_key": key}
            ),
            find=lambda: _find(stripe_client.v1.invoices, {"customer": customer_id}, metadata),
        )
        customer = _fresh_customer(created)
        invoice = _record_invoice(
            agency, client=charge.client, contract=contract, stripe_invoice=created
        )
        Charge.objects.filter(agency=agency, pk=charge.pk).update(invoice=invoice)
    on_it = None
    if invoice.status == InvoiceStatus.DRAFT:
        # A per-task draft carries this charge's item only, and _put_on_invoice's own key
        # replays an item an earlier attempt made, so nothing is listed first, unless an
        # item of ours is recorded already (it is then looked for, not made again).
        on_it = _items_on(stripe_client, invoice) if charge.stripe_invoice_item_id else {}
        _put_on_invoice(agency, stripe_client, charge, invoice, customer_id, on_it)
    return _advance(agency, stripe_client, invoice, on_it, customer=customer)


def _fresh_customer(created):
    """The customer expanded on an invoice just made by this request (not a replay, not
    found after a 500), or None: an older copy may not say what is on file now."""
    customer = getattr(created, "customer", None)
    if isinstance(customer, str) or customer is None:
        return None
    response = getattr(created, "last_response", None)
    headers = getattr(response, "headers", None) or {}
    if response is None or headers.get("Idempotent-Replayed") == "true":
        return None
    return customer


def _withdraw_unrecorded_invoice(agency, charge: Charge) -> None:
    """A per-task charge no longer billable (written off, held, covered) whose draft Stripe
    may have made while the answer was lost: nothing of ours names that draft, so it is
    looked for by its metadata and deleted (a draft only; anything issued is ours)."""
    if charge.invoice_id is not None or not sent_before(agency, _charge_invoice_key(charge)):
        return
    customer_id = charge.client.stripe_customer_id
    if not customer_id:
        return
    stripe_client = stripe_client_for(agency)
    found = _find(
        stripe_client.v1.invoices,
        {"customer": customer_id},
        _charge_invoice_metadata(agency, charge),
    )
    if found is None or found.status != "draft":
        return
    if Invoice.objects.filter(agency=agency, stripe_invoice_id=found.id).exists():
        return
    try:
        stripe_client.v1.invoices.delete(found.id)
    except stripe.InvalidRequestError as error:
        if error.code != "resource_missing":
            raise
    logger.info("charge %s: unrecorded draft %s deleted", charge.pk, found.id)


def charge_item_withdraw(*, agency, charge_id: int) -> bool:
    """After a write-off: take the charge's item off Stripe's books if it has one that no
    issued invoice carries (a pending item made by an earlier release of billing, or one on
    a draft). Safe to run twice. Returns whether there was an item to take off."""
    charge = Charge.objects.get(agency=agency, pk=charge_id)
    if charge.status != ChargeStatus.WRITTEN_OFF or not charge.stripe_invoice_item_id:
        return False
    stripe_client = stripe_client_for(agency)
    try:
        item = stripe_client.v1.invoice_items.retrieve(charge.stripe_invoice_item_id)
    except stripe.InvalidRequestError as error:
        if error.code == "resource_missing":
            return False
        raise
    if item.invoice:
        invoice = stripe_client.v1.invoices.retrieve(item.invoice)
        if invoice.status != "draft":
            logger.error("charge %s written off but on Stripe invoice %s", charge.pk, invoice.id)
            return False
    _delete_item(stripe_client, item.id)
    return True


# -- closing weekly and monthly periods ---------------------------------------------------


def billing_period(cadence: str, moment: dt.datetime, zone: str) -> tuple[dt.date, dt.date]:
    """The period (start, end exclusive; dates in the client's zone) a moment falls in:
    Monday to Monday for weekly billing, the calendar month for monthly."""
    if cadence == BillingCadence.WEEKLY:
        start = week_start(moment, zone)
        return start, start + dt.timedelta(days=7)
    start = month_start(moment, zone)
    return start, next_month(start)


def close_client_period(
    *,
    agency,
    client: Client,
    period: tuple[dt.date, dt.date],
    charge_ids: list[int],
    stripe_client=None,
) -> Invoice | None:
    """One invoice for a client's charges of a period that has ended: a draft of its own
    (no pending items of the customer are swept onto it), one item per charge of the
    period on it, the charges marked invoiced under their locks, then collected."""
    stripe_client = stripe_client or stripe_client_for(agency)
    charges = list(
        Charge.objects.filter(
            agency=agency, pk__in=charge_ids, status=ChargeStatus.PENDING, invoice=None
        )
        .select_related("client", "contract_line__contract")
        .order_by("created_at", "pk")
    )
    if not charges:
        return None  # written off, or put on an invoice, since the sweep looked
    customer_id = stripe_customer_for(agency=agency, client=client, stripe_client=stripe_client)
    invoice = Invoice.objects.filter(
        agency=agency, client=client, period_start=period[0], period_end=period[1]
    ).first()
    if invoice is None:
        # The newest contract decides how the invoice is collected.
        contract = max(
            (c.contract_line.contract for c in charges), key=lambda c: (c.starts_on, c.pk)
        )
        metadata = {
            "agency_id": str(agency.pk),
            "client_id": str(client.pk),
            "period_start": period[0].isoformat(),
            "period_end": period[1].isoformat(),
        }
        params = _invoice_params(customer_id, contract, charges[0].currency)
        params |= {"pending_invoice_items_behavior": "exclude", "metadata": metadata}
        created = stripe_once(
            agency=agency,
            key=f"inv-{client.pk}-{period[0]}",
            send=lambda key: stripe_client.v1.invoices.create(
                params=params, options={"idempotency_key": key}
            ),
            find=lambda: _find(stripe_client.v1.invoices, {"customer": customer_id}, metadata),
        )
        invoice = _record_invoice(
            agency, client=client, contract=contract, stripe_invoice=created, period=period
        )
    if invoice.status != InvoiceStatus.DRAFT:
        return None  # issued already: the sweep moves these charges to the next period
    on_it = _lines_on_invoice(agency, stripe_client, invoice, charges, customer_id)
    return _advance(agency, stripe_client, invoice, on_it)


# Lines sent in one add_lines request.
LINES_PER_REQUEST = 50


def _line_params(agency, charge: Charge, customer_id: str, known_rates) -> dict:
    """An invoice line of the charge: the fields of its invoice item (_item_params, the one
    place they are made), less those the invoice itself decides."""
    params = _item_params(agency, charge, customer_id, known_rates)
    for name in ("customer", "currency", "invoice"):
        params.pop(name, None)
    return params


def _lines_on_invoice(agency, stripe_client, invoice: Invoice, charges, customer_id) -> dict:
    """Every charge of a period on its draft, in bulk (`add_lines`, LINES_PER_REQUEST a
    request), and what the draft then carries ({charge id: item id}, one listing).

    Exactly once: the draft's row is locked while lines go on, so two closers of one period
    take turns, and the second first lists what the draft carries. A batch's key names its
    charges and the invoice; after a 500 the draft is listed first (add_lines is all or
    nothing) and only a batch not there is sent again. Charges in another currency than
    the draft go one by one, where Stripe refuses them as before."""
    with transaction.atomic():
        Invoice.objects.select_for_update().filter(agency=agency, pk=invoice.pk).first()
        on_it = _items_on(stripe_client, invoice)
        currency = invoice.currency.lower()
        missing = [c for c in charges if c.pk not in on_it and c.currency.lower() == currency]
        for charge in charges:
            if charge.pk not in on_it and charge.currency.lower() != currency:
                _put_on_invoice(agency, stripe_client, charge, invoice, customer_id, on_it)
        for start in range(0, len(missing), LINES_PER_REQUEST):
            batch = missing[start : start + LINES_PER_REQUEST]
            _add_lines(agency, stripe_client, invoice, batch, customer_id)
        if missing:
            on_it = _items_on(stripe_client, invoice)
        stale, changed = [], []
        for charge in charges:
            item_id = on_it.get(charge.pk)
            if item_id and charge.stripe_invoice_item_id != item_id:
                if charge.stripe_invoice_item_id:
                    stale.append(charge.stripe_invoice_item_id)
                charge.stripe_invoice_item_id = item_id
                changed.append(charge)
        Charge.objects.bulk_update(changed, ["stripe_invoice_item_id"], batch_size=500)
    for item_id in stale:
        # A pending item of an earlier release of billing, or the item of an invoice since
        # voided (deleting one there is refused, and harmless).
        with contextlib.suppress(stripe.InvalidRequestError):
            _delete_item(stripe_client, item_id)
    return on_it


def _add_lines(agency, stripe_client, invoice: Invoice, batch: list[Charge], customer_id):
    key_id = invoice.stripe_invoice_id
    names = ",".join(sorted(charge.idempotency_key for charge in batch))
    key = f"lines-{key_id}-{hashlib.sha256(names.encode()).hexdigest()[:32]}"
    known_rates = rates_of_charges(agency_id=agency.pk, charges=batch)
    params = {"lines": [_line_params(agency, charge, customer_id, known_rates) for charge in batch]}

    def added_already():
        on_it = _items_on(stripe_client, invoice)
        return on_it if any(charge.pk in on_it for charge in batch) else None

    stripe_once(
        agency=agency,
        key=key,
        send=lambda key: stripe_client.v1.invoices.add_lines(
            key_id, params=params, options={"idempotency_key": key}
        ),
        find=added_already,
    )


def close_billing_periods(*, now: dt.datetime) -> int:
    """Beat's sweep: an invoice for every client period that has ended with unbilled
    charges, and whatever per-task billing a lost job left half-way. Returns how many
    invoices it made or moved on.

    It spans agencies on purpose: one query with scopes off (on the index of unbilled
    charges by age) finds the work, then each agency's is done inside its own scope.
    A failure is logged and the rest still runs; if Stripe was unreachable the first such
    error is raised at the end, so the job retries (every step is idempotent).
    """
    from core.tenancy import scopes_disabled

    with scopes_disabled():
        charges = list(
            Charge.objects.filter(status=ChargeStatus.PENDING, created_at__lt=now)
            .select_related("agency", "client", "contract_line__contract", "task")
            .order_by("created_at", "pk")
        )
        # Periods invoiced already: a charge that arrives after its period's invoice was
        # issued goes on the next invoice.
        issued = _issued_periods({charge.client_id for charge in charges})
        stuck = list(
            Invoice.objects.filter(status=InvoiceStatus.DRAFT, created_at__lt=now - STRAGGLER_AGE)
            .exclude(stripe_invoice_id="")
            .select_related("agency")
        )
    periods = defaultdict(list)  # (agency id, client id, period) -> charge ids
    stragglers = []
    for charge in charges:
        cadence = charge.contract_line.contract.billing_cadence
        if cadence == BillingCadence.PER_TASK:
            if charge.billable_since < now - STRAGGLER_AGE:
                stragglers.append(charge)
        elif charge.invoice_id is None:
            period = _invoice_period(charge, issued)
            if local_midnight(period[1], charge.client.time_zone) <= now:
                periods[(charge.agency_id, charge.client_id, period)].append(charge)
    sweep = _Sweep()
    for (_, _, period), group in sorted(periods.items(), key=lambda entry: entry[0]):
        sweep.run(
            group[0].agency,
            close_client_period,
            client=group[0].client,
            period=period,
            charge_ids=[charge.pk for charge in group],
        )
    for charge in stragglers:
        sweep.run(charge.agency, push_charge, charge_id=charge.pk)
    for invoice in stuck:
        sweep.run(invoice.agency, _advance_stuck, invoice=invoice)
    if sweep.retry is not None:
        raise sweep.retry
    return sweep.done


def _invoice_period(charge: Charge, issued: set) -> tuple[dt.date, dt.date]:
    """The period whose invoice takes a weekly or monthly charge: the one its work was
    completed (or approved) in, or the first after it whose invoice has not gone out yet
    (`issued`: (client id, period start) of invoices issued already)."""
    cadence = charge.contract_line.contract.billing_cadence
    zone = charge.client.time_zone
    period = billing_period(cadence, charge.billable_since, zone)
    while (charge.client_id, period[0]) in issued:
        period = billing_period(cadence, local_midnight(period[1], zone), zone)
    return period


def _issued_periods(client_ids) -> set:
    return set(
        Invoice.objects.filter(client_id__in=client_ids, period_start__isnull=False)
        .exclude(status=InvoiceStatus.DRAFT)
        .values_list("client_id", "period_start")
    )


def invoice_client_now(*, agency, actor, client: Client, now=None) -> list[Invoice]:
    """Close a weekly or monthly client's open period early: one invoice now for its
    unbilled charges so far (and one for any ended period beat has not closed yet), made
    exactly as beat's close makes it, so a double click or a racing sweep bills once.
    The period's invoice has then gone out, so its later charges go on the next one."""
    now = now or timezone.now()
    unbilled = (
        Charge.objects.filter(
            agency=agency, client=client, status=ChargeStatus.PENDING, invoice=None
        )
        .exclude(contract_line__contract__billing_cadence=BillingCadence.PER_TASK)
        .select_related("client", "contract_line__contract", "task")
        .order_by("created_at", "pk")
    )
    charges = [charge for charge in unbilled if charge.billable_since <= now]
    if not charges:
        raise ApplicationError(
            f"{client.name} has no unbilled weekly or monthly charges to invoice now.",
            code="nothing_to_invoice",
        )
    issued = _issued_periods([client.pk])
    periods = defaultdict(list)
    for charge in charges:
        periods[_invoice_period(charge, issued)].append(charge.pk)
    stripe_client = stripe_client_for(agency)
    made = []
    for period, charge_ids in sorted(periods.items()):
        try:
            invoice = close_client_period(
                agency=agency,
                client=client,
                period=period,
                charge_ids=charge_ids,
                stripe_client=stripe_client,
            )
        except stripe.StripeError as error:
            raise _stripe_refused(f"{client.name}'s invoice", "make", error) from None
        if invoice is not None:
            made.append(invoice)
            audit_record(
                agency=agency,
                actor=actor,
                action="invoice.closed_early",
                target=invoice,
                period_start=period[0].isoformat(),
                period_end=period[1].isoformat(),
                charges=len(charge_ids),
            )
    return made


def _advance_stuck(*, agency, invoice: Invoice) -> Invoice:
    return _advance(agency, stripe_client_for(agency), invoice)


class _Sweep:
    """Runs each piece of a sweep in its agency's scope, counting successes and keeping
    going past failures."""

    def __init__(self):
        self.done = 0
        self.retry: Exception | None = None

    def run(self, agency, service, **kwargs) -> None:
        from core.tenancy import agency_scope

        with agency_scope(agency):
            if not stripe_enabled_for(agency):
                return
            try:
                if service(agency=agency, **kwargs) is not None:
                    self.done += 1
            except RETRYABLE as error:
                logger.warning("agency %s: Stripe unavailable (%s); retried", agency.pk, error)
                self.retry = self.retry or error
            except (stripe.StripeError, ApplicationError) as error:
                logger.error(
                    "agency %s: %s(%s) not done: %s", agency.pk, service.__name__, kwargs, error
                )


# -- a person acting on an invoice ---------------------------------------------------------

VOIDABLE = (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE)


def _stripe_refused(invoice, action: str, error: stripe.StripeError) -> ApplicationError:
    """What a person is told when Stripe says no (or cannot be reached): never a 500.
    `invoice` is ours, or words for one not made yet."""
    if not isinstance(invoice, str):
        invoice = f"invoice {invoice}"
    if isinstance(error, RETRYABLE):
        return ApplicationError(
            f"Stripe could not be reached to {action} {invoice}. Try again in a minute.",
            code="stripe_unreachable",
            extra={"error": type(error).__name__},
        )
    return ApplicationError(
        f"Stripe refused to {action} {invoice}: {error.user_message or error}",
        code="stripe_refused",
        extra={"error": type(error).__name__, "stripe_code": getattr(error, "code", None)},
    )


def _in_stripe(invoice: Invoice) -> None:
    if not invoice.stripe_invoice_id:
        raise ApplicationError(
            f"Invoice {invoice} was never created in Stripe.", code="invoice_not_in_stripe"
        )


def invoice_void(
    *, agency, actor, invoice: Invoice, reason: str, charges: str = VoidedCharges.REBILL
) -> Invoice:
    """Void an open (or uncollectible) invoice in Stripe, with the reason (audited), and
    settle its charges as the admin chooses: back to unbilled, for the next invoice (a
    per-task charge gets an invoice of its own again at once), or written off with the
    reason.

    The idempotency key is the invoice's own, so a double click or a retried request
    voids once; our copy then moves forward only, as it does for a webhook. The charges
    move in the same transaction as our copy, each once: only those still invoiced on it.
    """
    if charges not in VoidedCharges.values:
        raise ApplicationError(
            "Choose whether its charges are billed again or written off.",
            code="invoice_void_charges_invalid",
            extra={"field": "charges"},
        )
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(
            "Say why this invoice is voided.",
            code="invoice_void_reason_required",
            extra={"field": "reason"},
        )
    invoice = Invoice.objects.get(agency=agency, pk=invoice.pk)
    if invoice.status not in VOIDABLE:
        raise ApplicationError(
            f"Only open or uncollectible invoices can be voided; this one is "
            f"{invoice.get_status_display().lower()}.",
            code="invoice_not_voidable",
            extra={"status": invoice.status},
        )
    _in_stripe(invoice)
    stripe_client = stripe_client_for(agency)
    try:
        key_id = invoice.stripe_invoice_id
        voided = stripe_once(
            agency=agency,
            key=f"void-{invoice.pk}",
            send=lambda key: stripe_client.v1.invoices.void_invoice(
                key_id, options={"idempotency_key": key}
            ),
            find=lambda: _moved_on(stripe_client, key_id, lambda i: i.status == "void"),
        )
    except stripe.InvalidRequestError as error:
        if error.code == "invoice_unexpected_status":
            # Paid or voided in Stripe since our copy last heard: catch up, then say so.
            with contextlib.suppress(stripe.StripeError):
                _save_from_stripe(
                    invoice, stripe_client.v1.invoices.retrieve(invoice.stripe_invoice_id)
                )
        raise _stripe_refused(invoice, "void", error) from None
    except stripe.StripeError as error:
        raise _stripe_refused(invoice, "void", error) from None
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(agency=agency, pk=invoice.pk)
        changed = invoice_apply_stripe(invoice, voided.to_dict())
        invoice.voided_at = invoice.voided_at or timezone.now()
        invoice.void_reason = reason
        invoice.save(update_fields=sorted({*changed, "voided_at", "void_reason"}))
        report_months.invoice_touched(invoice=invoice)
        audit_record(
            agency=agency,
            actor=actor,
            action="invoice.voided",
            target=invoice,
            reason=reason,
            charges=charges,
            stripe_invoice_id=invoice.stripe_invoice_id,
            amount_due=invoice.amount_due,
            currency=invoice.currency,
        )
        rebilled = _settle_voided_charges(agency, actor, invoice, charges, reason)
    for charge_id in rebilled:
        transaction.on_commit(
            lambda charge_id=charge_id: queue_job(
                "billing.jobs.push_charge", agency_id=agency.pk, charge_id=charge_id
            )
        )
    return invoice


def _settle_voided_charges(agency, actor, invoice: Invoice, choice: str, reason: str) -> list:
    """Move a voided invoice's charges (under their locks) as `choice` says; the ids of
    those to bill again."""
    moved = list(
        Charge.objects.select_for_update().filter(
            agency=agency, invoice=invoice, status=ChargeStatus.INVOICED
        )
    )
    now = timezone.now()
    for charge in moved:
        charge.invoice = None
        if choice == VoidedCharges.WRITE_OFF:
            charge.status = ChargeStatus.WRITTEN_OFF
            charge.written_off_at, charge.written_off_by = now, actor
            charge.written_off_reason = f"Invoice {invoice} voided: {reason}"[:500]
            action = "charge.written_off"
        else:
            charge.status = ChargeStatus.PENDING
            charge.times_rebilled += 1
            action = "charge.rebilled"
        charge.save()
        audit_record(
            agency=agency,
            actor=actor,
            action=action,
            target=charge,
            voided_invoice=invoice.pk,
            amount=charge.amount,
            currency=charge.currency,
        )
    return [charge.pk for charge in moved if choice == VoidedCharges.REBILL]


def invoice_resend(*, agency, actor, invoice: Invoice) -> Invoice:
    """Send an open invoice (one the client pays by link) to the client again (audited).

    A resend is a deliberate repeat, so the key cannot be the invoice's alone (Stripe would
    answer every later resend with the first one's result and send nothing). It carries
    the minute instead: a double click or a retried request within the minute sends one
    e-mail, a resend asked for later sends another.
    """
    invoice = Invoice.objects.get(agency=agency, pk=invoice.pk)
    if invoice.collection_method != CollectionMethod.SEND_INVOICE:
        raise ApplicationError(
            "This invoice is charged to the card on file; there is nothing to send.",
            code="invoice_not_sendable",
            extra={"collection_method": invoice.collection_method},
        )
    if invoice.status != InvoiceStatus.OPEN:
        raise ApplicationError(
            f"Only open invoices can be sent again; this one is "
            f"{invoice.get_status_display().lower()}.",
            code="invoice_not_open",
            extra={"status": invoice.status},
        )
    _in_stripe(invoice)
    now = timezone.now()
    try:
        stripe_client = stripe_client_for(agency)
        stripe_once(
            agency=agency,
            key=f"resend-{invoice.pk}-{now:%Y%m%d%H%M}",
            send=lambda key: stripe_client.v1.invoices.send_invoice(
                invoice.stripe_invoice_id, options={"idempotency_key": key}
            ),
        )
    except stripe.StripeError as error:
        raise _stripe_refused(invoice, "send", error) from None
    with transaction.atomic():
        if invoice.sent_at is None:
            invoice.sent_at = now
            invoice.save(update_fields=["sent_at"])
        audit_record(
            agency=agency,
            actor=actor,
            action="invoice.resent",
            target=invoice,
            stripe_invoice_id=invoice.stripe_invoice_id,
        )
    return invoice
