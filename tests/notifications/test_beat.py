"""End to end on Redis: beat's database scheduler (django-celery-beat) sends a due sweep
to the broker, a real worker runs it, and the reminder's e-mail arrives through the worker.
Skipped unless REDIS_URL is set (CI runs the suite once more on Redis and PostgreSQL)."""

import datetime as dt
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.core import mail
from django.utils import timezone

from core.tenancy import scopes_disabled
from notifications.models import Notification
from tests.assistants.factories import AssistantProfileFactory
from tests.tasks.factories import TaskFactory
from va_agency.celery import app

ALWAYS = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def wait_for(condition, seconds=60):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the worker did not finish in time"
        time.sleep(0.05)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_beat_and_a_real_worker_deliver_a_reminder(agency):
    if not settings.REDIS_URL:
        pytest.skip("needs Redis (set REDIS_URL)")
    from django_celery_beat.models import PeriodicTask
    from django_celery_beat.schedulers import DatabaseScheduler

    assistant = AssistantProfileFactory(agency=agency, working_hours=ALWAYS).membership
    task = TaskFactory(
        agency=agency,
        status="in_progress",
        assignee=assistant,
        due_at=timezone.now() + dt.timedelta(hours=1),
    )
    app.conf.task_always_eager = False
    try:
        # Beat starting: the default schedule from settings is copied into the database,
        # where staff edit it in the admin.
        DatabaseScheduler(app=app)
        names = set(PeriodicTask.objects.values_list("name", flat=True))
        assert {"sweep-task-reminders", "deliver-due-notification-emails"} <= names
        # Make only the task sweep due (as if its 5 minutes had passed).
        PeriodicTask.objects.exclude(name="celery.backend_cleanup").update(
            last_run_at=timezone.now()
        )
        entry = PeriodicTask.objects.get(name="sweep-task-reminders")
        entry.last_run_at = timezone.now() - dt.timedelta(hours=1)
        entry.save()
        beat = DatabaseScheduler(app=app)
        with start_worker(app, perform_ping_check=False, shutdown_timeout=10):
            beat.tick()  # sends what is due to the broker
            wait_for(lambda: len(mail.outbox) == 1)
    finally:
        app.conf.task_always_eager = True
    assert mail.outbox[0].to == [assistant.user.email]
    assert task.title in mail.outbox[0].subject
    with scopes_disabled():
        note = Notification.objects.get(kind="task_due_soon")
    assert note.emailed_at is not None and note.target_id == task.pk
