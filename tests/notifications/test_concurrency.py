"""Reminders under real concurrency: two workers run the same sweeps (and the e-mail
delivery) at the same moment on their own PostgreSQL connections. Each reminder is made,
and e-mailed, exactly once. SQLite serialises every writer, so this runs on PostgreSQL."""

import datetime as dt
import threading
from collections import Counter

import pytest
from django.core import mail
from django.db import connection, connections

from billing.reminders import sweep_billing_reminders
from core.roles import Role
from core.tenancy import scopes_disabled
from notifications.models import Notification
from notifications.services import deliver_due_emails
from tasks.reminders import sweep_task_reminders
from tests.assistants.factories import AssistantProfileFactory
from tests.factories import MembershipFactory
from tests.tasks.factories import TaskFactory

pytestmark = pytest.mark.django_db(transaction=True)

WORKERS = 4
ALWAYS = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@pytest.fixture(autouse=True)
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the race needs PostgreSQL's concurrent writers (set DATABASE_URL)")


def together(call, now):
    barrier = threading.Barrier(WORKERS, timeout=60)
    failures = []

    def run():
        try:
            barrier.wait()
            call(now=now)
        except BaseException as error:  # surfaced below
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def test_sweeps_running_at_once_send_each_reminder_once(agency, time_machine):
    now = dt.datetime(2026, 5, 4, 10, 0, tzinfo=dt.UTC)
    time_machine.move_to(now, tick=False)
    admins = [MembershipFactory(agency=agency, role=Role.ADMIN) for _ in range(2)]
    team = [
        AssistantProfileFactory(agency=agency, working_hours=ALWAYS).membership for _ in range(3)
    ]
    for n in range(30):
        TaskFactory(
            agency=agency,
            status="in_progress",
            assignee=team[n % 3],
            due_at=now + dt.timedelta(minutes=30 + n),  # due soon and at risk
        )
        TaskFactory(agency=agency, due_at=now - dt.timedelta(minutes=n + 1))  # overdue

    together(sweep_task_reminders, now)
    together(sweep_billing_reminders, now)
    together(deliver_due_emails, now)

    with scopes_disabled():
        made = list(
            Notification.objects.values_list("recipient_id", "kind", "target_id", "occasion")
        )
        emailed = Notification.objects.filter(emailed_at__isnull=False).count()
    assert not [key for key, times in Counter(made).items() if times > 1]
    kinds = Counter(kind for _, kind, _, _ in made)
    assert kinds == {
        "task_due_soon": 30,
        "task_overdue_staff": 30 * len(admins),
    }
    # at risk needs "not started": these are in progress, so none
    assert emailed == len(made)
    sent = Counter((tuple(m.to), m.subject) for m in mail.outbox)
    assert len(mail.outbox) == len(made) and max(sent.values()) == 1


def test_delivery_running_at_once_sends_each_waiting_email_once(agency, time_machine):
    """E-mails that waited for an assistant's shift are claimed row by row."""
    now = dt.datetime(2026, 5, 9, 12, 0, tzinfo=dt.UTC)  # a Saturday: off shift
    time_machine.move_to(now, tick=False)
    team = [AssistantProfileFactory(agency=agency, time_zone="UTC").membership for _ in range(3)]
    for n in range(20):
        TaskFactory(
            agency=agency,
            status="in_progress",
            assignee=team[n % 3],
            due_at=now + dt.timedelta(hours=20, minutes=n),
        )
    sweep_task_reminders(now=now)
    assert mail.outbox == []
    monday = dt.datetime(2026, 5, 11, 9, 0, tzinfo=dt.UTC)
    time_machine.move_to(monday, tick=False)
    together(deliver_due_emails, monday)
    assert len(mail.outbox) == 20
    assert len({(tuple(m.to), m.subject) for m in mail.outbox}) == 20
