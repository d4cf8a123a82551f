"""Task reminders: beat's sweep (due soon, overdue, at risk, unassigned) and the event
notifications (assigned, taken, waiting on the client, a client's reply, awaiting approval),
each moved into place by time-machine, in zones on both sides of UTC and across DST."""

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from core.roles import Role
from core.tenancy import agency_scope, scopes_disabled
from notifications.models import Notification
from notifications.services import deliver_due_emails
from tasks import services
from tasks.reminders import sweep_task_reminders
from tests.assistants.factories import AssistantProfileFactory
from tests.factories import MembershipFactory
from tests.tasks.factories import TaskFactory

pytestmark = pytest.mark.django_db

ALWAYS = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    """Run the sweep as beat does: its e-mails are queued (and, eager, sent) on commit."""

    def run() -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return sweep_task_reminders(now=timezone.now())

    return run


def rows(**filters):
    with scopes_disabled():
        return list(Notification.objects.filter(**filters).order_by("pk"))


@pytest.fixture
def people(agency):
    assistant = AssistantProfileFactory(
        agency=agency, time_zone="Asia/Tokyo", working_hours=ALWAYS
    ).membership
    admin = MembershipFactory(agency=agency, role=Role.ADMIN)
    return assistant, admin


def test_due_soon_follows_the_lead_time_of_each_priority_and_is_sent_once(
    sweep, agency, people, time_machine
):
    assistant, _admin = people
    time_machine.move_to("2026-05-04 10:00Z", tick=False)
    normal = TaskFactory(
        agency=agency, status="in_progress", assignee=assistant, priority=1,
        due_at=utc("2026-05-05 09:00Z"),
    )  # fmt: skip
    urgent = TaskFactory(
        agency=agency, status="assigned", assignee=assistant, priority=3,
        due_at=utc("2026-05-04 13:00Z"),
    )  # fmt: skip
    sweep()  # normal: within 24 h; urgent: 3 h away, its lead is 2 h
    assert [n.target_id for n in rows(kind="task_due_soon")] == [normal.pk]
    time_machine.move_to("2026-05-04 11:30Z", tick=False)
    sweep()
    assert sorted(n.target_id for n in rows(kind="task_due_soon")) == sorted([normal.pk, urgent.pk])
    assert sweep() == 0 and sweep() == 0  # again and again: nothing more
    assert len(rows(kind="task_due_soon")) == 2
    first = rows(kind="task_due_soon")[0]
    assert first.recipient == assistant.user
    # In the assistant's zone (Tokyo, UTC+9): 09:00Z is 18:00 JST.
    assert "Tue 5 May 2026, 18:00 JST" in first.body
    assert first.link == f"/a/{agency.slug}/tasks/{normal.pk}/"
    assert [m.to for m in mail.outbox].count([assistant.user.email]) == 2


def test_a_new_due_time_is_a_new_occasion(sweep, agency, people, time_machine):
    assistant, _ = people
    time_machine.move_to("2026-05-04 10:00Z", tick=False)
    task = TaskFactory(
        agency=agency, status="in_progress", assignee=assistant, due_at=utc("2026-05-04 20:00Z")
    )
    assert sweep() == 1
    with scopes_disabled():
        task.due_at = utc("2026-05-04 22:00Z")
        task.save()
    assert sweep() == 1
    assert len(rows(kind="task_due_soon")) == 2


def test_overdue_goes_to_the_assignee_and_the_admins_once(sweep, agency, people, time_machine):
    assistant, admin = people
    time_machine.move_to("2026-05-04 10:00Z", tick=False)
    task = TaskFactory(
        agency=agency, status="in_progress", assignee=assistant, due_at=utc("2026-05-04 12:00Z")
    )
    sweep()
    time_machine.move_to("2026-05-04 12:05Z", tick=False)
    assert sweep() == 2
    assert {
        (n.recipient_id, n.kind) for n in rows(target_id=task.pk, kind__contains="overdue")
    } == {
        (assistant.user_id, "task_overdue"),
        (admin.user_id, "task_overdue_staff"),
    }
    assert sweep() == 0
    # Agency staff read it in the agency's zone (Europe/London, BST in May).
    staff_note = rows(kind="task_overdue_staff")[0]
    assert "13:00 BST" in staff_note.body


