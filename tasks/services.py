"""Task life: requested -> queued -> assigned -> in_progress <-> waiting_on_client ->
completed, and cancelled from any open state. Every move happens here, writes an audit row
with the actor, and an illegal move is a clear error."""

import datetime as dt
import mimetypes
import os
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from clients.permissions import ClientRight, client_actor_check
from clients.services import client_ensure_active
from contracts.caps import check_request_within_cap
from contracts.request_templates import clean_values
from core.audit import audit_record
from core.errors import ApplicationError, text_within, unique_or_error
from core.file_types import upload_check
from core.jobs import queue_job
from core.roles import STAFF_ROLES, Role
from core.times import local_midnight, local_today
from tasks import hooks as task_hooks
from tasks import reminders, report_months
from tasks.models import (
    ACTIVE_STATUSES,
    MESSAGE_MAX_CHARS,
    TIME_NOTE_MAX_CHARS,
    TITLE_MAX_CHARS,
    Attachment,
    Comment,
    Priority,
    Task,
    TaskStatus,
    TimeEntry,
)
from tasks.ratings import rating_clean, task_rating_record
from tasks.selectors import contracted_line, pool_for
from tasks.timesheets import time_lock_check

S = TaskStatus
TRANSITIONS = {
    S.REQUESTED: {S.QUEUED, S.CANCELLED},
    S.QUEUED: {S.ASSIGNED, S.CANCELLED},
    S.ASSIGNED: {S.IN_PROGRESS, S.QUEUED, S.ASSIGNED, S.CANCELLED},
    S.IN_PROGRESS: {S.WAITING_ON_CLIENT, S.COMPLETED, S.QUEUED, S.ASSIGNED, S.CANCELLED},
    S.WAITING_ON_CLIENT: {S.IN_PROGRESS, S.QUEUED, S.ASSIGNED, S.CANCELLED},
    S.COMPLETED: {S.IN_PROGRESS},  # sent back by the client
    S.CANCELLED: set(),
}


def _move(task: Task, to: str, *, actor, action: str, **details) -> None:
    """Change a locked task's status, or refuse with the reason."""
    if to not in TRANSITIONS[task.status]:
        raise ApplicationError(
            f"A task that is {task.get_status_display().lower()} cannot become "
            f"{TaskStatus(to).label.lower()}.",
            code="task_transition_invalid",
            extra={"status": task.status},
        )
    previous = task.status
    task.status = to
    task.save()
    audit_record(
        agency=task.agency,
        actor=actor,
        action=action,
        target=task,
        previous=previous,
        status=to,
        **details,
    )


def _locked(task: Task) -> Task:
    return Task.objects.select_for_update().select_related("agency").get(pk=task.pk)


# -- clients ask -------------------------------------------------------------------------


def task_request(
    *,
    agency,
    actor,
    client,
    service,
    title: str,
    details: str = "",
    due_at=None,
    priority: int = Priority.NORMAL,
    max_budget: int | None = None,
    template_data=None,
    over_cap_approved: bool = False,
) -> Task:
    """A client asks for work. Only a service their active contract names may be requested;
    the service's request-form fields are checked; the due time defaults to the service's
    turnaround from now and may not be in the past; a line's monthly budget cap blocks the
    request, or needs the client's approval to go over, as its terms say."""
    if client.agency_id != agency.pk:
        raise ApplicationError("Unknown client.", code="task_client_invalid")
    client_ensure_active(client=client)
    client_actor_check(agency=agency, actor=actor, client_id=client.pk, what=ClientRight.REQUEST)
    task_hooks.request_check(agency=agency, client=client, actor=actor)
    line = contracted_line(agency=agency, client=client, service=service)
    now = timezone.now()
    if due_at is None:
        due_at = now + dt.timedelta(hours=service.default_turnaround_hours)
    if due_at <= now:
        raise ApplicationError(
            "The due time has already passed.", code="task_due_in_past", extra={"field": "due_at"}
        )
    if max_budget is not None and max_budget < 0:
        raise ApplicationError(
            "A budget cannot be negative.",
            code="task_budget_invalid",
            extra={"field": "max_budget"},
        )
    if priority not in Priority.values:
        raise ApplicationError(
            "Choose a priority.", code="task_priority_invalid", extra={"field": "priority"}
        )
    title = text_within(title, limit=TITLE_MAX_CHARS, field="title", label="A title")
    if not title:
        raise ApplicationError(
            "Give the request a title.", code="task_title_required", extra={"field": "title"}
        )
    cleaned = task_template_values(service, template_data or {})
    over_cap = check_request_within_cap(
        agency=agency, line=line, max_budget=max_budget, over_cap_approved=over_cap_approved
    )
    with transaction.atomic():
        task = Task.objects.create(
            agency=agency,
            client=client,
            contract_line=line,
            contract=line.contract,
            service=service,
            category=service.category,
            title=title,
            details=details,
            template_data=cleaned,
            priority=priority,
            due_at=due_at,
            max_budget=max_budget,
            over_cap_approved=over_cap,
            currency=line.contract.currency,
            status=S.QUEUED,
            requested_by=actor,
        )
        audit_record(
            agency=agency,
            actor=actor,
            action="task.requested",
            target=task,
            status=S.QUEUED,
            **({"over_budget_cap_approved": True} if over_cap else {}),
        )
    return task


