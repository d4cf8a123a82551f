"""Charges: what a finished task, or a month of a retainer, costs the client. Each is made
once, priced under the terms version in force when the work was completed, and keeps that
version, so a later change of prices never reaches it.

Every charge is made inside a transaction that locks its contract line: two tasks of one
retainer line finishing together draw on the month's bank one after the other, never both
from the same minutes. The database holds one charge per task and one retainer fee per line
and month, so a retried or duplicated job finds the charge already made and returns it.
"""

import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from billing import report_months, retainer
from billing.models import Charge, ChargeKind, ChargeStatus
from billing.reminders import queue_charge_news
from billing.selectors import month_spent
from billing.tax import charge_fix_tax
from contracts import pricing
from contracts.models import ContractLine, ContractTerms, PricingModel
from contracts.selectors import terms_at
from core.audit import audit_record
from core.errors import ApplicationError
from core.jobs import queue_job
from core.periods import month_start
from tasks.models import Task, TaskStatus
from tasks.queries import seconds_logged_on
from tasks.timesheets import tasks_with_time_approved

logger = logging.getLogger(__name__)


def task_charge_key(task_id: int, round_: int = 1) -> str:
    """The first completion's key as it always was; each later one's its own."""
    return f"charge-task-{task_id}" if round_ == 1 else f"charge-task-{task_id}-rework-{round_}"


def retainer_fee_key(line_id: int, period_start: dt.date) -> str:
    return f"charge-retainer-{line_id}-{period_start:%Y-%m}"


# -- a finished task ----------------------------------------------------------------------


def charge_for_task(*, agency, task: Task) -> Charge:
    """Price a task's latest completion and store its one charge; return the charge it
    already has.

    Billed only once completed, and, when the contract asks for it, once the client has
    approved. The price comes from the line's terms in force at completion: a flat fee; or
    the minutes rounded up to the increment and raised to the minimum at the hourly rate; or,
    on a retainer, minutes drawn from the month's bank (calendar month in the client's zone)
    with the rest at the overage rate, and that month's retainer fee made too. A completion
    after a send-back is charged what the task owes beyond its earlier charges (`_price`);
    a charge past a budget the client set waits for their approval (`_hold_past_budgets`).
    """
    task = Task.objects.select_related("client", "contract", "service").get(
        agency=agency, pk=task.pk
    )
    try:
        with transaction.atomic():
            # The lock orders every charge of the line, so the bank is read and drawn by
            # one charge at a time. A job run again finds its charge here (one query, read
            # after the lock, so a charge made while we waited is seen).
            line = ContractLine.objects.select_for_update().get(
                agency=agency, pk=task.contract_line_id
            )
            earlier = list(
                Charge.objects.filter(agency=agency, kind=ChargeKind.TASK, task=task).order_by(
                    "task_completed_at"
                )
            )
            for previous in earlier:
                if task.completed_at and previous.task_completed_at == task.completed_at:
                    return previous
            _check_billable(task)
            _check_time_approved(agency, task)
            # The task's time as it stands once no correction of it can cross this charge
            # (tasks.services locks the task to correct time, and refuses once charged).
            # Its entries are read by a statement of their own after the lock, so they
            # include any correction committed while we waited for it.
            task.minutes_logged = (
                Task.objects.select_for_update()
                .values_list("minutes_logged", flat=True)
                .get(agency=agency, pk=task.pk)
            )
            seconds = seconds_logged_on(agency=agency, task=task)
            versions = list(ContractTerms.objects.filter(line=line).order_by("-effective_from"))
            terms = terms_at(versions, task.completed_at)
            charge = Charge(
                agency=agency,
                kind=ChargeKind.TASK,
                task=task,
                contract_line=line,
                terms=terms,
                client=task.client,
                minutes_logged=task.minutes_logged,
                currency=task.contract.currency,
                description=(task.title if not earlier else f"{task.title} (more work)")[:255],
                idempotency_key=task_charge_key(task.pk, len(earlier) + 1),
                task_completed_at=task.completed_at,
                billable_at=task.approved_at
                if task.contract.requires_approval
                else task.completed_at,
            )
            steps = {
                "pricing_model": terms.pricing_model,
                "terms_id": terms.pk,
                "terms_effective_from": terms.effective_from.isoformat(),
                "completed_at": task.completed_at.isoformat(),
                "minutes_logged": task.minutes_logged,
                "seconds_logged": seconds,
            }
            if terms.effective_from > task.completed_at:
                steps["note"] = "completed before the line's first terms; those terms used"
            steps |= _price(agency, line, versions, terms, task, seconds, charge, earlier)
            steps["amount"] = charge.amount
            held = _hold_past_budgets(agency, line, terms, task, charge, earlier)
            steps |= held
            if charge.amount == 0 and not held:
                # Nothing to send Stripe: an empty invoice would only confuse the client.
                charge.status = ChargeStatus.COVERED
            charge.breakdown = steps
            charge_fix_tax(charge, save=False)  # the client's rates as the work is supplied
            charge.save()
            audit_record(
                agency=agency,
                actor=None,
                action="charge.held" if held else "charge.created",
                target=charge,
                task=task.pk,
                amount=charge.amount,
                currency=charge.currency,
            )
            queue_charge_news(charge)  # held, or a retainer bank running low: told on commit
    except IntegrityError:
        # A racing job made it first (on a database that did not make us wait).
        existing = _task_charge(agency, task)
        if existing is None:
            raise
        return existing
    return charge