def test_old_overdue_work_is_not_read_again(sweep, agency, people, time_machine):
    """What fell due before the look-back window is history, not a reminder."""
    assistant, _ = people
    time_machine.move_to("2026-05-10 10:00Z", tick=False)
    TaskFactory(
        agency=agency, status="in_progress", assignee=assistant, due_at=utc("2026-05-01 10:00Z")
    )
    assert sweep() == 0


def test_at_risk_and_unassigned_go_to_admins(sweep, agency, people, time_machine):
    _, admin = people
    owner = MembershipFactory(agency=agency, role=Role.OWNER)
    time_machine.move_to("2026-05-04 10:00Z", tick=False)
    soon = TaskFactory(agency=agency, due_at=utc("2026-05-04 13:00Z"))  # queued, due in 3 h
    later = TaskFactory(agency=agency, due_at=utc("2026-05-06 13:00Z"))
    sweep()
    assert {(n.recipient_id, n.target_id) for n in rows(kind="task_at_risk")} == {
        (admin.user_id, soon.pk),
        (owner.user_id, soon.pk),
    }
    assert rows(kind="task_unassigned") == []
    time_machine.move_to("2026-05-04 12:01Z", tick=False)  # queued for over 2 hours
    sweep()
    assert {n.target_id for n in rows(kind="task_unassigned")} == {soon.pk, later.pk}
    assert len(rows(kind="task_unassigned")) == 4  # two tasks, two admins
    assert sweep() == 0


def test_assistant_email_waits_for_working_hours_across_a_dst_change(sweep, agency, time_machine):
    """New York springs forward on Sunday 8 March 2026. An assistant working 09:00-17:00
    Monday to Friday hears on Saturday evening of a task due on Monday: the notification is
    in the app at once, the e-mail goes at 09:00 on their clock on Monday, which is 13:00
    UTC (EDT), not 14:00 (what EST would have made it)."""
    assistant = AssistantProfileFactory(agency=agency, time_zone="America/New_York").membership
    time_machine.move_to("2026-03-07 23:00Z", tick=False)  # Sat 18:00 EST
    TaskFactory(
        agency=agency, status="assigned", assignee=assistant, priority=0,
        due_at=utc("2026-03-09 15:00Z"),
    )  # fmt: skip
    assert sweep() == 1
    (note,) = rows(kind="task_due_soon")
    assert note.email_due_at == utc("2026-03-09 13:00Z")
    assert "Mon 9 Mar 2026, 11:00 EDT" in note.body
    assert mail.outbox == []
    time_machine.move_to("2026-03-09 12:59Z", tick=False)
    deliver_due_emails(now=timezone.now())
    assert mail.outbox == []
    time_machine.move_to("2026-03-09 13:00Z", tick=False)
    deliver_due_emails(now=timezone.now())
    deliver_due_emails(now=timezone.now())  # a second run sends nothing again
    assert [m.subject for m in mail.outbox] == [note.title]
    assert f"/a/{agency.slug}/tasks/" in mail.outbox[0].body
    html = mail.outbox[0].alternatives[0][0]
    assert "Open the task" in html and note.link in html


def test_urgent_work_does_not_wait_for_working_hours(sweep, agency, time_machine):
    assistant = AssistantProfileFactory(
        agency=agency, time_zone="America/Los_Angeles"
    ).membership  # UTC-7 in May
    time_machine.move_to("2026-05-04 09:00Z", tick=False)  # 02:00 in Los Angeles
    TaskFactory(
        agency=agency, status="assigned", assignee=assistant, priority=3,
        due_at=utc("2026-05-04 10:00Z"),
    )  # fmt: skip
    assert sweep() == 1
    assert [m.to for m in mail.outbox] == [[assistant.user.email]]
    assert "Mon 4 May 2026, 03:00 PDT" in mail.outbox[0].body


def test_sweep_cost_follows_what_is_due_not_what_exists(
    sweep, agency, people, time_machine, count_queries
):
    assistant, _ = people
    time_machine.move_to("2026-05-04 10:00Z", tick=False)
    TaskFactory(
        agency=agency, status="in_progress", assignee=assistant, due_at=utc("2026-05-04 12:00Z")
    )
    sweep()
    few = count_queries(sweep)
    for _ in range(30):  # far from due, or finished: never read
        TaskFactory(agency=agency, due_at=utc("2026-07-01 12:00Z"))
        TaskFactory(agency=agency, status="completed", due_at=utc("2026-05-04 11:00Z"))
    assert count_queries(sweep) == few


