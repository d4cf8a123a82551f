"""Reminders and notifications about tasks.

Beat's sweep (`sweep_task_reminders`) finds what has come due across agencies with one
indexed range read per rule, never a scan of all tasks:
- to the assignee: their task is due within its priority's lead time, or now overdue;
- to the agency's admins: a task at risk (due within tasks.queries.AT_RISK_WITHIN and not
  started), a task overdue, a task queued for longer than UNASSIGNED_TOO_LONG.
Each rule reads a window of due times (or queue times) bounded on both sides, so its cost
follows how much work falls due, not how much exists; LOOKBACK is how long a missed sweep
(beat down) may be caught up. What was already said is read for those tasks only.

The event notifications (a task assigned, taken, waiting on the client, a client's reply,
work awaiting approval) are made by tasks.services and tasks.jobs through the functions
at the bottom, inside the transaction of the change they report.
"""

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from core.tenancy import in_agencies, scopes_disabled
from notifications.models import NotificationKind
from notifications.selectors import (
    already_said,
    client_recipients,
    member_recipients,
    staff_recipients,
)
from notifications.services import NotificationBatch, notification_email_send, notify
from tasks.models import OPEN_STATUSES, Priority, Task, TaskStatus
from tasks.queries import AT_RISK_WITHIN, NOT_STARTED, UNASSIGNED_TOO_LONG

K = NotificationKind
S = TaskStatus

# How long before its due time the assignee hears about a task, by priority.
LEAD_TIMES = {
    Priority.URGENT: dt.timedelta(hours=2),
    Priority.HIGH: dt.timedelta(hours=4),
    Priority.NORMAL: dt.timedelta(hours=24),
    Priority.LOW: dt.timedelta(hours=48),
}
# How far back a sweep looks for lines crossed (a due time passed, a queue wait grown too
# long), so a few days of beat being down are caught up and older history is never read.
LOOKBACK = dt.timedelta(days=3)
# Statuses in which the assignee can act on the task (waiting on client: the client must).
WORKABLE = (S.ASSIGNED, S.IN_PROGRESS)


def task_link(task: Task) -> str:
    return reverse("task_detail", args=[task.agency.slug, task.pk])


def _candidates(**window):
    with scopes_disabled():
        return list(
            Task.objects.filter(**window)
            .select_related("agency", "client", "assignee__user")
            .order_by("due_at", "pk")
        )


def sweep_task_reminders(*, now: dt.datetime) -> int:
    """Beat: every task reminder whose moment has come. Returns how many were made."""
    return _due_soon(now) + _overdue(now) + _unassigned(now)


def _due_soon(now) -> int:
    """Due soon (to the assignee) and at risk (to admins): one read of open work due
    within the longest lead time, through the partial index on open tasks' due times."""
    horizon = max(*LEAD_TIMES.values(), AT_RISK_WITHIN)
    tasks = _candidates(status__in=OPEN_STATUSES, due_at__gt=now, due_at__lte=now + horizon)
    made = 0
    for agency, rows in in_agencies(tasks, lambda t: t.agency):
        batch = NotificationBatch(agency=agency, now=now)
        said = already_said(
            agency=agency,
            model=Task,
            ids=[t.pk for t in rows],
            kinds=[K.TASK_DUE_SOON, K.TASK_AT_RISK],
        )
        staff = None
        assignees = member_recipients(
            agency=agency,
            membership_ids=[t.assignee_id for t in rows if t.assignee_id and t.status in WORKABLE],
        )
        for task in rows:
            occasion = task.due_at.isoformat()
            lead = LEAD_TIMES.get(task.priority, LEAD_TIMES[Priority.NORMAL])
            person = assignees.get(task.assignee_id)
            if (
                person is not None
                and task.status in WORKABLE
                and task.due_at <= now + lead
                and (person.user.pk, K.TASK_DUE_SOON, task.pk, occasion) not in said
            ):
                _add(
                    batch,
                    person,
                    K.TASK_DUE_SOON,
                    task,
                    occasion,
                    f"Due soon: {task.title}",
                    f"{task.title} for {task.client.name} is due {person.when(task.due_at)} "
                    f"(priority {task.get_priority_display().lower()}).",
                    now,
                )
            if task.status in NOT_STARTED and task.due_at < now + AT_RISK_WITHIN:
                staff = staff if staff is not None else staff_recipients(agency=agency)
                who = (
                    f"assigned to {task.assignee.user} but not started"
                    if task.assignee_id
                    else "not taken by anyone"
                )
                for admin in staff:
                    if (admin.user.pk, K.TASK_AT_RISK, task.pk, occasion) in said:
                        continue
                    _add(
                        batch,
                        admin,
                        K.TASK_AT_RISK,
                        task,
                        occasion,
                        f"At risk: {task.title}",
                        f"{task.title} for {task.client.name} is due "
                        f"{admin.when(task.due_at)} and is {who}.",
                        now,
                    )
        made += batch.flush()
    return made


