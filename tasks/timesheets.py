"""Weekly timesheets: an assistant's week of finished time, submitted to staff, who approve
it or return it with a note.

The rules, as the pages state them:
- A week runs Monday 00:00 to the next Monday 00:00 on the assistant's own calendar (their
  profile's zone, else the agency's). A time entry belongs to the week in which it began.
  Once submitted, the week keeps the zone it was submitted in, so its bounds never move.
- The assistant submits a week that has begun, has time in it and no timer still running
  from it. Staff approve a submitted week, or return it with a note saying what to fix;
  a returned week is the assistant's to correct and submit again.
- Corrections (`time_lock_check`, called by every time-entry change in tasks.services):
  the assistant may change their time until its week is submitted (and again once it is
  returned); staff may change anyone's until it is billed (tasks.services) or its month is
  paid out to the assistant (assistants.Payout). Paid time is nobody's to change.
- With the agency's "bill approved time only" setting on, billing waits for every entry of
  a task to be in an approved week; approving a week tells billing which tasks it touched
  (tasks.hooks.timesheet_approved).
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.urls import reverse
from django.utils import timezone

from core.audit import audit_record
from core.errors import ApplicationError, text_within, unique_or_error
from core.periods import month_start, week_start
from core.roles import STAFF_ROLES, Role
from core.tenancy import agency_scope
from core.times import local_midnight, local_today
from tasks import hooks as task_hooks
from tasks.models import TIMESHEET_NOTE_MAX_CHARS, TimeEntry, Timesheet, TimesheetStatus

T = TimesheetStatus
# How many past weeks the assistant's page lists beside the week shown.
WEEKS_LISTED = 8
# Staff see what waits for them first, then the newest weeks.
LIST_ORDER = ("waiting", "-week_start", "-pk")


# -- weeks ----------------------------------------------------------------------------------


def zone_of(*, agency, membership) -> str:
    """The assistant's calendar: their profile's zone, else the agency's."""
    from assistants.models import AssistantProfile

    zone = (
        AssistantProfile.objects.filter(agency=agency, membership_id=membership.pk)
        .values_list("time_zone", flat=True)
        .first()
    )
    return zone or agency.time_zone


def week_bounds(monday: dt.date, zone: str) -> tuple[dt.datetime, dt.datetime]:
    """The moments a week begins and ends (exclusive) on the calendar of `zone`."""
    return local_midnight(monday, zone), local_midnight(monday + dt.timedelta(days=7), zone)


def _covering(sheets, started_at: dt.datetime):
    for sheet in sheets:
        begins, ends = week_bounds(sheet.week_start, sheet.zone)
        if begins <= started_at < ends:
            return sheet
    return None


def sheet_for_moment(*, agency, assistant_id: int, started_at: dt.datetime, lock: bool = False):
    """The timesheet whose week holds a moment of this assistant's time, or None. Weeks
    are looked for a few days either side, as the sheet's own zone decides its bounds."""
    day = started_at.date()
    sheets = Timesheet.objects.filter(
        agency=agency,
        assistant_id=assistant_id,
        week_start__gte=day - dt.timedelta(days=8),
        week_start__lte=day + dt.timedelta(days=1),
    )
    if lock:
        sheets = sheets.select_for_update()
    return _covering(list(sheets), started_at)


def week_entries(*, agency, assistant_id: int, monday: dt.date, zone: str) -> QuerySet:
    """The assistant's finished time that began in the week, in the order it began."""
    begins, ends = week_bounds(monday, zone)
    return (
        TimeEntry.objects.filter(
            agency=agency,
            assistant_id=assistant_id,
            ended_at__isnull=False,
            started_at__gte=begins,
            started_at__lt=ends,
        )
        .select_related("task")
        .order_by("started_at", "pk")
    )


# -- the lock on corrections ----------------------------------------------------------------


def time_lock_check(*, agency, membership, assistant_id: int, started_at: dt.datetime) -> None:
    """Refuse, with the reason, a change to this assistant's time that began at
    `started_at` (an entry as it is, or where a correction would move it): paid time for
    everyone, and for the assistant, time in a week that is submitted or approved. The
    sheet is locked, so a submission and a correction never cross."""
    from assistants.models import Payout

    month = month_start(started_at, agency.time_zone)
    if Payout.objects.filter(agency=agency, assistant_id=assistant_id, period_start=month).exists():
        raise ApplicationError(
            f"This time is in {month:%B %Y}, which is paid out to the assistant: it can no "
            "longer be changed.",
            code="time_entry_paid",
        )
    if membership.role in STAFF_ROLES:
        return
    sheet = sheet_for_moment(
        agency=agency, assistant_id=assistant_id, started_at=started_at, lock=True
    )
    if sheet is not None and sheet.status == T.SUBMITTED:
        raise ApplicationError(
            f"The week of {sheet.week_start:%-d %B} is submitted for approval: ask the agency "
            "to return it if this time needs correcting.",
            code="time_entry_week_submitted",
        )
    if sheet is not None and sheet.status == T.APPROVED:
        raise ApplicationError(
            f"The week of {sheet.week_start:%-d %B} is approved: its time is locked.",
            code="time_entry_week_approved",
        )


