"""Data the work pages' templates need beyond their view's context: the dashboards' counts
and the task page's work panel (its time entries, the viewer's timer, who to assign)."""

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django import template
from django.utils import timezone

from core.roles import STAFF_ROLES, Role
from tasks import hooks as task_hooks
from tasks import queries
from tasks.models import TaskStatus

register = template.Library()


@register.filter
def clock(seconds) -> str:
    """{{ 1510|clock }} -> "0:25:10", a running timer's elapsed time."""
    seconds = max(int(seconds or 0), 0)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


@register.filter
def duration(seconds) -> str:
    """{{ 4|duration }} -> "0:00:04", {{ 5400|duration }} -> "1:30": time worked, to the
    second where it has seconds."""
    seconds = max(int(seconds or 0), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if seconds else f"{hours}:{minutes:02d}"


@dataclass
class TimeRow:
    """One time entry as the task page's time section shows it, with what the viewer may
    do to it: its day and start are read in its assistant's zone."""

    entry: object
    zone: str
    billed: bool
    can_change: bool

    @property
    def local_start(self):
        return self.entry.started_at.astimezone(ZoneInfo(self.zone))

    # As text: a template's date filter would show them in the viewer's zone instead.
    @property
    def day_value(self) -> str:
        return self.local_start.date().isoformat()

    @property
    def start_value(self) -> str:
        return self.local_start.strftime("%H:%M")


@register.simple_tag
def my_active_task_count(agency, membership) -> int:
    """The assistant dashboard's figure. One query."""
    return queries.active_task_count(agency=agency, membership=membership)


@dataclass
class WorkPanel:
    """What the task page's work panel shows one member about one task."""

    can_work: bool = False  # the assignee, on open work
    can_start: bool = False
    can_time: bool = False  # may start the timer
    can_log: bool = False
    can_ask: bool = False
    can_complete: bool = False
    in_my_pool: bool = False
    timer_here: object = None  # the viewer's running timer, when it runs on this task
    timer_elsewhere: object = None  # the viewer's running timer on another task
    timer_seconds: int = 0
    time_entries: list = field(default_factory=list)
    time_rows: list = field(default_factory=list)
    show_time: bool = False
    assistants: list = field(default_factory=list)


@register.simple_tag
def work_panel(task, agency, membership, is_assignee) -> WorkPanel:
    """Which of the work actions this member may take on this task now. The services
    still decide; this only keeps buttons that would certainly fail off the page."""
    panel = WorkPanel()
    is_staff = membership.role in STAFF_ROLES
    S = TaskStatus
    if is_assignee and task.is_open:
        panel.can_work = True
        panel.can_start = task.status == S.ASSIGNED
        panel.can_time = task.status in (S.ASSIGNED, S.IN_PROGRESS)
        panel.can_log = task.status in (S.ASSIGNED, S.IN_PROGRESS, S.WAITING_ON_CLIENT)
        panel.can_ask = task.status == S.IN_PROGRESS
        panel.can_complete = task.status in (S.ASSIGNED, S.IN_PROGRESS)
    # An assistant sees a queued task that is not theirs only because it is in their pool.
    panel.in_my_pool = (
        membership.role == Role.ASSISTANT and task.status == S.QUEUED and not is_assignee
    )
    if membership.role == Role.ASSISTANT:
        running = queries.running_timer_of(agency=agency, membership=membership)
        if running is not None and running.task_id == task.pk:
            panel.timer_here = running
            panel.timer_seconds = int((timezone.now() - running.started_at).total_seconds())
        else:
            panel.timer_elsewhere = running
    panel.show_time = is_assignee or is_staff
    if panel.show_time:
        panel.time_entries = list(queries.time_entries_of(agency=agency, task=task))
        billed = task_hooks.billed_until(agency=agency, task=task) if panel.time_entries else None
        for entry in panel.time_entries:
            profile = getattr(entry.assistant, "assistant_profile", None)
            is_billed = billed is not None and entry.created_at <= billed
            panel.time_rows.append(
                TimeRow(
                    entry=entry,
                    zone=profile.time_zone if profile is not None else agency.time_zone,
                    billed=is_billed,
                    can_change=entry.ended_at is not None
                    and not is_billed
                    and (is_staff or entry.assistant_id == membership.pk),
                )
            )
    if is_staff and task.is_open:
        panel.assistants = queries.assistants_for_assignment(agency=agency, now=timezone.now())
    return panel
