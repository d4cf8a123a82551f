"""A reminder sweep claims its notifications in one INSERT and e-mails them over one
connection: its queries do not grow with the reminders, each is still sent once, in the
recipient's working hours, and one claimed but never sent is sent by the delivery sweep."""

import datetime as dt

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.roles import Role
from core.tenancy import scopes_disabled
from notifications.models import Notification
from notifications.services import deliver_due_emails
from tasks.models import Task
from tasks.reminders import sweep_task_reminders
from tests.assistants.factories import AssistantProfileFactory
from tests.factories import AgencyFactory, MembershipFactory
from tests.tasks.factories import TaskFactory

pytestmark = pytest.mark.django_db

ALWAYS = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
# Tokyo mornings only: 09:00-12:00 JST is 00:00-03:00 UTC.
MORNINGS = {day: [["09:00", "12:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


def due_work(agency, count: int, hours=ALWAYS):
    """`count` tasks due within the hour, each of its own assistant (not started: at risk
    too, for the admin)."""
    MembershipFactory(agency=agency, role=Role.ADMIN)
    for n in range(count):
        assistant = AssistantProfileFactory(
            agency=agency, time_zone="Asia/Tokyo", working_hours=hours
        ).membership
        TaskFactory(
            agency=agency,
            status="assigned",
            assignee=assistant,
            priority=1,
            due_at=timezone.now() + dt.timedelta(minutes=30 + n),
        )


class Connections:
    """Counts the mail connections opened (each send_messages over one)."""

    def __init__(self, monkeypatch):
        from django.core.mail.backends.locmem import EmailBackend

        self.opened = 0
        original = EmailBackend.open

        def counting_open(backend):
            self.opened += 1
            return original(backend)

        monkeypatch.setattr(EmailBackend, "open", counting_open)


def swept(count, time_machine, monkeypatch, django_capture_on_commit_callbacks):
    with scopes_disabled():  # an earlier run's agency has nothing due any more
        Task.objects.update(status="completed")
    agency = AgencyFactory()
    time_machine.move_to("2026-05-04 10:00Z", tick=False)
    due_work(agency, count)
    mail.outbox = []
    connections = Connections(monkeypatch)
    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=True),
    ):
        made = sweep_task_reminders(now=timezone.now())
    return made, len(queries), connections.opened


def test_a_sweeps_queries_do_not_grow_with_its_reminders(
    time_machine, monkeypatch, django_capture_on_commit_callbacks
):
    one = swept(1, time_machine, monkeypatch, django_capture_on_commit_callbacks)
    sent_one = len(mail.outbox)
    many = swept(200, time_machine, monkeypatch, django_capture_on_commit_callbacks)
    # One assistant's due-soon and one admin's at-risk each task: two reminders a task.
    assert (one[0], sent_one) == (2, 2)
    assert (many[0], len(mail.outbox)) == (400, 400)
    assert many[1] == one[1], f"{one[1]} queries for 1 task, {many[1]} for 200"
    assert many[2] == one[2] == 1  # one connection for the batch, not one per e-mail


def test_each_reminder_is_sent_once_however_often_the_sweep_runs(agency, time_machine):
    time_machine.move_to("2026-05-04 10:00Z", tick=False)
    due_work(agency, 5)
    assert sweep_task_reminders(now=timezone.now()) == 10
    assert sweep_task_reminders(now=timezone.now()) == 0
    deliver_due_emails(now=timezone.now())
    assert len(mail.outbox) == 10
    with scopes_disabled():
        assert not Notification.objects.filter(emailed_at=None).exists()


def test_an_assistants_reminder_waits_for_their_hours(agency, time_machine):
    # 10:00 UTC is 19:00 in Tokyo: off shift until 09:00 JST, 00:00 UTC the next day.
    time_machine.move_to("2026-05-04 10:00Z", tick=False)
    due_work(agency, 1, hours=MORNINGS)
    assert sweep_task_reminders(now=timezone.now()) == 2
    assert [m.subject for m in mail.outbox] == [mail.outbox[0].subject]  # the admin's only
    with scopes_disabled():
        waiting = Notification.objects.get(kind="task_due_soon")
    assert waiting.emailed_at is None and waiting.email_due_at == utc("2026-05-05 00:00Z")
    deliver_due_emails(now=utc("2026-05-04 23:59Z"))
    assert len(mail.outbox) == 1
    deliver_due_emails(now=utc("2026-05-05 00:00Z"))
    assert len(mail.outbox) == 2 and mail.outbox[1].subject.startswith("Due soon")


def test_a_reminder_claimed_but_never_sent_is_sent_by_the_delivery_sweep(
    agency, time_machine, monkeypatch
):
    """The mail server fails after the rows were claimed (as a worker dying there would
    leave them): nothing is marked sent, and beat's delivery sweep sends each once."""
    from django.core.mail.backends.locmem import EmailBackend

    time_machine.move_to("2026-05-04 10:00Z", tick=False)
    due_work(agency, 3)

    def down(backend, messages):
        raise ConnectionRefusedError("mail server down")

    with monkeypatch.context() as patched:
        patched.setattr(EmailBackend, "send_messages", down)
        with pytest.raises(ConnectionRefusedError):
            sweep_task_reminders(now=timezone.now())
    with scopes_disabled():
        assert Notification.objects.filter(emailed_at=None).count() == 6
    assert sweep_task_reminders(now=timezone.now()) == 0  # claimed already: not made again
    assert deliver_due_emails(now=timezone.now()) == 6
    assert len(mail.outbox) == 6
    assert deliver_due_emails(now=timezone.now()) == 0
    assert len(mail.outbox) == 6