def task_template_values(service, data: dict) -> dict:
    """Check a request's extra fields against the service's template; store them as text."""
    return clean_values(service.request_template, data)


def task_cancel(*, agency, actor, membership, task: Task, reason: str = "") -> Task:
    """Cancel open work. A client may cancel their own request until someone has it;
    staff may cancel any open task. A running timer on it stops."""
    reason = _message(reason, field="reason", label="A reason")
    with transaction.atomic():
        task = _locked(task)
        if membership.role == Role.CLIENT and task.status not in (S.REQUESTED, S.QUEUED):
            raise ApplicationError(
                "Someone is already working on this; ask the agency to cancel it.",
                code="task_cancel_too_late",
            )
        _stop_timers_on(task)
        task.cancelled_at = timezone.now()
        task.cancel_reason = reason
        _move(task, S.CANCELLED, actor=actor, action="task.cancelled", reason=task.cancel_reason)
    return task


# -- assistants work --------------------------------------------------------------------


def task_take_next(*, agency, actor, membership) -> Task | None:
    """Claim the most urgent task of the assistant's pool, or None when the pool is empty.

    The claim is a conditional update (still queued, still unassigned), so two assistants
    pressing at the same moment never get the same task; the assistant's profile row is
    locked so one person's double click cannot pass their capacity.
    """
    with transaction.atomic():
        _lock_room_for_one_more(membership)
        pool = pool_for(agency=agency, membership=membership)
        if connection_supports_skip_locked():
            # Lock one candidate at a time: locking a batch would hide all of it from
            # everyone else pressing at the same moment, who would be told the pool is empty.
            pool = pool.select_for_update(skip_locked=True, of=("self",))
        for _attempt in range(20):
            candidate = pool.values_list("pk", flat=True).first()
            if candidate is None:
                return None
            task = _claim(agency=agency, actor=actor, membership=membership, task_pk=candidate)
            if task is not None:
                return task
    return None


def task_take(*, agency, actor, membership, task: Task) -> Task:
    """An assistant takes the pool task they are looking at, rather than the top one.

    The rules are take-next's: an active assistant with room within their capacity (the
    profile row is locked, so a double click cannot pass it), a task of their own pool,
    and a claim that is a conditional update: of two people taking it at the same moment,
    one gets it and the other is told it has gone.
    """
    with transaction.atomic():
        _lock_room_for_one_more(membership)
        if not pool_for(agency=agency, membership=membership).filter(pk=task.pk).exists():
            now = Task.objects.filter(pk=task.pk).values("status", "assignee_id").get()
            if now["assignee_id"] is not None or now["status"] != S.QUEUED:
                raise ApplicationError(
                    "Someone has already taken this task.", code="task_already_taken"
                )
            raise ApplicationError(
                "This task is not in your pool: it needs skills or a contract you do not have.",
                code="task_not_in_pool",
            )
        taken = _claim(agency=agency, actor=actor, membership=membership, task_pk=task.pk)
        if taken is None:
            raise ApplicationError("Someone has just taken this task.", code="task_already_taken")
    return taken


def _lock_room_for_one_more(membership) -> None:
    """Lock the assistant's profile row and check they may hold one more active task."""
    from assistants.models import AssistantProfile

    profile = (
        AssistantProfile.objects.select_for_update()
        .filter(membership=membership, is_active=True)
        .first()
    )
    if profile is None:
        raise ApplicationError(
            "Only an active assistant can take work.", code="task_not_an_assistant"
        )
    _refuse_if_away(agency=profile.agency_id, membership=membership, yourself=True)
    load = Task.objects.filter(assignee=membership, status__in=ACTIVE_STATUSES).count()
    if load >= profile.capacity:
        raise ApplicationError(
            f"You already hold {load} active tasks, your capacity. Finish or hand one over first.",
            code="task_capacity_reached",
        )


