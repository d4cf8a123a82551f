"""Reminders about money and contracts, swept by beat across agencies.

Each rule reads one bounded, indexed window of what has come due (never every invoice,
charge or contract), then what was already said about those objects, and tells the rest:
- to the client's people: an invoice issued, coming due (within INVOICE_DUE_SOON), overdue;
  retainer hours running low (under RETAINER_LOW_MINUTES left) and used up; a charge held
  past the budget cap for their approval; a contract ending within CONTRACT_ENDING_DAYS;
- to the agency's admins: a payment that failed, and the contract ending too.
An invoice issued, a failed payment, a held charge and a retainer bank running low are told
when they happen (the functions at the bottom, queued on commit of the change); their sweeps
remain to catch up on any whose job was lost, and never tell anything twice.
"""

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from django.db import transaction
from django.urls import reverse

from billing.late_fees import late_payment_notices, notice_sentences
from billing.models import Charge, ChargeKind, ChargeStatus, Invoice, InvoiceStatus
from clients.permissions import ClientRight, people_who_may
from contracts.models import ContractLine, ContractStatus, ServiceContract
from core.jobs import queue_job
from core.money import format_money
from core.tenancy import in_agencies, scopes_disabled
from notifications.models import NotificationKind
from notifications.selectors import already_said, client_recipients, staff_recipients
from notifications.services import NotificationBatch

K = NotificationKind
logger = logging.getLogger(__name__)

INVOICE_DUE_SOON = dt.timedelta(days=3)
# The field notes' "a warning when about 2 hours are left".
RETAINER_LOW_MINUTES = 120
CONTRACT_ENDING_DAYS = 14
# How far back a sweep looks for what happened (an invoice issued, a due date passed, a
# charge made), so beat being down for a while is caught up and older history never read.
LOOKBACK = dt.timedelta(days=3)


def sweep_billing_reminders(*, now: dt.datetime) -> int:
    """Beat: every billing reminder whose moment has come. Returns how many were made."""
    return (
        _invoices(now)
        + _payment_failures(now)
        + _retainer_banks(now)
        + _held_charges(now)
        + _contracts_ending(now)
    )


def _tell_all(batch, people, said, *, kind, target, occasion, title, body, link, now) -> None:
    """Into the agency's batch (made and e-mailed together when it is flushed), for each
    person not told already; `body` may be a callable of the recipient, for times in their
    own zone."""
    for person in people:
        if (person.user.pk, kind, target.pk, occasion) in said:
            continue
        batch.add(
            recipient=person,
            kind=kind,
            target=target,
            occasion=occasion,
            title=title,
            body=body(person) if callable(body) else body,
            link=link,
        )


def _money(amount: int, currency: str) -> str:
    return format_money(amount, currency)


# -- invoices -------------------------------------------------------------------------------


def _open_invoices(**window) -> list[Invoice]:
    with scopes_disabled():
        return list(
            Invoice.objects.filter(status=InvoiceStatus.OPEN, **window)
            .select_related("agency", "client")
            .order_by("pk")
        )


def _invoice_words(agency, invoice: Invoice, kind: str, notices: list[dict] = ()) -> dict:
    """The title, body (of the recipient, for their clock) and link of an invoice notice;
    `notices` are the late fee or pause still to come if it stays unpaid."""
    amount = _money(invoice.amount_due - invoice.amount_paid, invoice.currency)
    name = invoice.number or "Your invoice"
    if kind == K.INVOICE_ISSUED:
        title = (
            f"New invoice {invoice.number}: {amount}"
            if invoice.number
            else f"New invoice: {amount}"
        )

        def body(person):
            due = f", due {person.when(invoice.due_date)}" if invoice.due_date else ""
            return f"An invoice for {amount} is issued{due}. Pay it online from the link."
    elif kind == K.INVOICE_DUE_SOON:
        title = f"{name} is due soon: {amount}"

        def body(person):
            return f"{amount} is due {person.when(invoice.due_date)}." + _then(notices, person)
    else:
        title = f"{name} is overdue: {amount}"

        def body(person):
            return (
                f"{amount} was due {person.when(invoice.due_date)}. Please pay it "
                "from the link, or tell us if something is wrong with it."
            ) + _then(notices, person)

    link = reverse("our_invoice_detail", args=[agency.slug, invoice.pk])
    return {"title": title, "body": body, "link": link}


def _then(notices: list[dict], person) -> str:
    return f" {notice_sentences(notices, person.when)}" if notices else ""


