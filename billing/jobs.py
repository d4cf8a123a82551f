import logging

import stripe
from celery import shared_task
from celery.signals import worker_process_shutdown
from django.db import OperationalError

from accounts.access import AgencyJob
from billing.charges import charge_for_task
from billing.invoicing import pushed_at_once
from billing.models import Charge
from core.errors import ApplicationError
from tasks.models import Task, TaskStatus

logger = logging.getLogger(__name__)


@worker_process_shutdown.connect
def _close_stripe_connections(**_) -> None:
    """A worker process (a prefork child, or a solo or threaded worker) closes its kept-
    alive Stripe connections as it stops."""
    from billing.stripe_access import close_stripe_clients

    close_stripe_clients()


@shared_task(
    base=AgencyJob,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=10,
    acks_late=True,
)
def bill_task(*, agency, task_id: int) -> int | None:
    """Make the charge of a task the client has approved (queued on commit of the approval
    when the contract bills on approval). Safe to run twice: the charge is made once. A lost
    connection or deadlock is retried; a refusal is not, as it would refuse again."""
    task = Task.objects.select_related("contract").filter(pk=task_id).first()
    if task is None:
        return None
    charge = bill(agency=agency, task=task)
    return charge.pk if charge is not None else None


def bill(*, agency, task: Task) -> Charge | None:
    """Make a finished task's charge (once) and queue it for Stripe; None when billing
    refuses it (logged: it would refuse again)."""
    try:
        charge = charge_for_task(agency=agency, task=task)
    except ApplicationError as error:
        logger.error("task %s of agency %s not billed: %s", task.pk, agency.pk, error.message)
        return None
    if not pushed_at_once(task.contract):
        return charge  # its period's close sends it (close_billing_periods)
    # Its own job, so Stripe being down never holds back the job that queued it. Straight
    # away: we run after the completion or approval committed, and the charge is committed
    # by now (charge_for_task's own transaction). If queuing fails, beat's
    # close_billing_periods pushes the charge later.
    try:
        push_charge.delay(agency_id=agency.pk, charge_id=charge.pk)
    except Exception:
        logger.exception("charge %s of agency %s not queued for Stripe", charge.pk, agency.pk)
    return charge


def bill_on_completion(*, agency, task: Task) -> None:
    """tasks' completion hook: bill the finished task, unless its contract bills on the
    client's approval (then tasks.services.task_approve queues bill_task). A task sent back
    and completed again is billed again, for what it owes beyond its earlier charges
    (billing.charges.charge_for_task)."""
    if not task.contract.requires_approval:
        bill(agency=agency, task=task)


def bill_when_time_approved(*, agency, task_ids) -> None:
    """tasks' timesheet-approval hook: where the agency bills approved time only, queue the
    charge of each finished task that was waiting for its time to be approved and now has
    all of it approved (and the client's approval, where its contract asks for that).
    bill_task makes each charge once, however often it is queued."""
    if not agency.bill_approved_time_only or not task_ids:
        return
    from tasks.timesheets import tasks_with_time_approved

    ready = tasks_with_time_approved(agency=agency, task_ids=task_ids)
    tasks = Task.objects.filter(
        agency=agency, pk__in=ready, status=TaskStatus.COMPLETED
    ).select_related("contract")
    charged = set(
        Charge.objects.filter(agency=agency, task__in=tasks).values_list(
            "task_id", "task_completed_at"
        )
    )
    for task in tasks:
        if task.contract.requires_approval and task.approved_at is None:
            continue  # task_approve queues it once the client approves
        if (task.pk, task.completed_at) in charged:
            continue
        try:
            bill_task.delay(agency_id=agency.pk, task_id=task.pk)
        except Exception:
            logger.exception("task %s of agency %s not queued for billing", task.pk, agency.pk)


@shared_task
def charge_retainer_fees() -> int:
    """Beat: every retainer line's fee for the month, once, in each client's own month."""
    from django.utils import timezone

    from billing.charges import retainer_fees_due

    return retainer_fees_due(now=timezone.now())


# -- Stripe -------------------------------------------------------------------------------

