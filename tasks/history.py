"""A task's history in sentences: what each audit row written by tasks.services says,
in the words of the people who read it ("Sam Lee assigned it to Dana Ortiz").

The rows keep their machine codes (`task.assigned`, `previous`, `status`, ids); this is
where they are put into words, once, for the page and for anything else that shows them.
The people and files rows name are read in one query each for the whole history, so a
long history costs what a short one does.
"""

import math
from dataclasses import dataclass

from accounts.models import Membership
from core.models import AuditEvent
from tasks.models import Attachment, Task, TaskStatus


@dataclass
class HistoryEntry:
    created_at: object
    action: str
    actor: object
    text: str


def _status(value) -> str:
    try:
        return TaskStatus(value).label
    except ValueError:
        return str(value or "").replace("_", " ")


def _minutes(minutes) -> str:
    hours, rest = divmod(int(minutes or 0), 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest:02d} min" if rest else f"{hours} h"


def _name(user) -> str:
    return user.get_full_name() if user is not None else ""


def task_history(*, agency, task: Task, latest: int | None = None) -> list[HistoryEntry]:
    """The task's audit rows, oldest first, each with its sentence; only the `latest` ones
    when given. At most three queries whatever the length: the rows with their actors, the
    assistants and the files they name."""
    events = AuditEvent.objects.filter(
        agency=agency, target_type="tasks.task", target_id=str(task.pk)
    ).select_related("actor")
    if latest is None:
        events = list(events.order_by("created_at", "pk"))
    else:
        events = list(events.order_by("-created_at", "-pk")[:latest])[::-1]
    return history_entries(agency=agency, events=events, tasks={task.pk: task})


def history_entries(*, agency, events, tasks: dict) -> list[HistoryEntry]:
    """Sentences for audit rows of several tasks (`tasks` by id, with their clients): the
    people and files the rows name are read in one query each."""
    member_ids, file_ids = set(), set()
    for event in events:
        for key in ("assignee", "previous_assignee", "assistant"):
            if isinstance(event.details.get(key), int):
                member_ids.add(event.details[key])
        if isinstance(event.details.get("attachment"), int):
            file_ids.add(event.details["attachment"])
    members = (
        {
            m.pk: m
            for m in Membership.objects.filter(agency=agency, pk__in=member_ids).select_related(
                "user"
            )
        }
        if member_ids
        else {}
    )
    files = (
        dict(Attachment.objects.filter(agency=agency, pk__in=file_ids).values_list("pk", "name"))
        if file_ids
        else {}
    )
    return [
        HistoryEntry(
            created_at=event.created_at,
            action=event.action,
            actor=event.actor,
            text=event_text(event, task=tasks[int(event.target_id)], members=members, files=files),
        )
        for event in events
        if int(event.target_id) in tasks
    ]


def event_text(event, *, task: Task, members: dict, files: dict) -> str:
    """One row as a sentence. `members` and `files` hold the people and files it names."""
    details = event.details or {}
    who = _name(event.actor) or "The system"
    client = task.client.name

    def member(key) -> str:
        found = members.get(details.get(key))
        return _name(found.user) if found is not None else "an assistant"

    moved = ""
    if (
        details.get("previous")
        and details.get("status")
        and details["previous"] != details["status"]
    ):
        moved = f" Moved from {_status(details['previous'])} to {_status(details['status'])}."
    action = event.action
    if action == "task.requested":
        text = f"{who} requested it" if event.actor else "A recurring request made it"
        if details.get("over_budget_cap_approved"):
            text += ", agreeing to go over the monthly budget cap"
        return text + "."
    if action == "task.taken":
        return f"{who} took it from the pool.{moved}"
    if action == "task.assigned":
        to = member("assignee")
        before = details.get("previous_assignee")
        if before and before != details.get("assignee"):
            return f"{who} reassigned it from {member('previous_assignee')} to {to}.{moved}"
        return f"{who} assigned it to {to}.{moved}"
    if action == "task.released":
        return f"{who} handed it back to the pool.{moved}"
    if action == "task.started":
        return f"{who} started work.{moved}"
    if action == "task.waiting_on_client":
        return f"{who} asked {client} a question. Waiting on {client}'s answer.{moved}"
    if action == "task.answered":
        return f"{who} answered for {client}; the work carries on.{moved}"
    if action == "task.completed":
        return f"{who} completed it and wrote what was done.{moved}"
    if action == "task.approved":
        return f"{who} approved the work."
    if action == "task.sent_back":
        return f"{who} sent the work back to be done again.{moved}"
    if action == "task.cancelled":
        reason = details.get("reason")
        said = f": {reason.rstrip('.')}" if reason else ""
        return f"{who} cancelled it{said}.{moved}"
    if action == "task.commented":
        return f"{who} commented."
    if action == "task.file_attached":
        name = files.get(details.get("attachment"))
        return f"{who} attached {name}." if name else f"{who} attached a file (since removed)."
    if action == "task.time_logged":
        return f"{who} logged {_minutes(details.get('minutes'))} of work."
    if action in ("task.time_edited", "task.time_deleted"):
        found = members.get(details.get("assistant"))
        if found is not None and event.actor is not None and found.user_id == event.actor.pk:
            whose = "their own"
        else:
            whose = f"{_name(found.user)}'s" if found is not None else "an assistant's"
        before, after = details.get("before") or {}, details.get("after") or {}
        if action == "task.time_deleted":
            spent = before.get("minutes")
            if spent is None and before.get("seconds") is not None:
                spent = math.ceil(before["seconds"] / 60)
            of = f" of {_minutes(spent)}" if spent is not None else ""
            return f"{who} deleted {whose} time entry{of}."
        changes = []
        if "seconds" in before and "seconds" in after:
            changes.append(
                f"from {_minutes(math.ceil((before['seconds'] or 0) / 60))} "
                f"to {_minutes(math.ceil((after['seconds'] or 0) / 60))}"
            )
        if "started_at" in after and "seconds" not in after:
            changes.append("its start time")
        if "note" in after:
            changes.append("its note")
        what = f": {', '.join(changes)}" if changes else ""
        return f"{who} corrected {whose} time entry{what}."
    # A kind of row this page does not know yet still reads as words, not as a code.
    words = action.removeprefix("task.").replace("_", " ").replace(".", " ")
    return f"{who}: {words}.{moved}"
