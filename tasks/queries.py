"""Reads for the work pages: the admin task list and its filters, the at-risk view, the
marks a task row carries (overdue, at risk, the client's working day) and the counts the
dashboards show. Every list here costs a fixed number of queries, however many rows."""

import datetime as dt
import operator
from functools import reduce
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum, Window
from django.db.models.functions import Coalesce

from assistants.models import AssistantProfile, AssistantSkill
from assistants.schedule import is_on_shift
from assistants.selectors import dedicated_takers, time_off_in_force
from contracts.models import ContractAssistant, ServiceCategory
from core.roles import Role
from tasks.models import (
    ACTIVE_STATUSES,
    OPEN_STATUSES,
    Task,
    TaskStatus,
    TimeEntry,
    entry_seconds,
)
from tasks.selectors import with_list_data

# A task due within this long that nobody has started is flagged "at risk". One figure for
# every service on purpose: turnarounds differ per service, but the question the flag asks
# is the same everywhere ("will this still make it if someone starts now?"), and half a
# working day is about the smallest span in which a typical VA task gets picked up and done.
# A per-service threshold would need a field on Service; revisit if agencies ask for it.
AT_RISK_WITHIN = dt.timedelta(hours=4)
# Queued work nobody has taken for this long is flagged too: the pool is not draining.
UNASSIGNED_TOO_LONG = dt.timedelta(hours=2)
# Work that has not started yet; in_progress and waiting_on_client have someone on it.
NOT_STARTED = (TaskStatus.REQUESTED, TaskStatus.QUEUED, TaskStatus.ASSIGNED)

# Clients have no working hours of their own yet, so "the client's working day" is the
# common office week in the client's own time zone: Monday to Friday, 09:00 to 17:00.
CLIENT_WORKDAYS = range(0, 5)  # datetime.weekday(): Monday .. Friday
CLIENT_DAY_STARTS = dt.time(9, 0)
CLIENT_DAY_ENDS = dt.time(17, 0)


# -- marks on one row --------------------------------------------------------------------


def is_overdue(task: Task, now: dt.datetime) -> bool:
    return task.status in OPEN_STATUSES and task.due_at < now


def is_at_risk(task: Task, now: dt.datetime) -> bool:
    """Not overdue yet, but due within AT_RISK_WITHIN and nobody has started it."""
    return task.status in NOT_STARTED and now <= task.due_at < now + AT_RISK_WITHIN


def is_waiting_too_long(task: Task, now: dt.datetime) -> bool:
    """In the pool, unassigned, for longer than UNASSIGNED_TOO_LONG since it (last) entered
    the pool."""
    return (
        task.status in (TaskStatus.REQUESTED, TaskStatus.QUEUED)
        and task.assignee_id is None
        and task.queued_at < now - UNASSIGNED_TOO_LONG
    )


def is_client_working_day(client, now: dt.datetime) -> bool:
    local = now.astimezone(ZoneInfo(client.time_zone))
    return (
        local.weekday() in CLIENT_WORKDAYS and CLIENT_DAY_STARTS <= local.time() < CLIENT_DAY_ENDS
    )


# -- the admin list -----------------------------------------------------------------------

OPEN = "open"  # the pseudo-status: every status that still needs someone
DUE_FILTERS = {
    "all": "Any time",
    "overdue": "Overdue",
    "today": "Due today",
    "week": "Due this week",
}


# Most urgent first; the id keeps rows with the same due time and priority in one order,
# so that keyset pages never repeat or skip one. Indexes task_by_due and task_open_by_due
# (and the status one) end in these columns, so a page reads only its own rows.
TASK_LIST_ORDER = ("due_at", "-priority", "pk")


def task_list(
    *,
    agency,
    now: dt.datetime,
    client_id: int | None = None,
    assignee_id: int | None = None,
    status: str | None = None,
    service_id: int | None = None,
    due: str = "all",
) -> QuerySet[Task]:
    """The agency's tasks for the staff list, most urgent first. `status` is a TaskStatus
    or OPEN; `due` one of DUE_FILTERS, "today" and "this week" in the agency's zone (the
    week runs Monday to Sunday, as on the agency's calendar)."""
    tasks = Task.objects.filter(agency=agency)
    if client_id:
        tasks = tasks.filter(client_id=client_id)
    if assignee_id:
        tasks = tasks.filter(assignee_id=assignee_id)
    if service_id:
        tasks = tasks.filter(service_id=service_id)
    if status == OPEN:
        tasks = tasks.filter(status__in=OPEN_STATUSES)
    elif status:
        tasks = tasks.filter(status=status)
    if due == "overdue":
        tasks = tasks.filter(status__in=OPEN_STATUSES, due_at__lt=now)
    elif due in ("today", "week"):
        zone = ZoneInfo(agency.time_zone)
        today = now.astimezone(zone).date()
        first = today if due == "today" else today - dt.timedelta(days=today.weekday())
        days = 1 if due == "today" else 7
        start = dt.datetime.combine(first, dt.time(), tzinfo=zone)
        end = dt.datetime.combine(first + dt.timedelta(days=days), dt.time(), tzinfo=zone)
        tasks = tasks.filter(due_at__gte=start, due_at__lt=end)
    return with_list_data(tasks).order_by(*TASK_LIST_ORDER)


