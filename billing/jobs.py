import logging

from django.db import OperationalError

from billing.charges import charge_for_task
from core.errors import ApplicationError
from core.jobs import AgencyJob
from tasks.models import Task
from va_agency.celery import app

logger = logging.getLogger(__name__)


@app.task(
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
    task = Task.objects.filter(pk=task_id).first()
    if task is None:
        return None
    try:
        return charge_for_task(agency=agency, task=task).pk
    except ApplicationError as error:
        logger.error("task %s of agency %s not billed: %s", task_id, agency.pk, error.message)
        return None


@app.task
def charge_retainer_fees() -> int:
    """Beat: every retainer line's fee for the month, once, in each client's own month."""
    from django.utils import timezone

    from billing.charges import retainer_fees_due

    return retainer_fees_due(now=timezone.now())