def _refuse_if_away(*, agency, membership, yourself: bool) -> None:
    """Nobody on approved time off is given work, by themselves or by staff; the tasks
    they already hold stay theirs."""
    from assistants.selectors import time_off_in_force

    away = time_off_in_force(agency=agency, at=timezone.now()).filter(assistant=membership)
    away = away.values_list("ends_on", flat=True).first()
    if away is None:
        return
    until = f"{away:%a} {away.day} {away:%b %Y}"
    if yourself:
        raise ApplicationError(
            f"You are on time off until {until}: new work waits for your return.",
            code="task_taker_on_time_off",
        )
    raise ApplicationError(
        f"{membership.user} is on time off until {until} (their calendar): choose someone "
        "else, or the cover named on their time off.",
        code="task_assignee_on_time_off",
        extra={"field": "assignee"},
    )


def _claim(*, agency, actor, membership, task_pk: int) -> Task | None:
    """Give a queued, unassigned task to the assistant, or None if it is no longer both."""
    claimed = Task.objects.filter(pk=task_pk, status=S.QUEUED, assignee__isnull=True).update(
        status=S.ASSIGNED, assignee=membership
    )
    if not claimed:
        return None
    task = Task.objects.get(pk=task_pk)
    audit_record(
        agency=agency,
        actor=actor,
        action="task.taken",
        target=task,
        previous=S.QUEUED,
        status=S.ASSIGNED,
        assignee=membership.pk,
    )
    reminders.tell_taken(agency=agency, task=task)
    return task


def connection_supports_skip_locked() -> bool:
    from django.db import connection

    return connection.features.has_select_for_update_skip_locked


def task_assign(*, agency, actor, task: Task, assignee, note: str = "") -> Task:
    """Staff give a task to an assistant (or another one), with an optional handover note
    that only the agency's people see. A running timer of the previous assignee stops."""
    note = _message(note, field="note", label="A handover note")
    if assignee.agency_id != agency.pk or assignee.role != Role.ASSISTANT or not assignee.is_active:
        raise ApplicationError(
            "Choose an assistant of the agency.",
            code="task_assignee_invalid",
            extra={"field": "assignee"},
        )
    _refuse_if_away(agency=agency, membership=assignee, yourself=False)
    with transaction.atomic():
        task = _locked(task)
        previous = task.assignee_id
        from_pool = task.status in (S.REQUESTED, S.QUEUED)
        _stop_timers_on(task)
        task.assignee = assignee
        _move(
            task,
            S.ASSIGNED,
            actor=actor,
            action="task.assigned",
            assignee=assignee.pk,
            previous_assignee=previous,
        )
        _handover(task, actor, note)
        if previous != assignee.pk:
            reminders.tell_assigned(agency=agency, task=task, actor=actor)
        if from_pool:
            reminders.tell_taken(agency=agency, task=task)
    return task


def task_release(*, agency, actor, membership, task: Task, note: str = "") -> Task:
    """An assistant hands their task back to the pool, leaving a note for whoever takes it."""
    note = _message(note, field="note", label="A handover note")
    with transaction.atomic():
        task = _locked(task)
        _require_assignee(task, membership)
        _stop_timers_on(task)
        task.assignee = None
        task.queued_at = timezone.now()
        _move(task, S.QUEUED, actor=actor, action="task.released")
        _handover(task, actor, note)
    return task


def _message(text: str | None, *, field: str, label: str) -> str:
    """What someone wrote on a task (a comment, question, answer, note, summary or reason),
    stripped, within MESSAGE_MAX_CHARS or refused with the limit named."""
    return text_within(text, limit=MESSAGE_MAX_CHARS, field=field, label=label)


def _handover(task, actor, note):
    if note.strip():
        Comment.objects.create(
            agency=task.agency,
            task=task,
            author=actor,
            kind=Comment.Kind.HANDOVER,
            body=note.strip(),
            internal=True,
        )


def _require_assignee(task: Task, membership) -> None:
    if task.assignee_id != membership.pk:
        raise ApplicationError("This task is not assigned to you.", code="task_not_yours")


def task_start(*, agency, actor, membership, task: Task) -> Task:
    """The assignee begins work on a task they hold. Finished work is reopened only by the
    client sending it back, never by starting it again."""
    with transaction.atomic():
        task = _locked(task)
        _require_assignee(task, membership)
        if task.status != S.ASSIGNED:
            raise ApplicationError(
                "Only an assigned task can be started.", code="task_not_startable"
            )
        _start(task, actor)
    return task


