"""Recurring requests: a client asks once for work made again every week or month, at a
time of day in the client's own time zone. Beat's sweep turns each occurrence into one
task through the ordinary request service, so every rule of a request still applies."""

import calendar
import datetime as dt
import logging
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from accounts.models import Agency
from core.audit import audit_record
from core.errors import ApplicationError, text_within
from core.tenancy import agency_scope, scopes_disabled
from tasks import services
from tasks.models import TITLE_MAX_CHARS, Priority, RecurringRequest
from tasks.selectors import contracted_line

logger = logging.getLogger(__name__)

Frequency = RecurringRequest.Frequency
WEEKDAYS = list(calendar.day_name)  # Monday first, as `weekday` counts


def next_occurrence(
    *,
    frequency: str,
    weekday: int | None,
    day_of_month: int | None,
    time_of_day: dt.time,
    time_zone: str,
    after: dt.datetime,
) -> dt.datetime:
    """The first occurrence strictly after `after`, as an aware UTC datetime.

    Dates are stepped on the client's calendar and the time of day is attached in their
    zone for that very date, so 09:00 stays 09:00 on both sides of a DST change. A time
    that does not exist on that date (inside the spring-forward gap) resolves as zoneinfo
    does with fold=0: one hour later on the wall clock; a repeated hour takes its first
    instance.
    """
    zone = ZoneInfo(time_zone)
    today = after.astimezone(zone).date()

    def at(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, time_of_day, tzinfo=zone)

    if frequency == Frequency.WEEKLY:
        day = today + dt.timedelta(days=(weekday - today.weekday()) % 7)
        while at(day) <= after:
            day += dt.timedelta(days=7)
    elif frequency == Frequency.MONTHLY:
        # Days 1-28 only (a database constraint), so every month has the day.
        day = today.replace(day=day_of_month)
        while at(day) <= after:
            day = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=day_of_month)
    else:
        raise ValueError(f"unknown frequency {frequency!r}")
    return at(day).astimezone(dt.UTC)


def _next_run(recurring: RecurringRequest, *, after: dt.datetime) -> dt.datetime:
    return next_occurrence(
        frequency=recurring.frequency,
        weekday=recurring.weekday,
        day_of_month=recurring.day_of_month,
        time_of_day=recurring.time_of_day,
        time_zone=recurring.client.time_zone,
        after=after,
    )


def schedule_label(recurring: RecurringRequest) -> str:
    """ "Every Monday at 09:00" / "Every month on day 15 at 09:00" (the client's clock)."""
    clock = recurring.time_of_day.strftime("%H:%M")
    if recurring.frequency == Frequency.WEEKLY:
        return f"Every {WEEKDAYS[recurring.weekday]} at {clock}"
    return f"Every month on day {recurring.day_of_month} at {clock}"


def _schedule_checked(frequency, weekday, day_of_month) -> tuple[int | None, int | None]:
    if frequency == Frequency.WEEKLY:
        if weekday is None or not 0 <= weekday <= 6:
            raise ApplicationError(
                "Choose the day of the week.",
                code="recurring_weekday_invalid",
                extra={"field": "weekday"},
            )
        return weekday, None
    if frequency == Frequency.MONTHLY:
        if day_of_month is None or not 1 <= day_of_month <= 28:
            raise ApplicationError(
                "Choose a day of the month from 1 to 28 (every month has it).",
                code="recurring_day_invalid",
                extra={"field": "day_of_month"},
            )
        return None, day_of_month
    raise ApplicationError(
        "Choose how often.", code="recurring_frequency_invalid", extra={"field": "frequency"}
    )


def _require_contracted(*, agency, client, service) -> None:
    contracted_line(agency=agency, client=client, service=service)


def recurring_create(
    *,
    agency,
    actor,
    client,
    service,
    title: str,
    details: str = "",
    template_data=None,
    priority: int = Priority.NORMAL,
    frequency: str,
    weekday: int | None = None,
    day_of_month: int | None = None,
    time_of_day: dt.time,
) -> RecurringRequest:
    """A client sets up work to be requested on a schedule. The same rules as a single
    request hold (contracted service, title, priority, the service's form fields); the
    first run is the next occurrence strictly after now, in the client's zone."""
    if client.agency_id != agency.pk:
        raise ApplicationError("Unknown client.", code="task_client_invalid")
    if not client.is_active:
        raise ApplicationError("This client cannot request work.", code="task_client_invalid")
    _require_contracted(agency=agency, client=client, service=service)
    weekday, day_of_month = _schedule_checked(frequency, weekday, day_of_month)
    if priority not in Priority.values:
        raise ApplicationError(
            "Choose a priority.", code="task_priority_invalid", extra={"field": "priority"}
        )
    title = text_within(title, limit=TITLE_MAX_CHARS, field="title", label="A title")
    if not title:
        raise ApplicationError(
            "Give the request a title.", code="task_title_required", extra={"field": "title"}
        )
    # One check of the service's form fields, the one every single request goes through.
    cleaned = services.task_template_values(service, template_data or {})
    recurring = RecurringRequest(
        agency=agency,
        client=client,
        service=service,
        title=title,
        details=details,
        template_data=cleaned,
        priority=priority,
        frequency=frequency,
        weekday=weekday,
        day_of_month=day_of_month,
        time_of_day=time_of_day.replace(second=0, microsecond=0),
        created_by=actor,
    )
    recurring.next_run_at = _next_run(recurring, after=timezone.now())
    with transaction.atomic():
        recurring.save()
        audit_record(
            agency=agency,
            actor=actor,
            action="recurring.created",
            target=recurring,
            next_run_at=recurring.next_run_at.isoformat(),
        )
    return recurring