def _invoices(now) -> int:
    issued = _open_invoices(finalized_at__gt=now - LOOKBACK, finalized_at__lte=now)
    due_soon = _open_invoices(due_date__gt=now, due_date__lte=now + INVOICE_DUE_SOON)
    overdue = _open_invoices(due_date__gt=now - LOOKBACK, due_date__lte=now)
    rules = [(invoice, K.INVOICE_ISSUED, "issued", invoice.finalized_at) for invoice in issued] + [
        (invoice, kind, invoice.due_date.isoformat(), invoice.due_date)
        for kind, rows in ((K.INVOICE_DUE_SOON, due_soon), (K.INVOICE_OVERDUE, overdue))
        for invoice in rows
    ]
    made = 0
    for agency, items in in_agencies(rules, lambda rule: rule[0].agency):
        batch = NotificationBatch(agency=agency, now=now)
        said = already_said(
            agency=agency, model=Invoice, ids={i.pk for i, *_ in items}, kinds=[r[1] for r in items]
        )
        people = people_who_may(
            agency=agency,
            people=client_recipients(agency=agency, client_ids={i.client_id for i, *_ in items}),
            what=ClientRight.INVOICES,
        )
        # Read once for the agency's invoices, so the sweep's queries do not grow with them.
        notices = late_payment_notices(agency=agency, invoices=[i for i, *_ in items], now=now)
        for invoice, kind, occasion, _ in items:
            _tell_all(
                batch,
                people.get(invoice.client_id, []),
                said,
                kind=kind,
                target=invoice,
                occasion=occasion,
                now=now,
                **_invoice_words(agency, invoice, kind, notices.get(invoice.pk, [])),
            )
        made += batch.flush()
    return made


def _payment_failed_words(agency, invoice: Invoice) -> dict:
    amount = _money(invoice.amount_due - invoice.amount_paid, invoice.currency)
    return {
        "title": f"Payment failed: {invoice.client.name}, {amount}",
        "body": f"{invoice.client.name}'s payment of {amount} for invoice "
        f"{invoice.number or invoice.pk} failed: "
        f"{invoice.last_payment_error or 'no reason given'}.",
        "link": reverse("invoice_detail", args=[agency.slug, invoice.pk]),
    }


def _payment_failures(now) -> int:
    """Open invoices whose payment failed (a partial index holds only those), to admins."""
    failed = _open_invoices(payment_failed=True)
    made = 0
    for agency, rows in in_agencies(failed, lambda i: i.agency):
        batch = NotificationBatch(agency=agency, now=now)
        said = already_said(
            agency=agency, model=Invoice, ids={i.pk for i in rows}, kinds=[K.PAYMENT_FAILED]
        )
        staff = staff_recipients(agency=agency)
        for invoice in rows:
            _tell_all(
                batch,
                staff,
                said,
                kind=K.PAYMENT_FAILED,
                # Once per invoice: Stripe's own retries failing again are the same news.
                target=invoice,
                occasion="failed",
                now=now,
                **_payment_failed_words(agency, invoice),
            )
        made += batch.flush()
    return made


# -- retainer hours and held charges --------------------------------------------------------


def _recent_charges(now, **rule) -> list[Charge]:
    with scopes_disabled():
        return list(
            Charge.objects.filter(created_at__gt=now - LOOKBACK, created_at__lte=now, **rule)
            .select_related("agency", "client", "contract_line__service", "task")
            .order_by("created_at", "pk")
        )


def _retainer_notice(agency, charge: Charge) -> dict | None:
    """What a retainer task's charge says of its month's bank: low, used up, or nothing."""
    before = charge.breakdown.get("bank_left_before")
    if before is None or charge.period_start is None:
        return None
    left = max(before - charge.minutes_from_bank, 0)
    month = f"{charge.period_start:%B %Y}"
    service = charge.contract_line.service.name
    if left == 0 or charge.minutes_billed > 0:
        kind = K.RETAINER_EXHAUSTED
        title = f"Retainer hours used up: {service}, {month}"
        body = (
            f"This month's hours for {service} are used up. Further work this month "
            "is billed at the overage rate of your contract."
        )
    elif left < RETAINER_LOW_MINUTES:
        kind = K.RETAINER_LOW
        title = f"Retainer hours running low: {service}, {month}"
        body = f"{_hours(left)} of this month's {service} hours are left."
    else:
        return None
    return {
        "kind": kind,
        "occasion": charge.period_start.isoformat(),
        "title": title,
        "body": body,
        "link": reverse("our_contracts", args=[agency.slug]),
    }