def tasks_at_risk(*, agency, now: dt.datetime) -> QuerySet[Task]:
    """Open work that needs an admin's eye: overdue; due within AT_RISK_WITHIN and not
    started; or waiting in the pool, unassigned, for longer than UNASSIGNED_TOO_LONG since
    it last entered the pool.
    """
    return (
        with_list_data(Task.objects.filter(agency=agency, status__in=OPEN_STATUSES))
        .filter(_at_risk(now))
        .order_by(*TASK_LIST_ORDER)
    )


def _at_risk(now: dt.datetime) -> Q:
    """Of open work, what tasks_at_risk chooses; the dashboard's count uses it too."""
    return (
        Q(due_at__lt=now)
        | Q(status__in=NOT_STARTED, due_at__lt=now + AT_RISK_WITHIN)
        | Q(
            status__in=(TaskStatus.REQUESTED, TaskStatus.QUEUED),
            assignee__isnull=True,
            queued_at__lt=now - UNASSIGNED_TOO_LONG,
        )
    )


def work_counts(*, agency, now: dt.datetime) -> dict[str, int]:
    """The staff dashboard's figures: open tasks and those at risk (as tasks_at_risk
    chooses them). One aggregate over open work, which the partial indexes on open
    statuses keep to a small share of the table, without the list's joins."""
    return Task.objects.filter(agency=agency, status__in=OPEN_STATUSES).aggregate(
        # Counted on columns of task_open_counts (not the id; due_at is never empty), so
        # the index alone answers and the open rows themselves are never read.
        open=Count("*"),
        at_risk=Count("due_at", filter=_at_risk(now)),
    )


# The dashboard lists this many of the queued tasks nobody may take, due first.
WAITING_SHOWN = 10


def waiting_for_skill(*, agency, limit: int = WAITING_SHOWN) -> dict:
    """The first `limit` queued tasks no active assistant may take (the rule of
    `tasks.selectors.tasks_nobody_can_take`) and how many there are. The categories nobody
    active is skilled in and the dedicated contracts nobody active serves are read first
    from the small skill and contract tables, so the task query asks for those ids
    directly and its indexes find the few tasks stuck, instead of testing every queued
    task against both lists; the count rides on the same query. Three queries at most,
    whatever the number of tasks; two when nothing can be stuck."""
    skilled = AssistantSkill.objects.filter(
        agency=agency, profile__is_active=True, profile__membership__is_active=True
    ).values("category")
    unskilled = list(
        ServiceCategory.objects.filter(agency=agency)
        .exclude(pk__in=skilled)
        .values_list("pk", flat=True)
    )
    dedicated, served = set(), set()
    for contract_id, member_active, profile_active in ContractAssistant.objects.filter(
        agency=agency
    ).values_list(
        "contract_id", "membership__is_active", "membership__assistant_profile__is_active"
    ):
        dedicated.add(contract_id)
        if member_active and profile_active:
            served.add(contract_id)
    unserved = dedicated - served
    stuck = []
    if unskilled:
        stuck.append(Q(category_id__in=unskilled) & ~Q(contract_id__in=dedicated))
    if unserved:
        stuck.append(Q(contract_id__in=unserved))
    if not stuck:
        return {"tasks": [], "count": 0}
    stuck = reduce(operator.or_, stuck)
    tasks = list(
        Task.objects.filter(agency=agency, status=TaskStatus.QUEUED, assignee__isnull=True)
        .filter(stuck)
        .select_related("client", "service", "category")
        .annotate(waiting_total=Window(Count("pk")))
        .order_by("due_at", "pk")[:limit]
    )
    return {"tasks": tasks, "count": tasks[0].waiting_total if tasks else 0}


def active_task_count(*, agency, membership) -> int:
    return Task.objects.filter(
        agency=agency, assignee=membership, status__in=ACTIVE_STATUSES
    ).count()


# -- time and people on one task ------------------------------------------------------------


def running_timer_of(*, agency, membership) -> TimeEntry | None:
    """The assistant's running timer (at most one, the database sees to it)."""
    return (
        TimeEntry.objects.filter(agency=agency, assistant=membership, ended_at__isnull=True)
        .select_related("task")
        .first()
    )


def time_entries_of(*, agency, task: Task) -> QuerySet[TimeEntry]:
    return (
        TimeEntry.objects.filter(agency=agency, task=task)
        .select_related("assistant__user", "assistant__assistant_profile")
        .order_by("started_at", "pk")
    )