def _overdue(now) -> int:
    """Overdue, to the assignee (if they can act on it) and to admins: open work whose due
    time passed within LOOKBACK."""
    tasks = _candidates(status__in=OPEN_STATUSES, due_at__gt=now - LOOKBACK, due_at__lte=now)
    made = 0
    for agency, rows in in_agencies(tasks, lambda t: t.agency):
        batch = NotificationBatch(agency=agency, now=now)
        said = already_said(
            agency=agency,
            model=Task,
            ids=[t.pk for t in rows],
            kinds=[K.TASK_OVERDUE, K.TASK_OVERDUE_STAFF],
        )
        staff = staff_recipients(agency=agency)
        assignees = member_recipients(
            agency=agency,
            membership_ids=[t.assignee_id for t in rows if t.assignee_id and t.status in WORKABLE],
        )
        for task in rows:
            occasion = task.due_at.isoformat()
            person = assignees.get(task.assignee_id)
            if (
                person is not None
                and task.status in WORKABLE
                and (person.user.pk, K.TASK_OVERDUE, task.pk, occasion) not in said
            ):
                _add(
                    batch,
                    person,
                    K.TASK_OVERDUE,
                    task,
                    occasion,
                    f"Overdue: {task.title}",
                    f"{task.title} for {task.client.name} was due {person.when(task.due_at)}. "
                    "Finish it, or ask for help or hand it back with a note.",
                    now,
                )
            for admin in staff:
                if (admin.user.pk, K.TASK_OVERDUE_STAFF, task.pk, occasion) in said:
                    continue
                holder = f"with {task.assignee.user}" if task.assignee_id else "unassigned"
                _add(
                    batch,
                    admin,
                    K.TASK_OVERDUE_STAFF,
                    task,
                    occasion,
                    f"Overdue: {task.title}",
                    f"{task.title} for {task.client.name} was due {admin.when(task.due_at)} "
                    f"and is {task.get_status_display().lower()} ({holder}).",
                    now,
                )
        made += batch.flush()
    return made


def _unassigned(now) -> int:
    """Queued past UNASSIGNED_TOO_LONG, to admins, once per trip through the pool."""
    since = now - UNASSIGNED_TOO_LONG
    tasks = _candidates(status=S.QUEUED, queued_at__gt=since - LOOKBACK, queued_at__lte=since)
    made = 0
    for agency, rows in in_agencies(tasks, lambda t: t.agency):
        batch = NotificationBatch(agency=agency, now=now)
        said = already_said(
            agency=agency, model=Task, ids=[t.pk for t in rows], kinds=[K.TASK_UNASSIGNED]
        )
        staff = staff_recipients(agency=agency)
        for task in rows:
            occasion = task.queued_at.isoformat()
            for admin in staff:
                if (admin.user.pk, K.TASK_UNASSIGNED, task.pk, occasion) in said:
                    continue
                _add(
                    batch,
                    admin,
                    K.TASK_UNASSIGNED,
                    task,
                    occasion,
                    f"Nobody has taken: {task.title}",
                    f"{task.title} for {task.client.name} has waited in the pool since "
                    f"{admin.when(task.queued_at)}; it is due {admin.when(task.due_at)}. "
                    "Assign it to someone.",
                    now,
                )
        made += batch.flush()
    return made


def _add(batch, recipient, kind, task, occasion, title, body, now) -> None:
    """A sweep's reminder, made and e-mailed with the rest of its agency's (flush)."""
    batch.add(
        recipient=recipient,
        kind=kind,
        target=task,
        occasion=occasion,
        title=title,
        body=body,
        link=task_link(task),
        urgent=task.priority == Priority.URGENT,
    )


