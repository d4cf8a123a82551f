from django.conf import settings
from django.core.mail import send_mass_mail
from django.urls import reverse

from accounts.models import Membership
from core.jobs import AgencyJob
from core.roles import Role
from tasks.models import Task, TaskStatus
from va_agency.celery import app


@app.task(base=AgencyJob)
def task_completed(*, agency, task_id: int) -> None:
    """Runs once per completion, after it has committed: the hook billing hangs on. For
    now it tells the client's people that the work awaits their approval."""
    task = Task.objects.select_related("client").filter(pk=task_id).first()
    if task is None or task.status != TaskStatus.COMPLETED:
        return  # sent back or cancelled before the job ran: nothing to announce
    link = settings.SITE_URL + reverse("task_detail", args=[agency.slug, task.pk])
    recipients = Membership.objects.filter(
        agency=agency, client=task.client, role=Role.CLIENT, is_active=True
    ).values_list("user__email", flat=True)
    body = (
        f"{task.title} is done.\n\n{task.completion_summary}\n\n"
        f"Approve it or send it back with what still needs doing:\n{link}\n"
    )
    send_mass_mail(
        [(f"Done: {task.title}", body, None, [email]) for email in recipients],
        fail_silently=False,
    )


@app.task
def create_due_recurring_tasks() -> int:
    """Beat, every 5 minutes: make the tasks of recurring requests whose time has come.
    A plain job, not an AgencyJob: the sweep spans every agency and enters each one's scope
    itself (tasks.recurring.recurring_run_due)."""
    from django.utils import timezone

    from tasks.recurring import recurring_run_due

    return recurring_run_due(now=timezone.now())