def _start(task: Task, actor) -> None:
    if task.status == S.IN_PROGRESS:
        return
    task.started_at = task.started_at or timezone.now()
    _move(task, S.IN_PROGRESS, actor=actor, action="task.started")


def task_ask_client(*, agency, actor, membership, task: Task, question: str) -> Task:
    """The assistant needs the client: the question goes on the task and the clock on the
    task waits (the running timer stops)."""
    question = _message(question, field="question", label="A question")
    if not question:
        raise ApplicationError(
            "Write the question for the client.",
            code="task_question_required",
            extra={"field": "body"},
        )
    with transaction.atomic():
        task = _locked(task)
        _require_assignee(task, membership)
        _stop_timers_on(task)
        asked = Comment.objects.create(
            agency=agency,
            task=task,
            author=actor,
            kind=Comment.Kind.QUESTION,
            body=question,
        )
        _move(task, S.WAITING_ON_CLIENT, actor=actor, action="task.waiting_on_client")
        reminders.tell_waiting_on_client(agency=agency, task=task, question=asked)
    return task


def task_answer(*, agency, actor, task: Task, answer: str) -> Task:
    """The client answers; the task goes back to its assistant."""
    answer = _message(answer, field="answer", label="An answer")
    if not answer:
        raise ApplicationError(
            "Write your answer.", code="task_answer_required", extra={"field": "body"}
        )
    with transaction.atomic():
        task = _locked(task)
        if task.status != S.WAITING_ON_CLIENT:
            raise ApplicationError(
                "Nobody is waiting for an answer on this task.", code="task_not_waiting"
            )
        answered = Comment.objects.create(
            agency=agency, task=task, author=actor, kind=Comment.Kind.ANSWER, body=answer
        )
        _move(task, S.IN_PROGRESS, actor=actor, action="task.answered")
        reminders.tell_client_replied(agency=agency, task=task, comment=answered)
    return task


def task_complete(*, agency, actor, membership, task: Task, summary: str) -> Task:
    """The assistant finishes with a summary for the client. Completion is the event billing
    hangs on: one job is queued once the transaction has committed."""
    summary = _message(summary, field="summary", label="A summary")
    if not summary:
        raise ApplicationError(
            "Tell the client what was done.",
            code="task_summary_required",
            extra={"field": "summary"},
        )
    with transaction.atomic():
        task = _locked(task)
        _require_assignee(task, membership)
        _stop_timers_on(task)
        if task.status == S.ASSIGNED:
            _start(task, actor)
        task.completed_at = timezone.now()
        task.completion_summary = summary
        task.approved_at = None
        task.approved_by = None
        _move(task, S.COMPLETED, actor=actor, action="task.completed")
        transaction.on_commit(
            lambda: queue_job("tasks.jobs.task_completed", agency_id=agency.pk, task_id=task.pk)
        )
    return task


def task_approve(
    *, agency, actor, task: Task, rating: int | str | None = None, rating_comment: str = ""
) -> Task:
    """The client accepts the finished work (and the time on it). Where the contract bills
    only approved work, approval is the event billing hangs on: one job on commit. They
    may rate the work 1 to 5 with a comment (tasks.ratings), in the same transaction."""
    client_actor_check(
        agency=agency, actor=actor, client_id=task.client_id, what=ClientRight.APPROVE
    )
    stars, rating_comment = rating_clean(rating, rating_comment)
    with transaction.atomic():
        task = _locked(task)
        if task.status != S.COMPLETED or task.approved_at is not None:
            raise ApplicationError(
                "Only finished, unapproved work can be approved.", code="task_not_awaiting_approval"
            )
        task.approved_at = timezone.now()
        task.approved_by = actor
        task.save(update_fields=["approved_at", "approved_by"])
        audit_record(agency=agency, actor=actor, action="task.approved", target=task)
        if stars is not None:
            task_rating_record(
                agency=agency, actor=actor, task=task, stars=stars, comment=rating_comment
            )
        if task.contract.requires_approval:
            transaction.on_commit(
                lambda: queue_job("billing.jobs.bill_task", agency_id=agency.pk, task_id=task.pk)
            )
    return task