def _tell(agency, recipient, kind, task, occasion, title, body, now) -> int:
    made = notify(
        agency=agency,
        recipient=recipient,
        kind=kind,
        target=task,
        occasion=occasion,
        title=title,
        body=body,
        link=task_link(task),
        urgent=task.priority == Priority.URGENT,
        now=now,
    )
    return made is not None


# -- events, told as they happen ------------------------------------------------------------


def _task_for_events(task: Task) -> Task:
    return Task.objects.select_related("agency", "client", "assignee__user").get(pk=task.pk)


def _tell_assignee(agency, task: Task, kind, occasion, title, body) -> None:
    """To the task's assistant; `body` is a text, or made from the recipient (their clock)."""
    if task.assignee_id is None:
        return
    person = member_recipients(agency=agency, membership_ids=[task.assignee_id]).get(
        task.assignee_id
    )
    if person is not None:
        text = body(person) if callable(body) else body
        _tell(agency, person, kind, task, occasion, title, text, timezone.now())


def _tell_client_people(agency, task: Task, kind, occasion, title, body, **options) -> list:
    """To each of the client's people; `body` as for _tell_assignee. Returns the rows made
    (None where the notification already existed)."""
    return [
        notify(
            agency=agency,
            recipient=person,
            kind=kind,
            target=task,
            occasion=occasion,
            title=title,
            body=body(person) if callable(body) else body,
            link=task_link(task),
            **options,
        )
        for person in client_recipients(agency=agency, client_ids=[task.client_id]).get(
            task.client_id, []
        )
    ]


def tell_assigned(*, agency, task: Task, actor) -> None:
    """To the assistant a task was given to (not when they took it themselves)."""
    task = _task_for_events(task)
    if task.assignee_id is None or task.assignee.user_id == getattr(actor, "pk", None):
        return
    _tell_assignee(
        agency,
        task,
        K.TASK_ASSIGNED,
        timezone.now().isoformat(),
        f"Assigned to you: {task.title}",
        lambda person: (
            f"{task.title} for {task.client.name} is yours now; it is due "
            f"{person.when(task.due_at)}."
        ),
    )


def tell_taken(*, agency, task: Task) -> None:
    """To the client's people: someone has their request (once per trip through the pool)."""
    task = _task_for_events(task)
    _tell_client_people(
        agency,
        task,
        K.TASK_TAKEN,
        task.queued_at.isoformat(),
        f"Taken: {task.title}",
        lambda person: (
            f"{task.assignee.user} is working on {task.title}; it is due "
            f"{person.when(task.due_at)}."
        ),
    )


def tell_waiting_on_client(*, agency, task: Task, question) -> None:
    """To the client's people: the assistant needs their answer."""
    task = _task_for_events(task)
    _tell_client_people(
        agency,
        task,
        K.TASK_WAITING_ON_YOU,
        f"comment-{question.pk}",
        f"Your answer is needed: {task.title}",
        f"{task.assignee.user} asks: {question.body}",
    )


def tell_client_replied(*, agency, task: Task, comment) -> None:
    """To the assignee: the client answered or commented on their task."""
    task = _task_for_events(task)
    _tell_assignee(
        agency,
        task,
        K.CLIENT_REPLIED,
        f"comment-{comment.pk}",
        f"{task.client.name} replied: {task.title}",
        comment.body,
    )


def tell_awaiting_approval(*, agency, task: Task, send_now: bool = False) -> int:
    """To the client's people: the work is done; approve it or send it back. Called by the
    completion job, which runs after the completion committed: with `send_now` the e-mail
    goes from that job rather than from another one (beat's delivery sweep sends any that
    fail). Returns how many e-mails were sent now."""
    task = _task_for_events(task)
    made = _tell_client_people(
        agency,
        task,
        K.TASK_AWAITING_APPROVAL,
        task.completed_at.isoformat(),
        f"Done: {task.title}",
        task.completion_summary,
        queue_email=not send_now,
    )
    if not send_now:
        return 0
    return sum(
        notification_email_send(agency=agency, notification_id=row.pk)
        for row in made
        if row is not None
    )