# -- approval as billing reads it -----------------------------------------------------------


def tasks_with_time_approved(*, agency, task_ids) -> set[int]:
    """Of these tasks, those whose every time entry is in an approved week (a running
    timer is not). Two queries, whatever the number of tasks."""
    task_ids = set(task_ids)
    entries = list(
        TimeEntry.objects.filter(agency=agency, task_id__in=task_ids).values_list(
            "task_id", "assistant_id", "started_at", "ended_at"
        )
    )
    if not entries:
        return task_ids
    starts = [started for _, _, started, _ in entries]
    sheets = defaultdict(list)
    for sheet in Timesheet.objects.filter(
        agency=agency,
        status=T.APPROVED,
        assistant_id__in={assistant for _, assistant, _, _ in entries},
        week_start__gte=min(starts).date() - dt.timedelta(days=8),
        week_start__lte=max(starts).date() + dt.timedelta(days=1),
    ):
        sheets[sheet.assistant_id].append(sheet)
    waiting = {
        task_id
        for task_id, assistant_id, started, ended in entries
        if ended is None or _covering(sheets[assistant_id], started) is None
    }
    return task_ids - waiting


# -- reads for the pages and the API ---------------------------------------------------------


@dataclass
class Day:
    day: dt.date
    entries: list = field(default_factory=list)

    @property
    def minutes(self) -> int:
        return sum(entry.minutes for entry in self.entries)


@dataclass
class Week:
    """One week of an assistant's time as the pages show it."""

    monday: dt.date
    zone: str
    sheet: Timesheet | None
    days: list[Day]

    @property
    def status(self) -> str:
        return self.sheet.status if self.sheet else T.DRAFT

    @property
    def status_label(self) -> str:
        return T(self.status).label

    @property
    def minutes(self) -> int:
        return sum(day.minutes for day in self.days)

    @property
    def entries(self) -> list:
        return [entry for day in self.days for entry in day.entries]

    @property
    def sunday(self) -> dt.date:
        return self.monday + dt.timedelta(days=6)

    @property
    def submittable(self) -> bool:
        return self.status in (T.DRAFT, T.RETURNED) and bool(self.entries)


def week_of(*, agency, membership, monday: dt.date, sheet=None) -> Week:
    """The week with its entries by day, on the calendar it is (or would be) submitted on."""
    if sheet is None:
        sheet = Timesheet.objects.filter(
            agency=agency, assistant=membership, week_start=monday
        ).first()
    zone = sheet.zone if sheet else zone_of(agency=agency, membership=membership)
    days = [Day(monday + dt.timedelta(days=offset)) for offset in range(7)]
    for entry in week_entries(agency=agency, assistant_id=membership.pk, monday=monday, zone=zone):
        local = timezone.localtime(entry.started_at, timezone=_tz(zone)).date()
        days[(local - monday).days].entries.append(entry)
    return Week(monday=monday, zone=zone, sheet=sheet, days=days)


def _tz(zone: str):
    from zoneinfo import ZoneInfo

    return ZoneInfo(zone)


def this_monday(*, agency, membership, now: dt.datetime | None = None) -> dt.date:
    return week_start(now or timezone.now(), zone_of(agency=agency, membership=membership))


@dataclass
class WeekLine:
    monday: dt.date
    minutes: int
    sheet: Timesheet | None

    @property
    def status(self) -> str:
        return self.sheet.status if self.sheet else T.DRAFT

    @property
    def status_label(self) -> str:
        return T(self.status).label


def recent_weeks(*, agency, membership, now: dt.datetime | None = None) -> list[WeekLine]:
    """The assistant's last WEEKS_LISTED weeks, this one first, with their time and status:
    two queries."""
    zone = zone_of(agency=agency, membership=membership)
    current = week_start(now or timezone.now(), zone)
    mondays = [current - dt.timedelta(weeks=back) for back in range(WEEKS_LISTED)]
    sheets = {
        sheet.week_start: sheet
        for sheet in Timesheet.objects.filter(
            agency=agency, assistant=membership, week_start__gte=mondays[-1]
        )
    }
    begins = week_bounds(mondays[-1], zone)[0] - dt.timedelta(days=1)
    minutes = defaultdict(int)
    for started, entry_minutes in TimeEntry.objects.filter(
        agency=agency, assistant=membership, ended_at__isnull=False, started_at__gte=begins
    ).values_list("started_at", "minutes"):
        for monday in mondays:
            sheet = sheets.get(monday)
            start, end = week_bounds(monday, sheet.zone if sheet else zone)
            if start <= started < end:
                minutes[monday] += entry_minutes
                break
    return [WeekLine(monday, minutes[monday], sheets.get(monday)) for monday in mondays]