def test_other_agencies_hear_nothing_of_it(sweep, agency, other_agency, people, time_machine):
    theirs = MembershipFactory(agency=other_agency, role=Role.ADMIN)
    time_machine.move_to("2026-05-04 10:00Z", tick=False)
    TaskFactory(agency=agency, due_at=utc("2026-05-04 11:00Z"))
    sweep()
    assert rows(recipient=theirs.user) == []
    assert {n.agency_id for n in rows()} == {agency.pk}


# -- events ----------------------------------------------------------------------------------


@pytest.fixture
def world(agency, people):
    assistant, admin = people
    task = TaskFactory(agency=agency)
    person = MembershipFactory(agency=agency, role=Role.CLIENT, client=task.client)
    return assistant, admin, person, task


def test_the_life_of_a_task_tells_each_side_what_it_needs(
    agency, world, django_capture_on_commit_callbacks
):
    assistant, admin, person, task = world
    with agency_scope(agency):
        with django_capture_on_commit_callbacks(execute=True):
            services.task_assign(agency=agency, actor=admin.user, task=task, assignee=assistant)
        assert [(n.recipient_id, n.kind) for n in rows()] == [
            (assistant.user_id, "task_assigned"),
            (person.user_id, "task_taken"),
        ]
        task.refresh_from_db()
        services.task_start(agency=agency, actor=assistant.user, membership=assistant, task=task)
        with django_capture_on_commit_callbacks(execute=True):
            services.task_ask_client(
                agency=agency, actor=assistant.user, membership=assistant, task=task,
                question="Window or aisle?",
            )  # fmt: skip
        task.refresh_from_db()
        (asked,) = rows(kind="task_waiting_on_you")
        assert asked.recipient == person.user and "Window or aisle?" in asked.body
        with django_capture_on_commit_callbacks(execute=True):
            services.comment_add(
                agency=agency, actor=person.user, membership=person, task=task, body="Aisle"
            )
            task.refresh_from_db()
            services.comment_add(
                agency=agency, actor=person.user, membership=person, task=task, body="Thanks!"
            )
        task.refresh_from_db()
        replies = rows(kind="client_replied")
        assert [n.body for n in replies] == ["Aisle", "Thanks!"]
        assert {n.recipient_id for n in replies} == {assistant.user_id}
        with django_capture_on_commit_callbacks(execute=True) as hooks:
            services.task_complete(
                agency=agency, actor=assistant.user, membership=assistant, task=task,
                summary="Booked, aisle seat.",
            )  # fmt: skip
        assert len(hooks) == 1  # still exactly one job on completion
    (done,) = rows(kind="task_awaiting_approval")
    assert done.recipient == person.user and done.emailed_at is not None
    assert mail.outbox[-1].subject == f"Done: {task.title}"
    assert "Booked, aisle seat." in mail.outbox[-1].body
    assert "Approve it or send it back" in mail.outbox[-1].body
    # The assistant's own actions never notify the assistant.
    assert not rows(recipient=assistant.user, kind="task_taken")


def test_taking_from_the_pool_tells_the_client_once_per_trip(agency, world):
    assistant, _, person, task = world
    with agency_scope(agency):
        services.task_assign(agency=agency, actor=None, task=task, assignee=assistant)
        services.task_release(agency=agency, actor=assistant.user, membership=assistant, task=task)
        services.task_assign(agency=agency, actor=None, task=task, assignee=assistant)
    assert len(rows(kind="task_taken", recipient=person.user)) == 2


def test_no_email_when_the_person_turned_the_kind_off(agency, world):
    from notifications.services import preferences_update

    assistant, admin, person, task = world
    with agency_scope(agency):
        preferences_update(
            agency=agency, actor=person.user, membership=person, email={"task_taken": False}
        )
        services.task_assign(agency=agency, actor=admin.user, task=task, assignee=assistant)
    (note,) = rows(kind="task_taken")
    assert note.email_due_at is None  # in the app only