def _check_billable(task: Task) -> None:
    if task.status != TaskStatus.COMPLETED or task.completed_at is None:
        raise ApplicationError("Only finished work is billed.", code="charge_task_not_completed")
    if task.contract.requires_approval and task.approved_at is None:
        raise ApplicationError(
            "This contract bills work once the client approves it.",
            code="charge_task_not_approved",
        )


def _check_time_approved(agency, task: Task) -> None:
    # The agency's setting: a task's time is charged once staff approved every week of it.
    if agency.bill_approved_time_only and not tasks_with_time_approved(
        agency=agency, task_ids=[task.pk]
    ):
        raise ApplicationError(
            "This agency bills work once all its time is in approved timesheets.",
            code="charge_time_not_approved",
        )


def _hold_past_budgets(agency, line, terms, task: Task, charge: Charge, earlier) -> dict:
    """Hold a charge that passes a budget the client set, for their approval: the task's
    own maximum budget, or the line's monthly budget cap. What the budgets were (and what
    had been spent of the cap), for the breakdown; empty when it is not held.

    The request-time check (contracts.caps) lets work in when its least cost fits, but hourly
    time or retainer overage can still pass a budget while the work is done. Whether the
    line says "block" or "ask", the cap is the client's promise not to pay more without
    saying yes, so the charge waits either way; a client who approved going over the cap
    when asking has said yes to that already (not to passing the task's own budget, which
    they set on the request itself). Runs under the line's lock, so two charges never both
    fit the last room under the cap.
    """
    held = {}
    if charge.amount == 0:
        return held
    task_total = charge.amount + sum(previous.amount for previous in earlier)
    if task.max_budget is not None and task_total > task.max_budget:
        held["task_budget"] = {"budget": task.max_budget}
    cap = terms.monthly_budget_cap
    if cap is not None and not task.over_cap_approved:
        spent = month_spent(agency=agency, line=line, at=timezone.now())
        if spent + charge.amount > cap:
            held["budget_cap"] = {
                "cap": cap,
                "spent_before": spent,
                "cap_behaviour": terms.cap_behaviour,
            }
    if held:
        charge.status = ChargeStatus.HELD
    return held


def _task_charge(agency, task: Task) -> Charge | None:
    """The charge of the task's latest completion, if made."""
    return Charge.objects.filter(
        agency=agency, kind=ChargeKind.TASK, task_id=task.pk, task_completed_at=task.completed_at
    ).first()