def task_send_back(*, agency, actor, task: Task, reason: str) -> Task:
    """The client is not satisfied: the work goes back to the assistant with the reason."""
    client_actor_check(
        agency=agency, actor=actor, client_id=task.client_id, what=ClientRight.APPROVE
    )
    reason = _message(reason, field="reason", label="A reason")
    if not reason:
        raise ApplicationError(
            "Say what still needs doing.", code="task_reason_required", extra={"field": "reason"}
        )
    with transaction.atomic():
        task = _locked(task)
        if task.status != S.COMPLETED or task.approved_at is not None:
            raise ApplicationError(
                "Only finished, unapproved work can be sent back.",
                code="task_not_awaiting_approval",
            )
        Comment.objects.create(
            agency=agency, task=task, author=actor, kind=Comment.Kind.SEND_BACK, body=reason
        )
        report_months.tasks_touched(agency_id=agency.pk, tasks=[task])
        task.completed_at = None
        _move(task, S.IN_PROGRESS, actor=actor, action="task.sent_back")
    return task


# -- conversation and files --------------------------------------------------------------


def comment_add(
    *, agency, actor, membership, task: Task, body: str, internal: bool = False
) -> Comment:
    """Anyone who may see the task may comment; only the agency's people write internal
    notes. A client's comment on a task waiting for them is their answer."""
    body = _message(body, field="body", label="A comment")
    if not body:
        raise ApplicationError(
            "Write something first.", code="comment_empty", extra={"field": "body"}
        )
    if membership.role == Role.CLIENT:
        if task.status == S.WAITING_ON_CLIENT:
            task_answer(agency=agency, actor=actor, task=task, answer=body)
            return task.comments.order_by("-pk").first()
        internal = False
    with transaction.atomic():
        comment = Comment.objects.create(
            agency=agency, task=task, author=actor, body=body, internal=internal
        )
        audit_record(
            agency=agency, actor=actor, action="task.commented", target=task, comment=comment.pk
        )
        if membership.role == Role.CLIENT:
            reminders.tell_client_replied(agency=agency, task=task, comment=comment)
    return comment


def attachment_check(upload) -> None:
    """Refuse a file the agency does not work with (core.file_types.upload_check). Forms
    call it before writing anything; attachment_add again."""
    upload_check(upload, verb="attached")


def attachment_add(*, agency, actor, task: Task, upload) -> Attachment:
    """Attach a file to a task (see attachment_check for what is refused). The file is
    stored under a random key in the agency's folder, never under the name it came with;
    if its row or audit entry cannot be written, the stored file is removed again.

    The file is stored before this service's transaction opens, so an upload to a bucket
    does not hold a transaction of its own open (nor, on SQLite, the write lock)."""
    attachment_check(upload)
    name = os.path.basename(upload.name)[:200]
    attachment = Attachment(
        agency=agency,
        task=task,
        uploaded_by=actor,
        name=name,
        size=upload.size,
        content_type=mimetypes.guess_type(name)[0] or "application/octet-stream",
    )
    attachment.file.save(name, upload, save=False)
    try:
        with transaction.atomic():
            attachment.save()
            audit_record(
                agency=agency,
                actor=actor,
                action="task.file_attached",
                target=task,
                attachment=attachment.pk,
            )
    except BaseException:
        attachment.file.delete(save=False)
        raise
    return attachment


# -- time ---------------------------------------------------------------------------------

# The longest stretch one entry may say was worked (a forgotten timer is corrected down).
TIME_ENTRY_MAX_SECONDS = 12 * 60 * 60
# A manual entry given only its day is placed at midday of it in the assistant's zone
# (kept inside the agency's calendar day too, so it counts in that day's month everywhere).
MANUAL_ENTRY_DEFAULT_TIME = dt.time(12)


def timer_start(*, agency, actor, membership, task: Task) -> TimeEntry:
    """Start the clock on one of the assistant's tasks. A timer already running (on any
    task) stops first: one running timer per assistant, enforced by the database too."""
    with transaction.atomic():
        task = _locked(task)
        _require_assignee(task, membership)
        if task.status not in (S.ASSIGNED, S.IN_PROGRESS):
            raise ApplicationError(
                f"The clock cannot run on a task that is {task.get_status_display().lower()}.",
                code="timer_task_not_workable",
            )
        timer_stop(agency=agency, actor=actor, membership=membership)
        # a run started now lands in this week: not one already submitted or approved
        time_lock_check(
            agency=agency,
            membership=membership,
            assistant_id=membership.pk,
            started_at=timezone.now(),
        )
        _start(task, actor)
        with unique_or_error("A timer is already running.", code="timer_running", field="task"):
            entry = TimeEntry.objects.create(
                agency=agency, task=task, assistant=membership, started_at=timezone.now()
            )
    return entry