def _retainer_banks(now) -> int:
    """A retainer task's charge tells what its month's bank has left once it drew: under
    RETAINER_LOW_MINUTES is low, nothing (or overage) is used up. Once per line and month."""
    charges = _recent_charges(now, kind=ChargeKind.TASK, period_start__isnull=False)
    made = 0
    for agency, rows in in_agencies(charges, lambda c: c.agency):
        batch = NotificationBatch(agency=agency, now=now)
        lines = {c.contract_line_id for c in rows}
        said = already_said(
            agency=agency,
            model=ContractLine,
            ids=lines,
            kinds=[K.RETAINER_LOW, K.RETAINER_EXHAUSTED],
        )
        people = client_recipients(agency=agency, client_ids={c.client_id for c in rows})
        for charge in rows:
            notice = _retainer_notice(agency, charge)
            if notice is None:
                continue
            _tell_all(
                batch,
                people.get(charge.client_id, []),
                said,
                target=charge.contract_line,
                now=now,
                **notice,
            )
        made += batch.flush()
    return made


def _hours(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} minutes"
    return f"{hours} h {rest:02d} min" if rest else f"{hours} h"


def _held_words(agency, charge: Charge) -> dict:
    amount = _money(charge.amount, charge.currency)
    return {
        "title": f"Approve going over your budget: {charge.description}, {amount}",
        "body": f"{charge.description} ({amount}, {charge.contract_line.service.name}) "
        f"waits for you: {charge.held_because}. It is billed only once you approve it.",
        "link": reverse("our_invoices", args=[agency.slug]),
    }


def _held_charges(now) -> int:
    """A charge held past the task's budget or the line's monthly budget cap awaits the
    client's approval."""
    charges = _recent_charges(now, status=ChargeStatus.HELD)
    made = 0
    for agency, rows in in_agencies(charges, lambda c: c.agency):
        batch = NotificationBatch(agency=agency, now=now)
        said = already_said(
            agency=agency, model=Charge, ids={c.pk for c in rows}, kinds=[K.CHARGE_HELD]
        )
        people = people_who_may(
            agency=agency,
            people=client_recipients(agency=agency, client_ids={c.client_id for c in rows}),
            what=ClientRight.APPROVE,
        )
        for charge in rows:
            _tell_all(
                batch,
                people.get(charge.client_id, []),
                said,
                kind=K.CHARGE_HELD,
                target=charge,
                occasion="held",
                now=now,
                **_held_words(agency, charge),
            )
        made += batch.flush()
    return made


# -- contracts ------------------------------------------------------------------------------


def _contracts_ending(now) -> int:
    """Active contracts whose last day is within CONTRACT_ENDING_DAYS of today in the
    client's zone, to the client's people and the admins, once per end date."""
    today = now.astimezone(dt.UTC).date()
    with scopes_disabled():
        contracts = list(
            ServiceContract.objects.filter(
                status=ContractStatus.ACTIVE,
                # a day of slack each side for zones ahead of and behind UTC
                ends_on__gte=today - dt.timedelta(days=1),
                ends_on__lte=today + dt.timedelta(days=CONTRACT_ENDING_DAYS + 1),
            )
            .select_related("agency", "client")
            .order_by("ends_on", "pk")
        )
    made = 0
    for agency, rows in in_agencies(contracts, lambda c: c.agency):
        batch = NotificationBatch(agency=agency, now=now)
        said = already_said(
            agency=agency,
            model=ServiceContract,
            ids={c.pk for c in rows},
            kinds=[K.CONTRACT_ENDING],
        )
        people = client_recipients(agency=agency, client_ids={c.client_id for c in rows})
        staff = staff_recipients(agency=agency)
        for contract in rows:
            local_today = now.astimezone(ZoneInfo(contract.client.time_zone)).date()
            days_left = (contract.ends_on - local_today).days
            if not 0 <= days_left <= CONTRACT_ENDING_DAYS:
                continue
            common = {
                "kind": K.CONTRACT_ENDING,
                "target": contract,
                "occasion": contract.ends_on.isoformat(),
                "now": now,
            }

            def body(person, contract=contract, days_left=days_left):
                when = "today" if days_left == 0 else f"in {days_left} days"
                ask = (
                    "Talk to us about renewing it."
                    if person.membership.role == "client"
                    else "Renew it, or plan the handover of its work."
                )
                return (
                    f"{contract.name} with {contract.client.name} ends "
                    f"{person.day(contract.ends_on)} ({when}). {ask}"
                )

            _tell_all(
                batch,
                people.get(contract.client_id, []),
                said,
                title=f"Your contract ends {contract.ends_on:%d %b %Y}: {contract.name}",
                body=body,
                link=reverse("our_contracts", args=[agency.slug]),
                **common,
            )
            _tell_all(
                batch,
                staff,
                said,
                title=f"Contract ending {contract.ends_on:%d %b %Y}: {contract.client.name}",
                body=body,
                link=reverse("contract_detail", args=[agency.slug, contract.pk]),
                **common,
            )
        made += batch.flush()
    return made