def _price(
    agency, line, versions, terms, task: Task, seconds: int, charge: Charge, earlier
) -> dict:
    """Set the charge's amount by the terms' pricing model; the figures that made it.

    A completion after a send-back bills what the task owes beyond what its earlier
    completions were charged (written-off ones count as charged: forgiven stays forgiven),
    never less than nothing: a flat fee once; hourly time priced in full again, less the
    earlier charges; retainer time only for the time logged since, from the bank.

    Time is the task's seconds, rounded as the terms say once for the task (never per
    entry): up to the increment, then the minimum.
    """
    if terms.pricing_model == PricingModel.RETAINER:
        return _draw_from_bank(agency, line, versions, terms, task, seconds, charge, earlier)
    if terms.pricing_model == PricingModel.FLAT:
        steps = {"flat_fee": terms.flat_fee}
        full = pricing.price_flat(terms)
    else:
        price = pricing.price_hourly_seconds(seconds, terms)
        charge.minutes_billed, full = price
        steps = {
            "hourly_rate": terms.hourly_rate,
            "rounding_increment_minutes": terms.rounding_increment_minutes,
            "rounded_minutes": pricing.billable_minutes_of_seconds(
                seconds, increment=terms.rounding_increment_minutes
            ),
            "minimum_minutes": terms.minimum_minutes,
            "minutes_billed": price.minutes_billed,
        }
    charged_before = sum(previous.amount for previous in earlier)
    charge.amount = max(full - charged_before, 0)
    if earlier:
        steps |= {"priced_in_full": full, "charged_before": charged_before}
        if full <= charged_before:
            steps["note"] = "nothing more to bill: the earlier charges cover the work"
    return steps


def _draw_from_bank(
    agency, line, versions, terms, task: Task, seconds: int, charge: Charge, earlier
) -> dict:
    """Price a retainer task against its month's bank and make sure the month's fee exists.

    The month's size (included hours, rollover cap) comes from the terms it was bought
    under (`month_terms`); the increment and overage rate from the terms in force at
    completion. Bank usage is what the line's task charges of the month drew, written-off
    ones included: writing off forgives the money, not the hours the work took.
    """
    zone = task.client.time_zone
    # Work finished before the line's first terms counts in the month those terms began.
    period_start = month_start(max(task.completed_at, terms.effective_from), zone)
    bank = retainer.bank_left(agency, line, versions, period_start, zone)
    # After a send-back, only the time logged since the earlier completions were billed.
    since = seconds - max((_seconds_charged(previous) for previous in earlier), default=0)
    price = pricing.price_retainer_task_seconds(max(since, 0), bank["bank_left_before"], terms)
    charge.period_start = period_start
    charge.minutes_from_bank = price.from_bank
    charge.minutes_billed = price.overage_minutes
    charge.amount = price.amount
    _retainer_fee(agency, line, versions, period_start, zone)
    drawn = _drawn_oldest_first(bank.get("expiring", []), price.from_bank)
    return {
        "period_start": period_start.isoformat(),
        **bank,
        **({"drawn_from": drawn} if drawn else {}),
        "rounding_increment_minutes": terms.rounding_increment_minutes,
        "rounded_minutes": price.from_bank + price.overage_minutes,
        "minutes_from_bank": price.from_bank,
        "overage_minutes": price.overage_minutes,
        "overage_rate": terms.overage_rate,
    }


def _drawn_oldest_first(lots: list[dict], minutes: int) -> list[dict]:
    """Which of the bank's hours (by the month they expire at the end of) the task's
    minutes used, the oldest first, as billing.retainer draws them; empty where banked
    hours never expire."""
    drawn = []
    for lot in lots:
        take = min(lot["minutes"], minutes)
        if take <= 0:
            break
        drawn.append({"minutes": take, "expires_end_of": lot["month"]})
        minutes -= take
    return drawn


def _seconds_charged(charge: Charge) -> int:
    """The task's logged seconds when an earlier charge was made (charges made before
    seconds were kept knew whole minutes)."""
    return charge.breakdown.get("seconds_logged", charge.minutes_logged * 60)


# -- a retainer month ---------------------------------------------------------------------