def timer_stop(*, agency, actor, membership) -> TimeEntry | None:
    """Stop the assistant's running timer, if any, and add its time to the task."""
    with transaction.atomic():
        entry = (
            TimeEntry.objects.select_for_update()
            .filter(assistant=membership, ended_at__isnull=True)
            .first()
        )
        if entry is None:
            return None
        _finish(entry, timezone.now())
    return entry


def _finish(entry: TimeEntry, at) -> None:
    # The run keeps its own seconds: 4 seconds are 4 seconds, not a minute.
    entry.ended_at = at
    entry.seconds = max(int((at - entry.started_at).total_seconds()), 0)
    entry.save(update_fields=["ended_at", "seconds"])
    report_months.entries_touched(agency_id=entry.agency_id, entries=[entry])
    _recount(entry.task_id)
    entry.refresh_from_db(fields=["minutes"])


def _stop_timers_on(task: Task) -> None:
    now = timezone.now()
    for entry in TimeEntry.objects.select_for_update().filter(task=task, ended_at__isnull=True):
        _finish(entry, now)
    task.refresh_from_db(fields=["minutes_logged"])


def _recount(task_id: int, *, removed_minutes: int = 0) -> None:
    """Share the task's time out over its finished entries in whole minutes, in the order
    they began: each entry holds the minutes its seconds add to the running total, counted
    up to a started minute. The entries then add up to the task's logged minutes, which
    are its seconds rounded up to a minute once for the whole task, not once per run (so
    the contract's own rounding, in whole minutes, bills exactly the seconds worked).

    Minutes the task holds beyond its entries (time recorded on it directly) stay."""
    Task.objects.select_for_update().filter(pk=task_id).values_list("pk", flat=True).first()
    entries = list(
        TimeEntry.objects.filter(task_id=task_id, ended_at__isnull=False).order_by(
            "started_at", "pk"
        )
    )
    before = sum(entry.minutes for entry in entries) + removed_minutes
    seconds = counted = 0
    changed = []
    for entry in entries:
        seconds += entry.duration_seconds
        through = -(-seconds // 60)
        if entry.minutes != through - counted:
            entry.minutes = through - counted
            changed.append(entry)
        counted = through
    if changed:
        TimeEntry.objects.bulk_update(changed, ["minutes"])
    if counted != before:
        Task.objects.filter(pk=task_id).update(
            minutes_logged=Greatest(F("minutes_logged") + (counted - before), 0)
        )


def _assistant_zone(agency, membership) -> str:
    """The zone of the assistant whose time it is: their own, else the agency's."""
    from assistants.models import AssistantProfile

    zone = (
        AssistantProfile.objects.filter(agency=agency, membership_id=membership.pk)
        .values_list("time_zone", flat=True)
        .first()
    )
    return zone or agency.time_zone


def _day_window(day: dt.date, zone: str, agency_zone: str) -> tuple[dt.datetime, dt.datetime]:
    """The moments that are `day` both on the assistant's calendar and on the agency's
    (the assistant's alone when the two calendars are more than a day apart)."""
    after = day + dt.timedelta(days=1)
    begins = max(local_midnight(day, zone), local_midnight(day, agency_zone))
    ends = min(local_midnight(after, zone), local_midnight(after, agency_zone))
    if begins >= ends:
        return local_midnight(day, zone), local_midnight(after, zone)
    return begins, ends


def _placed(
    *, task: Task, zone: str, agency_zone: str, seconds: int, day, start_time, now
) -> dt.datetime:
    """When work logged by hand began. The day is the assistant's (in their zone): not
    after today, not before the task was requested. With a start time, the work may not
    begin before the task existed nor end after now. Without one, today's work is taken to
    have ended now (never before the day began), an earlier day's to have begun at midday."""
    today = local_today(zone, now)
    day = day or today
    if day > today:
        raise ApplicationError(
            "That day has not come yet: log time once the work is done.",
            code="time_entry_in_future",
            extra={"field": "worked_on"},
        )
    requested = local_today(zone, task.created_at)
    if day < requested:
        raise ApplicationError(
            f"This task was requested on {requested:%-d %B %Y}: no work on it can be earlier.",
            code="time_entry_before_task",
            extra={"field": "worked_on"},
        )
    if start_time is not None:
        started = dt.datetime.combine(day, start_time, tzinfo=ZoneInfo(zone))
        if started < task.created_at:
            raise ApplicationError(
                "That is before the task was requested.",
                code="time_entry_before_task",
                extra={"field": "start_time"},
            )
        if started + dt.timedelta(seconds=seconds) > now:
            raise ApplicationError(
                "That would end in the future: log time once the work is done.",
                code="time_entry_in_future",
                extra={"field": "start_time"},
            )
        return started
    if day == today:
        return max(now - dt.timedelta(seconds=seconds), local_midnight(today, zone))
    begins, ends = _day_window(day, zone, agency_zone)
    midday = dt.datetime.combine(day, MANUAL_ENTRY_DEFAULT_TIME, tzinfo=ZoneInfo(zone))
    return min(max(midday, begins), ends - dt.timedelta(seconds=1))


def time_entry_add(
    *,
    agency,
    actor,
    membership,
    task: Task,
    minutes: int,
    note: str = "",
    worked_on: dt.date | None = None,
    start_time: dt.time | None = None,
) -> TimeEntry:
    """Log time worked without the timer, with a note: between 1 minute and 12 hours, the
    note within TIME_NOTE_MAX_CHARS, on the day it was done in the assistant's own zone
    (today unless said) and optionally from a start time (see `_placed` for the rules).
    The entry counts in that day's month for earnings and reports."""
    note = text_within(note, limit=TIME_NOTE_MAX_CHARS, field="note", label="A note")
    if not 1 <= minutes <= TIME_ENTRY_MAX_SECONDS // 60:
        raise ApplicationError(
            "Log between 1 minute and 12 hours at a time.",
            code="time_entry_out_of_range",
            extra={"field": "minutes"},
        )
    with transaction.atomic():
        task = _locked(task)
        _require_assignee(task, membership)
        if task.status not in (S.ASSIGNED, S.IN_PROGRESS, S.WAITING_ON_CLIENT):
            raise ApplicationError(
                "Time can only be logged on work in hand.", code="time_entry_task_closed"
            )
        started = _placed(
            task=task,
            zone=_assistant_zone(agency, membership),
            agency_zone=agency.time_zone,
            seconds=minutes * 60,
            day=worked_on,
            start_time=start_time,
            now=timezone.now(),
        )
        time_lock_check(
            agency=agency, membership=membership, assistant_id=membership.pk, started_at=started
        )
        entry = TimeEntry.objects.create(
            agency=agency,
            task=task,
            assistant=membership,
            started_at=started,
            ended_at=started + dt.timedelta(minutes=minutes),
            seconds=minutes * 60,
            note=note,
            manual=True,
        )
        _recount(task.pk)
        report_months.entries_touched(agency_id=agency.pk, entries=[entry], task=task)
        entry.refresh_from_db(fields=["minutes"])
        audit_record(
            agency=agency,
            actor=actor,
            action="task.time_logged",
            target=task,
            minutes=minutes,
            entry=entry.pk,
            started_at=started.isoformat(),
        )
    return entry


def _entry_values(entry: TimeEntry) -> dict:
    """What a correction may change, as the audit row keeps it."""
    return {
        "seconds": entry.duration_seconds,
        "started_at": entry.started_at.isoformat(),
        "ended_at": entry.ended_at.isoformat() if entry.ended_at else None,
        "note": entry.note,
    }


def _changeable(*, agency, membership, task: Task, entry: TimeEntry) -> None:
    """Refuse, with the reason, a change to time that may not change: a running timer (it
    is stopped, not edited), someone else's time (for an assistant; staff may correct
    anyone's), time its week's timesheet or a payout locks (tasks.timesheets), and time
    that is billed: on a charge made for a completion of the task, however that charge was
    settled since."""
    if entry.ended_at is None:
        raise ApplicationError(
            "This timer is still running: stop it first. A running timer cannot be changed.",
            code="time_entry_running",
        )
    if membership.role not in STAFF_ROLES and entry.assistant_id != membership.pk:
        raise ApplicationError(
            "Only your own time can be corrected; ask the agency about someone else's.",
            code="time_entry_not_yours",
        )
    time_lock_check(
        agency=agency,
        membership=membership,
        assistant_id=entry.assistant_id,
        started_at=entry.started_at,
    )
    billed = task_hooks.billed_until(agency=agency, task=task)
    if billed is not None and entry.created_at <= billed:
        raise ApplicationError(
            "This time is billed: it is on the client's charge for the work, so it can no "
            "longer be changed or deleted.",
            code="time_entry_billed",
        )


def _entry_for_change(*, agency, entry: TimeEntry) -> tuple[Task, TimeEntry]:
    """Lock the entry's task (what billing locks too, so a charge and a correction never
    cross), then the entry as it is now."""
    current = TimeEntry.objects.filter(agency=agency, pk=entry.pk).first()
    if current is None:
        raise ApplicationError("This time entry no longer exists.", code="time_entry_unknown")
    if current.ended_at is None:  # refused before any lock a stopping timer holds
        raise ApplicationError(
            "This timer is still running: stop it first. A running timer cannot be changed.",
            code="time_entry_running",
        )
    task = _locked(current.task)
    return task, TimeEntry.objects.select_for_update().get(agency=agency, pk=entry.pk)


def time_entry_update(
    *,
    agency,
    actor,
    membership,
    entry: TimeEntry,
    seconds: int | None = None,
    worked_on: dt.date | None = None,
    start_time: dt.time | None = None,
    note: str | None = None,
) -> TimeEntry:
    """Correct a finished time entry: its duration (1 second to 12 hours), the day and
    start it was worked (the rules of logging time: not in the future, not before the task
    existed, the day in the assistant's zone), its note. None leaves a value as it is.
    Allowed as `_changeable` says; audited with the values before and after."""
    if note is not None:
        note = text_within(note, limit=TIME_NOTE_MAX_CHARS, field="note", label="A note")
    if seconds is not None and not 1 <= seconds <= TIME_ENTRY_MAX_SECONDS:
        raise ApplicationError(
            "A time entry lasts between 1 second and 12 hours.",
            code="time_entry_out_of_range",
            extra={"field": "duration"},
        )
    with transaction.atomic():
        task, entry = _entry_for_change(agency=agency, entry=entry)
        _changeable(agency=agency, membership=membership, task=task, entry=entry)
        before = _entry_values(entry)
        now = timezone.now()
        zone = _assistant_zone(agency, entry.assistant)
        duration = entry.duration_seconds if seconds is None else seconds
        started = entry.started_at
        local_start = started.astimezone(ZoneInfo(zone))
        moved_day = worked_on is not None and worked_on != local_start.date()
        if start_time is not None or moved_day:
            if start_time is None and not entry.manual:
                start_time = local_start.time().replace(microsecond=0)  # a run keeps its hour
            started = _placed(
                task=task,
                zone=zone,
                agency_zone=agency.time_zone,
                seconds=duration,
                day=worked_on or local_start.date(),
                start_time=start_time,
                now=now,
            )
        elif not entry.manual and started + dt.timedelta(seconds=duration) > now:
            raise ApplicationError(
                "That would end in the future: a run cannot last longer than until now.",
                code="time_entry_in_future",
                extra={"field": "duration"},
            )
        if started != entry.started_at:  # moved into another week: that week must allow it
            time_lock_check(
                agency=agency,
                membership=membership,
                assistant_id=entry.assistant_id,
                started_at=started,
            )
        entry.started_at = started
        entry.seconds = duration
        entry.ended_at = started + dt.timedelta(seconds=duration)
        if note is not None:
            entry.note = note
        after = _entry_values(entry)
        changed = [key for key in after if after[key] != before[key]]
        if not changed:
            return entry
        entry.save(update_fields=["started_at", "ended_at", "seconds", "note"])
        report_months.touch(agency_id=agency.pk, moments=[local_start, started, task.completed_at])
        _recount(task.pk)
        entry.refresh_from_db(fields=["minutes"])
        audit_record(
            agency=agency,
            actor=actor,
            action="task.time_edited",
            target=task,
            entry=entry.pk,
            assistant=entry.assistant_id,
            before={key: before[key] for key in changed},
            after={key: after[key] for key in changed},
        )
    return entry


def time_entry_delete(*, agency, actor, membership, entry: TimeEntry) -> None:
    """Delete a finished time entry, taking its time off the task. Allowed as `_changeable`
    says; audited with what the entry was."""
    with transaction.atomic():
        task, entry = _entry_for_change(agency=agency, entry=entry)
        _changeable(agency=agency, membership=membership, task=task, entry=entry)
        before = _entry_values(entry) | {"minutes": entry.minutes, "manual": entry.manual}
        pk, assistant_id, minutes = entry.pk, entry.assistant_id, entry.minutes
        entry.delete()
        report_months.entries_touched(agency_id=agency.pk, entries=[entry], task=task)
        _recount(task.pk, removed_minutes=minutes)
        audit_record(
            agency=agency,
            actor=actor,
            action="task.time_deleted",
            target=task,
            entry=pk,
            assistant=assistant_id,
            before=before,
            after=None,
        )