def recurring_set_active(
    *, agency, actor, recurring: RecurringRequest, active: bool
) -> RecurringRequest:
    """Pause or resume. Resuming schedules the next occurrence after now, so the weeks it
    was paused are not made up in a burst; a service no longer contracted cannot resume."""
    with transaction.atomic():
        recurring = (
            RecurringRequest.objects.select_for_update(of=("self",))
            .select_related("client", "service")
            .get(pk=recurring.pk, agency=agency)
        )
        if recurring.is_active == active:
            return recurring
        if active:
            _require_contracted(agency=agency, client=recurring.client, service=recurring.service)
            recurring.next_run_at = _next_run(recurring, after=timezone.now())
        recurring.is_active = active
        recurring.save(update_fields=["is_active", "next_run_at"])
        audit_record(
            agency=agency,
            actor=actor,
            action="recurring.resumed" if active else "recurring.paused",
            target=recurring,
        )
    return recurring


def recurring_run_due(*, now: dt.datetime | None = None) -> int:
    """Beat's sweep: one task for each active recurring request whose time has come, in
    every agency. Returns how many tasks it made.

    Safe to run twice at once: each request is locked (skipping rows another sweep holds)
    and its next run moves forward in the same transaction that makes the task, so one
    occurrence makes one task. Missed occurrences (the sweep was down) are skipped: one
    task for the latest, then the schedule resumes after now.
    """
    now = now or timezone.now()
    # The sweep spans every agency on purpose, so it reads the due rows with scopes
    # disabled: ids only, through the (is_active, next_run_at) index. Each request is
    # then handled inside its own agency's scope, like any other agency job.
    with scopes_disabled():
        due = list(
            RecurringRequest.objects.filter(is_active=True, next_run_at__lte=now)
            .order_by("next_run_at", "pk")
            .values_list("pk", "agency_id")
        )
        agencies = Agency.objects.in_bulk({agency_id for _, agency_id in due})
    made = 0
    for recurring_id, agency_id in due:
        agency = agencies[agency_id]
        try:
            with agency_scope(agency):
                made += _run_one(agency=agency, recurring_id=recurring_id, now=now)
        except Exception:
            # One broken request must not stop every other agency's work; it is retried
            # at the next sweep (its transaction rolled back, next_run_at unchanged).
            logger.exception("Recurring request %s could not run", recurring_id)
    return made


def _run_one(*, agency, recurring_id: int, now: dt.datetime) -> int:
    with transaction.atomic():
        rows = RecurringRequest.objects.filter(
            pk=recurring_id, agency=agency, is_active=True, next_run_at__lte=now
        ).select_related("client", "service")
        if services.connection_supports_skip_locked():
            rows = rows.select_for_update(skip_locked=True, of=("self",))
        else:
            rows = rows.select_for_update(of=("self",))
        recurring = rows.first()
        if recurring is None:
            return 0  # another sweep holds it, or has already moved it on
        occurrence = recurring.next_run_at
        following = _next_run(recurring, after=occurrence)
        while following <= now:  # skip what was missed: only the latest counts
            occurrence, following = following, _next_run(recurring, after=following)
        turnaround = dt.timedelta(hours=recurring.service.default_turnaround_hours)
        due_at = occurrence + turnaround
        if due_at <= now:
            # A sweep this late would ask for work already overdue: give the assistant
            # the service's full turnaround from now instead.
            due_at = now + turnaround
        try:
            with transaction.atomic():  # a refusal rolls back to here, keeping the lock
                task = services.task_request(
                    agency=agency,
                    actor=recurring.created_by,
                    client=recurring.client,
                    service=recurring.service,
                    title=recurring.title,
                    details=recurring.details,
                    due_at=due_at,
                    priority=recurring.priority,
                    template_data=recurring.template_data,
                )
        except ApplicationError as error:
            if error.code == "requests_paused":
                # Skipped while an unpaid invoice pauses the client; the schedule goes on.
                recurring.next_run_at = following
                recurring.save(update_fields=["next_run_at"])
                return 0
            # The contract changed under it (or its form did): stop asking, say why.
            recurring.is_active = False
            recurring.save(update_fields=["is_active"])
            audit_record(
                agency=agency,
                actor=None,
                action="recurring.paused",
                target=recurring,
                reason=error.code,
                message=error.message,
            )
            return 0
        task.recurrence = recurring
        task.save(update_fields=["recurrence"])
        recurring.next_run_at = following
        recurring.save(update_fields=["next_run_at"])
        audit_record(
            agency=agency,
            actor=None,
            action="recurring.task_created",
            target=recurring,
            task=task.pk,
            occurrence=occurrence.isoformat(),
        )
    return 1
