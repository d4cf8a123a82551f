import logging

from celery import shared_task
from django.db import OperationalError

from accounts.access import AgencyJob
from tasks import hooks
from tasks.models import Task, TaskStatus
from tasks.reminders import tell_awaiting_approval

logger = logging.getLogger(__name__)


@shared_task(
    base=AgencyJob,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=10,
)
def task_completed(*, agency, task_id: int) -> None:
    """Runs once per completion, after it has committed: what the apps above do with
    finished work first (billing charges it: tasks.hooks), then tells the client's people
    that the work awaits their approval (tasks.reminders)."""
    task = Task.objects.select_related("client", "contract").filter(pk=task_id).first()
    if task is None or task.status != TaskStatus.COMPLETED:
        return  # sent back before the job ran: billed when it is completed again
    hooks.task_completed(agency=agency, task=task)
    # In the app, and by e-mail as each person prefers (the e-mail sent from this job; one
    # that fails is sent by beat's delivery sweep, so billing above never waits on mail).
    try:
        tell_awaiting_approval(agency=agency, task=task, send_now=True)
    except OperationalError:
        raise
    except Exception:
        logger.exception("task %s of agency %s: client not told by e-mail", task.pk, agency.pk)


@shared_task
def create_due_recurring_tasks() -> int:
    """Beat, every 5 minutes: make the tasks of recurring requests whose time has come.
    A plain job, not an AgencyJob: the sweep spans every agency and enters each one's scope
    itself (tasks.recurring.recurring_run_due)."""
    from django.utils import timezone

    from tasks.recurring import recurring_run_due

    return recurring_run_due(now=timezone.now())


@shared_task
def sweep_task_reminders() -> int:
    """Beat: tasks due soon or overdue (to assignees), at risk, overdue or waiting too long
    for an assistant (to admins), across agencies, each told once (tasks.reminders)."""
    from django.utils import timezone

    from tasks.reminders import sweep_task_reminders as sweep

    return sweep(now=timezone.now())