def timesheet_list(*, agency, status: str | None = None, assistant_id: int | None = None):
    """Staff's list: submitted weeks first, then the newest; page it by LIST_ORDER."""
    sheets = Timesheet.objects.filter(agency=agency).annotate(
        waiting=Case(
            When(status=T.SUBMITTED, then=Value(0)), default=Value(1), output_field=IntegerField()
        )
    )
    if status:
        sheets = sheets.filter(status=status)
    if assistant_id:
        sheets = sheets.filter(assistant_id=assistant_id)
    return sheets.select_related("assistant__user", "decided_by")


def sheet_minutes(*, agency, sheets) -> dict[int, int]:
    """Each sheet's logged minutes, for a page of sheets in one query."""
    sheets = list(sheets)
    if not sheets:
        return {}
    lowest = min(sheet.week_start for sheet in sheets) - dt.timedelta(days=1)
    highest = max(sheet.week_start for sheet in sheets) + dt.timedelta(days=9)
    by_assistant = defaultdict(list)
    for sheet in sheets:
        by_assistant[sheet.assistant_id].append(sheet)
    totals = defaultdict(int)
    entries = TimeEntry.objects.filter(
        agency=agency,
        assistant_id__in=by_assistant,
        ended_at__isnull=False,
        started_at__gte=local_midnight(lowest, "UTC"),
        started_at__lt=local_midnight(highest, "UTC"),
    )
    for assistant_id, started, minutes in entries.values_list(
        "assistant_id", "started_at", "minutes"
    ):
        sheet = _covering(by_assistant[assistant_id], started)
        if sheet is not None:
            totals[sheet.pk] += minutes
    return totals


# -- writes ---------------------------------------------------------------------------------


def _notify_decision(*, agency, sheet: Timesheet) -> None:
    from notifications.models import NotificationKind
    from notifications.selectors import member_recipients
    from notifications.services import notify

    recipient = member_recipients(agency=agency, membership_ids=[sheet.assistant_id]).get(
        sheet.assistant_id
    )
    if recipient is None:
        return
    week = f"{sheet.week_start:%-d %b %Y}"
    if sheet.status == T.APPROVED:
        title = f"Your timesheet for the week of {week} is approved"
        body = "Its time is locked." + (f"\n\n{sheet.note}" if sheet.note else "")
    else:
        title = f"Your timesheet for the week of {week} is returned"
        body = f"{sheet.note}\n\nCorrect the week's time and submit it again."
    link = reverse("my_timesheets", kwargs={"agency_slug": agency.slug})
    notify(
        agency=agency,
        recipient=recipient,
        kind=NotificationKind.TIMESHEET_DECIDED,
        target=sheet,
        occasion=f"{sheet.status}:{sheet.decided_at.isoformat()}",
        title=title,
        body=body,
        link=f"{link}?week={sheet.week_start.isoformat()}",
    )