# -- told as they happen ----------------------------------------------------------------------
# An invoice issued, a payment failed, a charge held or a retainer bank running low are news
# the moment they happen: the change queues one of these on commit (billing.jobs). Each makes
# the very notification its sweep above would (same kind, object and occasion), so whichever
# comes second finds it made and sends nothing; the sweeps stay as the catch-up for a job
# that was lost.


def invoice_news_tell(*, agency, invoice_id: int, now: dt.datetime) -> int:
    """An open invoice's news: issued (to the client's people), its payment failed (to the
    admins). Nothing for an invoice paid at once or voided before this ran."""
    invoice = (
        Invoice.objects.filter(agency=agency, pk=invoice_id, status=InvoiceStatus.OPEN)
        .select_related("client")
        .first()
    )
    if invoice is None:
        return 0
    made = 0
    batch = NotificationBatch(agency=agency, now=now)
    if invoice.finalized_at is not None:
        people = people_who_may(
            agency=agency,
            people=client_recipients(agency=agency, client_ids={invoice.client_id}),
            what=ClientRight.INVOICES,
        )
        _tell_all(
            batch,
            people.get(invoice.client_id, []),
            set(),
            kind=K.INVOICE_ISSUED,
            target=invoice,
            occasion="issued",
            now=now,
            **_invoice_words(agency, invoice, K.INVOICE_ISSUED),
        )
    if invoice.payment_failed:
        _tell_all(
            batch,
            staff_recipients(agency=agency),
            set(),
            kind=K.PAYMENT_FAILED,
            target=invoice,
            occasion="failed",
            now=now,
            **_payment_failed_words(agency, invoice),
        )
    return made + batch.flush()


def charge_news_tell(*, agency, charge_id: int, now: dt.datetime) -> int:
    """A new task charge's news for the client's people: held past their budget for their
    approval, or what it left of a retainer's month."""
    charge = (
        Charge.objects.filter(agency=agency, pk=charge_id, kind=ChargeKind.TASK)
        .select_related("client", "contract_line__service", "task")
        .first()
    )
    if charge is None:
        return 0
    everyone = client_recipients(agency=agency, client_ids={charge.client_id})
    people = everyone.get(charge.client_id, [])
    made = 0
    batch = NotificationBatch(agency=agency, now=now)
    if charge.status == ChargeStatus.HELD:
        # Asked of those who may approve work; the bank's news is everyone's.
        _tell_all(
            batch,
            people_who_may(agency=agency, people=everyone, what=ClientRight.APPROVE).get(
                charge.client_id, []
            ),
            set(),
            kind=K.CHARGE_HELD,
            target=charge,
            occasion="held",
            now=now,
            **_held_words(agency, charge),
        )
    notice = _retainer_notice(agency, charge)
    if notice is not None:
        _tell_all(batch, people, set(), target=charge.contract_line, now=now, **notice)
    return made + batch.flush()


def _queue_on_commit(job: str, **kwargs) -> None:
    def queue():
        try:
            queue_job(job, **kwargs)
        except Exception:
            # The broker is down: the sweep tells it instead, a little later.
            logger.exception("%s(%s) not queued", job, kwargs)

    transaction.on_commit(queue)


def queue_invoice_news(invoice: Invoice) -> None:
    """After the change commits: tell what an open invoice's change means (see above)."""
    if invoice.status == InvoiceStatus.OPEN:
        _queue_on_commit(
            "billing.jobs.tell_invoice_news", agency_id=invoice.agency_id, invoice_id=invoice.pk
        )


def queue_charge_news(charge: Charge) -> None:
    """After the charge commits: tell the client what it means, if anything (see above)."""
    held = charge.status == ChargeStatus.HELD
    if charge.kind == ChargeKind.TASK and (held or charge.period_start is not None):
        _queue_on_commit(
            "billing.jobs.tell_charge_news", agency_id=charge.agency_id, charge_id=charge.pk
        )
