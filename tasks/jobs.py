import logging

from django.db import OperationalError

from accounts.access import AgencyJob
from billing.charges import charge_for_task
from billing.jobs import push_charge
from core.errors import ApplicationError
from tasks.models import Task, TaskStatus
from tasks.reminders import tell_awaiting_approval
from va_agency.celery import app

logger = logging.getLogger(__name__)


@app.task(
    base=AgencyJob,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=10,
)
def task_completed(*, agency, task_id: int) -> None:
    """Runs once per completion, after it has committed: bills the task (unless its
    contract bills on the client's approval: then task_approve queues billing.jobs.bill_task)
    and tells the client's people that the work awaits their approval (tasks.reminders)."""
    task = Task.objects.select_related("client", "contract").filter(pk=task_id).first()
    if task is None or task.status != TaskStatus.COMPLETED:
        return  # sent back before the job ran: billed when it is completed again
    if not task.contract.requires_approval:
        # Before the e-mail: a retry after a lost connection then finds the charge made and
        # sends the e-mail once, and a failing mail server never costs a charge. A task sent
        # back and completed again keeps the charge of its first completion (the work was
        # billed); billing it anew is a person's decision: write off and bill again.
        try:
            charge = charge_for_task(agency=agency, task=task)
        except ApplicationError as error:
            logger.error("task %s of agency %s not billed: %s", task.pk, agency.pk, error.message)
        else:
            # Its own job, so Stripe being down never holds back the e-mail (or the reverse).
            # Queued straight away: this job runs after the completion committed and the
            # charge is committed by now, so there is no transaction left to wait for.
            # If queuing fails, beat's close_billing_periods pushes the charge later.
            try:
                push_charge.delay(agency_id=agency.pk, charge_id=charge.pk)
            except Exception:
                logger.exception(
                    "charge %s of agency %s not queued for Stripe", charge.pk, agency.pk
                )
    # In the app, and by e-mail as each person prefers (the e-mail sent from this job; one
    # that fails is sent by beat's delivery sweep, so billing above never waits on mail).
    try:
        tell_awaiting_approval(agency=agency, task=task, send_now=True)
    except OperationalError:
        raise
    except Exception:
        logger.exception("task %s of agency %s: client not told by e-mail", task.pk, agency.pk)


@app.task
def create_due_recurring_tasks() -> int:
    """Beat, every 5 minutes: make the tasks of recurring requests whose time has come.
    A plain job, not an AgencyJob: the sweep spans every agency and enters each one's scope
    itself (tasks.recurring.recurring_run_due)."""
    from django.utils import timezone

    from tasks.recurring import recurring_run_due

    return recurring_run_due(now=timezone.now())


@app.task
def sweep_task_reminders() -> int:
    """Beat: tasks due soon or overdue (to assignees), at risk, overdue or waiting too long
    for an assistant (to admins), across agencies, each told once (tasks.reminders)."""
    from django.utils import timezone

    from tasks.reminders import sweep_task_reminders as sweep

    return sweep(now=timezone.now())