def timesheet_submit(*, agency, actor, membership, week_start: dt.date) -> Timesheet:
    """Put an assistant's week to staff: a Monday, of a week that has begun on their
    calendar, with finished time in it and no timer still running from it; not while it
    waits for a decision or once approved. A returned week is submitted again."""
    if membership.role != Role.ASSISTANT:
        raise ApplicationError(
            "Only an assistant submits a timesheet.", code="timesheet_not_an_assistant"
        )
    if week_start.weekday() != 0:
        raise ApplicationError(
            "A week starts on a Monday.",
            code="timesheet_week_invalid",
            extra={"field": "week_start"},
        )
    with transaction.atomic():
        sheet = (
            Timesheet.objects.select_for_update()
            .filter(agency=agency, assistant=membership, week_start=week_start)
            .first()
        )
        zone = sheet.zone if sheet else zone_of(agency=agency, membership=membership)
        if week_start > local_today(zone):
            raise ApplicationError(
                "That week has not begun yet.",
                code="timesheet_week_not_started",
                extra={"field": "week_start"},
            )
        if sheet is not None and sheet.status == T.SUBMITTED:
            raise ApplicationError(
                "This week is already submitted.", code="timesheet_already_submitted"
            )
        if sheet is not None and sheet.status == T.APPROVED:
            raise ApplicationError(
                "This week is approved: its time is locked.", code="timesheet_already_approved"
            )
        begins, ends = week_bounds(week_start, zone)
        if TimeEntry.objects.filter(
            agency=agency,
            assistant=membership,
            ended_at__isnull=True,
            started_at__gte=begins,
            started_at__lt=ends,
        ).exists():
            raise ApplicationError(
                "A timer from this week is still running: stop it first.",
                code="timesheet_timer_running",
            )
        entries = list(
            week_entries(agency=agency, assistant_id=membership.pk, monday=week_start, zone=zone)
        )
        if not entries:
            raise ApplicationError(
                "There is no time in this week to submit.", code="timesheet_empty"
            )
        now = timezone.now()
        if sheet is None:
            with unique_or_error(
                "This week is already submitted.",
                code="timesheet_already_submitted",
                field="week_start",
            ):
                sheet = Timesheet.objects.create(
                    agency=agency,
                    assistant=membership,
                    week_start=week_start,
                    zone=zone,
                    status=T.SUBMITTED,
                    submitted_at=now,
                )
            again = False
        else:
            again = True
            sheet.status, sheet.submitted_at = T.SUBMITTED, now
            sheet.decided_at = sheet.decided_by = None
            sheet.save(update_fields=["status", "submitted_at", "decided_at", "decided_by"])
        audit_record(
            agency=agency,
            actor=actor,
            action="timesheet.resubmitted" if again else "timesheet.submitted",
            target=sheet,
            week_start=week_start.isoformat(),
            entries=len(entries),
            minutes=sum(entry.minutes for entry in entries),
        )
    return sheet


def _decide(*, agency, actor, membership, timesheet: Timesheet, to: str, note: str) -> Timesheet:
    if membership.role not in STAFF_ROLES:
        raise ApplicationError(
            "Only the agency's staff decide on timesheets.", code="timesheet_not_staff"
        )
    with transaction.atomic():
        sheet = Timesheet.objects.select_for_update().filter(agency=agency, pk=timesheet.pk).first()
        if sheet is None:
            raise ApplicationError("There is no such timesheet.", code="timesheet_unknown")
        if sheet.status != T.SUBMITTED:
            raise ApplicationError(
                f"Only a submitted week can be decided; this one is "
                f"{sheet.get_status_display().lower()}.",
                code="timesheet_not_submitted",
            )
        sheet.status, sheet.note = to, note
        sheet.decided_at, sheet.decided_by = timezone.now(), actor
        sheet.save(update_fields=["status", "note", "decided_at", "decided_by"])
        task_ids = sorted(
            set(
                week_entries(
                    agency=agency,
                    assistant_id=sheet.assistant_id,
                    monday=sheet.week_start,
                    zone=sheet.zone,
                ).values_list("task_id", flat=True)
            )
        )
        audit_record(
            agency=agency,
            actor=actor,
            action=f"timesheet.{to}",
            target=sheet,
            week_start=sheet.week_start.isoformat(),
            note=note,
            tasks=task_ids,
        )
        _notify_decision(agency=agency, sheet=sheet)
        if to == T.APPROVED:
            transaction.on_commit(lambda: _approved(agency, task_ids))
    return sheet


def _approved(agency, task_ids) -> None:
    # On commit, which may come after the caller's scope has closed: in the agency's own.
    with agency_scope(agency):
        task_hooks.timesheet_approved(agency=agency, task_ids=task_ids)


def timesheet_approve(
    *, agency, actor, membership, timesheet: Timesheet, note: str = ""
) -> Timesheet:
    """Staff accept a submitted week: its time is locked for the assistant, and billing
    may charge work that waited for it. The assistant is told."""
    note = text_within(note, limit=TIMESHEET_NOTE_MAX_CHARS, field="note", label="A note")
    return _decide(
        agency=agency,
        actor=actor,
        membership=membership,
        timesheet=timesheet,
        to=T.APPROVED,
        note=note,
    )


def timesheet_return(*, agency, actor, membership, timesheet: Timesheet, note: str) -> Timesheet:
    """Staff send a submitted week back with a note saying what to correct; the assistant
    is told, may correct its time and submit it again."""
    note = text_within(note, limit=TIMESHEET_NOTE_MAX_CHARS, field="note", label="A note")
    if not note:
        raise ApplicationError(
            "Say what needs correcting: the assistant reads this note.",
            code="timesheet_note_required",
            extra={"field": "note"},
        )
    return _decide(
        agency=agency,
        actor=actor,
        membership=membership,
        timesheet=timesheet,
        to=T.RETURNED,
        note=note,
    )