def retainer_fee_charge(*, agency, contract_line: ContractLine, period_start: dt.date) -> Charge:
    """The retainer fee of one month (calendar month in the client's zone) of a line,
    made once: at the terms the month was bought under."""
    period_start = period_start.replace(day=1)
    existing = _fee_charge(agency, contract_line.pk, period_start)
    if existing is not None:
        return existing
    line = ContractLine.objects.select_related("contract__client").get(
        agency=agency, pk=contract_line.pk
    )
    versions = list(ContractTerms.objects.filter(line=line).order_by("-effective_from"))
    return _retainer_fee(agency, line, versions, period_start, line.contract.client.time_zone)


def _fee_charge(agency, line_id: int, period_start: dt.date) -> Charge | None:
    return Charge.objects.filter(
        agency=agency,
        kind=ChargeKind.RETAINER_FEE,
        contract_line_id=line_id,
        period_start=period_start,
    ).first()


def _retainer_fee(agency, line, versions, period_start: dt.date, zone: str) -> Charge:
    existing = _fee_charge(agency, line.pk, period_start)
    if existing is not None:
        return existing
    terms = retainer.month_terms(versions, period_start, zone)
    if terms is None:
        raise ApplicationError(
            "This service was not on a retainer that month.", code="charge_not_retainer"
        )
    contract = line.contract
    try:
        with transaction.atomic():
            charge = Charge.objects.create(
                agency=agency,
                kind=ChargeKind.RETAINER_FEE,
                contract_line=line,
                terms=terms,
                client_id=contract.client_id,
                period_start=period_start,
                amount=terms.retainer_fee,
                currency=contract.currency,
                description=f"Retainer fee {period_start:%B %Y}: {line.service.name}"[:255],
                idempotency_key=retainer_fee_key(line.pk, period_start),
                billable_at=timezone.now(),
                breakdown={
                    "pricing_model": PricingModel.RETAINER,
                    "terms_id": terms.pk,
                    "terms_effective_from": terms.effective_from.isoformat(),
                    "period_start": period_start.isoformat(),
                    "retainer_fee": terms.retainer_fee,
                    "included_minutes": terms.included_minutes,
                    "rollover_cap_minutes": terms.rollover_cap_minutes,
                    "amount": terms.retainer_fee,
                },
            )
            charge_fix_tax(charge)
            report_months.charges_touched(agency_id=agency.pk, charges=[charge])
            audit_record(
                agency=agency,
                actor=None,
                action="charge.created",
                target=charge,
                period_start=period_start.isoformat(),
                amount=charge.amount,
                currency=charge.currency,
            )
            # Billed like the month's work: on an invoice of its own at once for a per-task
            # contract, on the month's first period invoice otherwise (by name: billing.jobs
            # calls this module).
            transaction.on_commit(
                lambda: queue_job(
                    "billing.jobs.push_charge", agency_id=agency.pk, charge_id=charge.pk
                )
            )
    except IntegrityError:
        existing = _fee_charge(agency, line.pk, period_start)
        if existing is None:
            raise
        return existing
    return charge


def retainer_fees_due(*, now: dt.datetime) -> int:
    """Beat's sweep: make this month's retainer fee for every retainer line of an active
    contract that has none yet, in each client's own month. Returns how many were made.

    It spans agencies on purpose (scopes off for the one query that finds what is due, then
    each charge is made inside its agency's scope) and reads only lines with no fee charge
    for the current UTC month, so after the first run of a month it touches nothing.
    """
    from django.db.models import Exists, OuterRef

    from contracts.models import ContractStatus, PricingModel
    from core.tenancy import agency_scope, scopes_disabled

    utc_month = now.astimezone(dt.UTC).date().replace(day=1)
    with scopes_disabled():
        charged = Charge.objects.filter(
            contract_line=OuterRef("pk"), kind=ChargeKind.RETAINER_FEE, period_start=utc_month
        )
        lines = list(
            ContractLine.objects.filter(
                contract__status=ContractStatus.ACTIVE,
                removed_at=None,
                terms__pricing_model=PricingModel.RETAINER,
            )
            .exclude(Exists(charged))
            .select_related("agency", "contract__client")
            .distinct()
        )
    made = 0
    for line in lines:
        period = month_start(now, line.contract.client.time_zone)
        with agency_scope(line.agency):
            try:
                before = _fee_charge(line.agency, line.pk, period)
                retainer_fee_charge(agency=line.agency, contract_line=line, period_start=period)
            except ApplicationError:
                continue  # not on a retainer this month (e.g. the retainer starts later)
            made += before is None
    return made