def latest_of(
    rows: QuerySet, *, shown: int | None, order=("created_at", "pk")
) -> tuple[list, bool]:
    """The last `shown` rows in `order` (all of them when None), still in that order, and
    whether earlier ones were left out: long histories stay one bounded query."""
    if shown is None:
        return list(rows.order_by(*order)), False
    newest = [f"-{name}" for name in order]
    found = list(rows.order_by(*newest)[: shown + 1])
    return found[:shown][::-1], len(found) > shown


def seconds_logged_on(*, agency, task: Task) -> int:
    """The task's logged time to the second: its finished entries' seconds. When the
    entries do not account for the task's logged minutes (time recorded on the task itself,
    in whole minutes), those minutes are the record. One query."""
    seconds = (
        TimeEntry.objects.filter(agency=agency, task=task, ended_at__isnull=False).aggregate(
            total=Sum(entry_seconds())
        )["total"]
        or 0
    )
    if -(-seconds // 60) != task.minutes_logged:
        return task.minutes_logged * 60
    return seconds


def assistants_for_assignment(*, agency, now: dt.datetime) -> list[AssistantProfile]:
    """Active assistants to give work to, each with `load` (their active tasks) and
    `on_shift` (their own working hours include `now`), by name. Two queries: the
    profiles, and the load of each from the partial index of active work by assignee
    (task_active_by_assignee), so finished work, most of the table, is never read."""
    profiles = list(
        AssistantProfile.objects.filter(
            agency=agency,
            is_active=True,
            membership__is_active=True,
            membership__role=Role.ASSISTANT,
        )
        .select_related("membership__user")
        .order_by("membership__user__full_name", "membership__user__email", "pk")
    )
    loads = active_loads(agency=agency)
    for profile in profiles:
        profile.load = loads.get(profile.membership_id, 0)
        profile.on_shift = is_on_shift(profile, now)
    return profiles


# The assign form lists at most this many of the assistants who may do the task; anyone
# else is one search away.
ASSIGN_SHOWN = 25


def assistants_for_task(
    *, agency, task: Task, now: dt.datetime, limit: int = ASSIGN_SHOWN
) -> list[AssistantProfile]:
    """The active assistants who may do `task` and have room for it, least loaded first
    (then by name), at most `limit`: the pool's rule (`selectors._eligible`) seen from the
    task: those its contract dedicates (or who cover for them while they are away,
    `dedicated_takers`), or when that is nobody, those skilled in its category; never
    anyone on time off; and under their capacity. Its assignee, if active and not away, is
    among them whatever their load. Each carries `load` and `on_shift`. One query: each
    candidate's load is a count on the partial index of active work by assignee
    (task_active_by_assignee), and the rest are subqueries on the small contract and
    skill tables, so only the rows shown are read into Python."""
    # Who serves the contract at `now`: its dedicated assistants, or for those on time off
    # their cover; when that is nobody, the skill pool. Nobody on time off is offered.
    takers = dedicated_takers(agency=agency, at=now)
    away = time_off_in_force(agency=agency, at=now).filter(assistant=OuterRef("membership_id"))
    skilled = AssistantSkill.objects.filter(
        agency=agency, profile=OuterRef("pk"), category_id=task.category_id
    )
    load = (
        Task.objects.filter(
            agency=agency, assignee_id=OuterRef("membership_id"), status__in=ACTIVE_STATUSES
        )
        .order_by()
        .values("assignee_id")
        .annotate(n=Count("*"))
        .values("n")
    )
    profiles = list(
        AssistantProfile.objects.filter(
            agency=agency,
            is_active=True,
            membership__is_active=True,
            membership__role=Role.ASSISTANT,
        )
        .annotate(load=Coalesce(Subquery(load), 0))
        .filter(
            # whoever holds it now stays in the list (chosen), whatever their load
            Q(membership_id=task.assignee_id)
            | (
                Q(load__lt=F("capacity"))
                & (
                    takers.takers_of(task.contract_id)
                    | (Q(Exists(skilled)) & ~Q(Exists(takers.served_contract(task.contract_id))))
                )
            )
        )
        .filter(~Exists(away))
        .select_related("membership__user")
        .order_by("load", "membership__user__full_name", "membership__user__email", "pk")[:limit]
    )
    for profile in profiles:
        profile.on_shift = is_on_shift(profile, now)
    return profiles


def active_loads(*, agency) -> dict[int, int]:
    """Active tasks per assignee (membership id): only members who hold any. One query."""
    rows = (
        Task.objects.filter(agency=agency, status__in=ACTIVE_STATUSES)
        .order_by()
        .values_list("assignee_id")
        .annotate(load=Count("*"))  # not a column: the index alone answers it
    )
    return dict(rows)
