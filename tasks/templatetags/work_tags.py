"""Data the work pages' templates need beyond their view's context: the dashboards' counts
and the task page's work panel (its time entries, the viewer's timer, who to assign)."""

import uuid
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS_3, WEEKDAYS_ABBR
from django.utils.html import escape
from django.utils.safestring import mark_safe

from core.idempotency import FORM_FIELD
from core.roles import STAFF_ROLES, Role
from core.templatetags.money import hours
from core.widgets import SearchSelect
from tasks import hooks as task_hooks
from tasks import queries
from tasks.models import Priority, TaskStatus

register = template.Library()
# The task page's time section shows the latest entries; a link shows them all.
TIME_SHOWN = 50
# The assign form's search field, beside the select of who may do the task.
ASSIGN_OTHER = "other_assignee"


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
    assistants: list = field(default_factory=list)  # who may do it and has room
    assign_search: str = ""  # the search field that reaches every other assistant
    earlier_time: bool = False  # older entries left out of time_rows


@register.simple_tag
def work_panel(task, agency, membership, is_assignee, all_time=False) -> WorkPanel:
    """Which of the work actions this member may take on this task now. The services
    still decide; this only keeps buttons that would certainly fail off the page. The
    time section lists the latest TIME_SHOWN entries unless `all_time`."""
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
        panel.time_entries, panel.earlier_time = queries.latest_of(
            queries.time_entries_of(agency=agency, task=task),
            shown=None if all_time else TIME_SHOWN,
            order=("started_at", "pk"),
        )
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
        # A select of every assistant was most of the page's cost at agency size: offer
        # those who may do this task, and anyone else through search.
        panel.assistants = queries.assistants_for_task(agency=agency, task=task, now=timezone.now())
        search = SearchSelect(attrs={"id": "assign-other"})
        search.placeholder = "Search every assistant"
        search.search_url = reverse("assistant_search", kwargs={"agency_slug": agency.slug})
        panel.assign_search = search.render(ASSIGN_OTHER, None)
    return panel


# -- the queue's rows ---------------------------------------------------------------------------
# A queue shows up to a hundred rows, each with a button; through the template engine each
# cell was a dozen variable lookups and each button a form tag of its own, most of the page's
# cost. The rows are written here in one pass instead: one CSRF token for every form of the
# page, and the few words a row needs (weekday and month names, statuses) looked up once.

_ROW = (
    '<tr class="queue-row{}" data-testid="queue-row" data-task="{}">\n'
    '  <td><a href="{}{}/">{}</a>\n    {}</td>\n'
    "  <td>{}{}</td>\n"
    "  <td>{}</td>\n"
    '  <td><span class="priority p{}">{}</span></td>\n'
    '  <td class="due">{}\n    {}</td>\n'
    "  <td>{}</td>\n"
    '  <td class="timer-cell">{}</td>\n'
    "</tr>\n"
)
_CLIENT_WORKING = (
    ' <span class="mark working" title="It is Monday to Friday, 09:00\u201317:00 where the client'
    ' is" data-testid="client-working">client\'s working day</span>'
)
_ACTION = (
    '\n      <form method="post" action="{action}"\n'
    '            hx-post="{action}" hx-target="#queue-mine" hx-swap="outerHTML">'
    '<input type="hidden" name="csrfmiddlewaretoken" value="{csrf}">{once}\n'
    '        <button type="submit" class="small" data-testid="{testid}"{focus}>{label}</button>'
    "</form>\n    "
)


class _Words:
    """Weekday and month abbreviations as the `date` filter writes them ("D", "M"), and the
    status and priority labels, in the active language: looked up once per page."""

    def __init__(self):
        self.weekdays = [str(WEEKDAYS_ABBR[day]) for day in range(7)]
        self.months = {number: str(name).title() for number, name in MONTHS_3.items()}
        self.statuses = {value: str(label) for value, label in TaskStatus.choices}
        self.priorities = {value: str(label) for value, label in Priority.choices}

    def due(self, moment) -> str:
        """`date:"D j M, H:i"` in the current time zone."""
        if moment is None:
            return ""
        local = timezone.localtime(moment)
        return (
            f"{self.weekdays[local.weekday()]} {local.day} {self.months[local.month]}, "
            f"{local:%H:%M}"
        )


def _once() -> str:
    return f'<input type="hidden" name="{FORM_FIELD}" value="{uuid.uuid4().hex}">'


@register.simple_tag(takes_context=True)
def queue_rows(context, rows, queue_urls) -> str:
    """The queue's rows (tasks/partials/queue_rows.html). Every link is the task prefix
    and the id, built once per page (`queue_urls`) instead of reversed per row."""
    csrf = escape(str(context.get("csrf_token", "")))
    words = _Words()
    prefix = queue_urls["task"]
    html = []
    for row in rows:
        task = row.task
        status = words.statuses.get(task.status, task.status)
        if row.timer:
            since = f"{timezone.localtime(row.timer.started_at):%H:%M}"
            action = (
                f'\n      <span class="timer-running" title="Running since {since}">since {since}'
                f' · <strong data-timer-seconds="{row.timer_seconds}" data-testid="timer-elapsed">'
                f"{clock(row.timer_seconds)}</strong></span>"
            ) + _ACTION.format(
                action=escape(queue_urls["timer_stop"]),
                csrf=csrf,
                once="",
                testid="timer-stop",
                focus=' data-focus-key="timer"',
                label="Stop",
            )
        elif row.timer_can_start:
            action = _ACTION.format(
                action=escape(f"{prefix}{task.pk}/timer/start/"),
                csrf=csrf,
                once=_once(),
                testid="timer-start",
                focus=' data-focus-key="timer"',
                label="Start timer",
            )
        elif row.is_mine:
            action = f"<small>{escape(status)}</small>\n    "
        else:
            action = _ACTION.format(
                action=escape(f"{prefix}{task.pk}/take/"),
                csrf=csrf,
                once=_once(),
                testid="take-this",
                focus="",
                label="Take",
            )
        if row.overdue:
            mark = '<span class="mark overdue" data-testid="overdue">overdue</span>'
        elif row.at_risk:
            mark = '<span class="mark at-risk" data-testid="at-risk">at risk</span>'
        else:
            mark = ""
        html.append(
            _ROW.format(
                " overdue" if row.overdue else " at-risk" if row.at_risk else "",
                task.pk,
                escape(prefix),
                task.pk,
                escape(task.title),
                f' <span class="badge {escape(task.status)}">{escape(status)}</span>'
                if row.is_mine
                else "",
                escape(task.client.name),
                _CLIENT_WORKING if row.client_working else "",
                escape(task.service.name),
                task.priority,
                escape(words.priorities.get(task.priority, task.priority)),
                escape(words.due(task.due_at)),
                mark,
                escape(hours(task.minutes_logged)),
                action,
            )
        )
    return mark_safe("".join(html))