# -- people's decisions -------------------------------------------------------------------


def charge_write_off(*, agency, actor, charge: Charge, reason: str) -> Charge:
    """Forgive an unbilled or held charge, with the reason (audited). Invoiced charges are settled
    on the invoice, not here; a written-off charge stays, so the task is never billed
    again by accident. Nothing of an unbilled charge is at Stripe (it goes there with its
    invoice); an item an earlier release left pending there is deleted after commit."""
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(
            "Say why this charge is written off.",
            code="charge_reason_required",
            extra={"field": "reason"},
        )
    with transaction.atomic():
        charge = Charge.objects.select_for_update().get(agency=agency, pk=charge.pk)
        if charge.status not in (ChargeStatus.PENDING, ChargeStatus.HELD):
            raise ApplicationError(
                f"Only unbilled charges can be written off; this one is "
                f"{charge.get_status_display().lower()}.",
                code="charge_not_pending",
                extra={"status": charge.status},
            )
        charge.status = ChargeStatus.WRITTEN_OFF
        charge.written_off_at = timezone.now()
        charge.written_off_by = actor
        charge.written_off_reason = reason
        charge.save(
            update_fields=["status", "written_off_at", "written_off_by", "written_off_reason"]
        )
        report_months.charges_touched(agency_id=agency.pk, charges=[charge])
        audit_record(
            agency=agency,
            actor=actor,
            action="charge.written_off",
            target=charge,
            reason=reason,
            amount=charge.amount,
            currency=charge.currency,
        )
        if charge.stripe_invoice_item_id:
            # What Stripe holds of it comes off too (by name: billing.jobs calls this module).
            transaction.on_commit(
                lambda: queue_job(
                    "billing.jobs.withdraw_charge_item", agency_id=agency.pk, charge_id=charge.pk
                )
            )
    return charge


def charge_release(*, agency, actor, charge: Charge) -> Charge:
    """The client approves a charge held at their budget cap (or staff record their yes):
    it becomes unbilled and goes to Stripe like any other, on the invoice of the period it
    was approved in. A client member may approve only their own client's charges."""
    with transaction.atomic():
        charge = Charge.objects.select_for_update().get(agency=agency, pk=charge.pk)
        if charge.status != ChargeStatus.HELD:
            raise ApplicationError(
                f"Only a charge held for approval can be approved; this one is "
                f"{charge.get_status_display().lower()}.",
                code="charge_not_held",
                extra={"status": charge.status},
            )
        charge.status = ChargeStatus.PENDING
        charge.released_at = timezone.now()
        charge.released_by = actor
        charge.save(update_fields=["status", "released_at", "released_by"])
        report_months.charges_touched(agency_id=agency.pk, charges=[charge])
        audit_record(
            agency=agency,
            actor=actor,
            action="charge.released",
            target=charge,
            amount=charge.amount,
            currency=charge.currency,
        )
        # By name: billing.jobs calls this module.
        transaction.on_commit(
            lambda: queue_job("billing.jobs.push_charge", agency_id=agency.pk, charge_id=charge.pk)
        )
    return charge


# -- reading ------------------------------------------------------------------------------


def charge_list(*, agency, status: str | None = None, client=None) -> QuerySet[Charge]:
    """Charges newest first, with what a list row shows loaded alongside."""
    charges = Charge.objects.filter(agency=agency).select_related(
        "client", "task", "contract_line__service", "terms", "written_off_by"
    )
    if status:
        charges = charges.filter(status=status)
    if client is not None:
        charges = charges.filter(client=client)
    return charges.order_by("-created_at", "-pk")