# Worth retrying with the same idempotency keys (Stripe unreachable, failing or busy); a
# refusal of the request itself (stripe.InvalidRequestError and the like) would be refused
# again, so it is logged instead.
STRIPE_RETRYABLE = (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError)


@shared_task(
    base=AgencyJob,
    # A charge not found yet was queued by a caller whose transaction had not committed.
    autoretry_for=(*STRIPE_RETRYABLE, OperationalError, Charge.DoesNotExist),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=12,
    acks_late=True,
)
def push_charge(*, agency, charge_id: int) -> int | None:
    """Send a new charge to Stripe (queued by the job that made the charge): at once on
    an invoice of its own for per-task billing; a weekly or monthly charge waits for its
    period's invoice (close_billing_periods). Safe to run any number of times: every
    Stripe request is idempotent."""
    from billing.invoicing import push_charge as push

    try:
        charge = push(agency=agency, charge_id=charge_id)
    except STRIPE_RETRYABLE:
        raise
    except (stripe.StripeError, ApplicationError) as error:
        logger.error("charge %s of agency %s not sent to Stripe: %s", charge_id, agency.pk, error)
        return None
    return charge.pk if charge is not None else None


@shared_task(
    autoretry_for=STRIPE_RETRYABLE,
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=5,
    acks_late=True,
)
def close_billing_periods() -> int:
    """Beat, hourly: an invoice per client for each weekly or monthly period that has
    ended, and per-task billing a lost job left half-way (billing.invoicing)."""
    from django.utils import timezone

    from billing.invoicing import close_billing_periods as close
    from billing.tax import retire_archived_tax_rates

    done = close(now=timezone.now())
    # Archived tax rates go inactive at Stripe once no unbilled work carries them.
    retire_archived_tax_rates()
    return done


@shared_task(base=AgencyJob, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=8)
def tell_invoice_news(*, agency, invoice_id: int) -> int:
    """Queued when an invoice is issued or its payment fails: the client's people (or the
    admins) hear at once, not at the next sweep (billing.reminders)."""
    from django.utils import timezone

    from billing.reminders import invoice_news_tell

    return invoice_news_tell(agency=agency, invoice_id=invoice_id, now=timezone.now())


@shared_task(base=AgencyJob, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=8)
def tell_charge_news(*, agency, charge_id: int) -> int:
    """Queued when a task's charge is made: held past a budget, or a retainer bank running
    low or used up, told at once (billing.reminders)."""
    from django.utils import timezone

    from billing.reminders import charge_news_tell

    return charge_news_tell(agency=agency, charge_id=charge_id, now=timezone.now())


@shared_task
def sweep_late_fees() -> int:
    """Beat: the late fee of every open invoice whose fee has come due, once each
    (billing.late_fees)."""
    from django.utils import timezone

    from billing.late_fees import sweep_late_fees as sweep

    return sweep(now=timezone.now())


@shared_task
def sweep_billing_reminders() -> int:
    """Beat: invoices coming due and overdue and contracts ending; and, as a catch-up for
    a lost tell_invoice_news or tell_charge_news, invoices issued, payment failures,
    retainer hours running low and held charges (billing.reminders)."""
    from django.utils import timezone

    from billing.reminders import sweep_billing_reminders as sweep

    return sweep(now=timezone.now())


@shared_task(
    base=AgencyJob,
    autoretry_for=(OperationalError, *STRIPE_RETRYABLE),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=10,
    acks_late=True,
)
def withdraw_charge_item(*, agency, charge_id: int) -> bool:
    """After a write-off: delete the charge's item at Stripe, if one is there (once)."""
    from billing.invoicing import charge_item_withdraw

    return charge_item_withdraw(agency=agency, charge_id=charge_id)


@shared_task(
    base=AgencyJob,
    autoretry_for=(OperationalError, *STRIPE_RETRYABLE),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=12,
    acks_late=True,
)
def finish_credit_note(*, agency, credit_note_id: int) -> int | None:
    """Issue a credit note Stripe could not be asked for when staff made it (once)."""
    from billing.credit_notes import credit_note_finish

    note = credit_note_finish(agency=agency, credit_note_id=credit_note_id)
    return note.pk if note is not None else None
