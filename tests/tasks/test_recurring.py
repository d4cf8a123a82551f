"""Recurring requests: the schedule on the client's clock, beat's sweep, and the pages."""

import datetime as dt
import re

import pytest
from django.conf import settings
from django.urls import reverse

from contracts.models import ContractLine
from core.errors import ApplicationError
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope
from tasks import jobs, recurring
from tasks.models import RecurringRequest, Task
from tests.contracts.factories import CategoryFactory, ContractFactory, LineFactory, ServiceFactory
from tests.factories import ClientFactory, MembershipFactory

UTC = dt.UTC


def at(text):
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def make_portal(agency):
    category = CategoryFactory(agency=agency)
    service = ServiceFactory(
        agency=agency,
        name="Weekly report",
        category=category,
        default_turnaround_hours=24,
        request_template=[
            {"name": "audience", "label": "Audience", "type": "text", "required": True}
        ],
    )
    unsold = ServiceFactory(agency=agency, name="Legal admin", category=category)
    client = ClientFactory(agency=agency, time_zone="America/New_York")
    contract = ContractFactory(agency=agency, client=client, status="active")
    line = LineFactory(agency=agency, contract=contract, service=service)
    person = MembershipFactory(agency=agency, role=Role.CLIENT, client=client)
    return {
        "service": service,
        "unsold": unsold,
        "client": client,
        "line": line,
        "person": person,
    }


@pytest.fixture
def portal(agency, time_machine):
    time_machine.move_to("2026-03-02 15:00Z", tick=False)  # Monday 10:00 in New York (EST)
    return make_portal(agency)


def weekly_monday_nine(agency, portal, **kwargs):
    with agency_scope(agency):
        return recurring.recurring_create(
            agency=agency,
            actor=portal["person"].user,
            client=portal["client"],
            service=portal["service"],
            title="Monday report",
            template_data={"audience": "Board"},
            frequency="weekly",
            weekday=0,
            time_of_day=dt.time(9, 0),
            **kwargs,
        )


def tasks_of(agency, item):
    with agency_scope(agency):
        return list(Task.objects.filter(recurrence=item).order_by("pk"))


# -- the schedule --------------------------------------------------------------------------


def test_the_next_run_keeps_the_clients_clock_across_dst(agency, portal):
    item = weekly_monday_nine(agency, portal)
    # 09:00 on Monday 9 March is summer time in New York (clocks went forward on the 8th)
    assert item.next_run_at == at("2026-03-09 13:00")
    # the Monday before was winter time: the same 09:00 was an hour later in UTC
    before = recurring.next_occurrence(
        frequency="weekly",
        weekday=0,
        day_of_month=None,
        time_of_day=dt.time(9, 0),
        time_zone="America/New_York",
        after=at("2026-02-28 00:00"),
    )
    assert before == at("2026-03-02 14:00")
    # and back again in November
    autumn = recurring.next_occurrence(
        frequency="weekly",
        weekday=0,
        day_of_month=None,
        time_of_day=dt.time(9, 0),
        time_zone="America/New_York",
        after=at("2026-10-26 13:00"),
    )
    assert autumn == at("2026-11-02 14:00")


def test_the_next_run_is_strictly_after_now(agency, portal, time_machine):
    time_machine.move_to("2026-03-09 13:00Z", tick=False)  # exactly Monday 09:00 EDT
    item = weekly_monday_nine(agency, portal)
    assert item.next_run_at == at("2026-03-16 13:00")


def test_monthly_runs_on_the_day_in_the_clients_zone(agency, portal):
    def monthly(day, after):
        return recurring.next_occurrence(
            frequency="monthly",
            weekday=None,
            day_of_month=day,
            time_of_day=dt.time(23, 30),
            time_zone="America/New_York",
            after=after,
        )

    # 23:30 on 2 March in New York is already 3 March in UTC
    assert monthly(2, at("2026-03-02 15:00")) == at("2026-03-03 04:30")
    assert monthly(1, at("2026-03-02 15:00")) == at("2026-04-02 03:30")  # EDT by April
    assert monthly(28, at("2026-12-29 05:00")) == at("2027-01-29 04:30")  # over the year end


def test_a_schedule_needs_its_day(agency, portal):
    with pytest.raises(ApplicationError) as error, agency_scope(agency):
        recurring.recurring_create(
            agency=agency,
            actor=None,
            client=portal["client"],
            service=portal["service"],
            title="Monthly",
            template_data={"audience": "Board"},
            frequency="monthly",
            day_of_month=31,
            time_of_day=dt.time(9, 0),
        )
    assert error.value.extra["field"] == "day_of_month"
    with pytest.raises(ApplicationError) as error, agency_scope(agency):
        recurring.recurring_create(
            agency=agency,
            actor=None,
            client=portal["client"],
            service=portal["unsold"],
            title="Not ours",
            frequency="weekly",
            weekday=1,
            time_of_day=dt.time(9, 0),
        )
    assert error.value.code == "task_service_not_contracted"


# -- the sweep -----------------------------------------------------------------------------


def test_one_occurrence_makes_one_task_however_often_the_sweep_runs(agency, portal, time_machine):
    item = weekly_monday_nine(agency, portal)
    assert recurring.recurring_run_due(now=at("2026-03-09 12:59")) == 0
    time_machine.move_to("2026-03-09 13:05Z", tick=False)
    assert recurring.recurring_run_due(now=at("2026-03-09 13:05")) == 1
    assert recurring.recurring_run_due(now=at("2026-03-09 13:05")) == 0
    assert recurring.recurring_run_due(now=at("2026-03-09 13:10")) == 0
    (task,) = tasks_of(agency, item)
    assert task.title == "Monday report" and task.template_data == {"audience": "Board"}
    assert task.due_at == at("2026-03-10 13:00")  # the occurrence + 24 h turnaround
    assert task.requested_by == portal["person"].user and task.status == "queued"
    item.refresh_from_db()
    assert item.next_run_at == at("2026-03-16 13:00")


def test_a_sweep_that_read_the_row_before_another_moved_it_makes_nothing(
    agency, portal, time_machine
):
    """Two sweeps both list the same due request; the one that gets the row second finds
    it already moved on (or locked, on PostgreSQL) and leaves it."""
    item = weekly_monday_nine(agency, portal)
    now = at("2026-03-09 13:05")
    time_machine.move_to(now, tick=False)
    with agency_scope(agency):
        first = recurring._run_one(agency=agency, recurring_id=item.pk, now=now)
        second = recurring._run_one(agency=agency, recurring_id=item.pk, now=now)
    assert (first, second) == (1, 0)
    assert len(tasks_of(agency, item)) == 1


def test_missed_occurrences_are_skipped_not_made_in_a_burst(agency, portal, time_machine):
    item = weekly_monday_nine(agency, portal)
    # the sweep was down over the 9th and the 16th; it comes back on the 23rd at 11:00 EDT
    now = at("2026-03-23 15:00")
    time_machine.move_to(now, tick=False)
    assert recurring.recurring_run_due(now=now) == 1
    (task,) = tasks_of(agency, item)
    assert task.due_at == at("2026-03-24 13:00")  # from the latest occurrence, the 23rd
    item.refresh_from_db()
    assert item.next_run_at == at("2026-03-30 13:00")


def test_a_sweep_later_than_the_turnaround_gives_the_full_turnaround(agency, portal, time_machine):
    item = weekly_monday_nine(agency, portal)
    now = at("2026-03-14 12:00")  # Saturday: Monday's work would already be overdue
    time_machine.move_to(now, tick=False)
    assert recurring.recurring_run_due(now=now) == 1
    (task,) = tasks_of(agency, item)
    assert task.due_at == now + dt.timedelta(hours=24)


def test_an_uncontracted_service_pauses_the_request_and_the_sweep_goes_on(
    agency, portal, other_agency, time_machine
):
    item = weekly_monday_nine(agency, portal)
    elsewhere = make_portal(other_agency)
    other = weekly_monday_nine(other_agency, elsewhere)
    with agency_scope(agency):
        ContractLine.objects.filter(pk=portal["line"].pk).update(removed_at=at("2026-03-03 00:00"))
    now = at("2026-03-09 13:05")
    time_machine.move_to(now, tick=False)
    assert recurring.recurring_run_due(now=now) == 1  # the other agency's still ran
    assert tasks_of(agency, item) == [] and len(tasks_of(other_agency, other)) == 1
    item.refresh_from_db()
    assert not item.is_active
    with agency_scope(agency):
        paused = AuditEvent.objects.get(
            action="recurring.paused", target_type="tasks.recurringrequest"
        )
    assert paused.target_id == str(item.pk)
    assert paused.details["reason"] == "task_service_not_contracted"
    assert recurring.recurring_run_due(now=now + dt.timedelta(minutes=5)) == 0


def test_the_beat_job_runs_the_sweep_every_five_minutes(agency, portal, time_machine):
    item = weekly_monday_nine(agency, portal)
    time_machine.move_to("2026-03-09 13:01Z", tick=False)
    jobs.create_due_recurring_tasks.delay()
    assert len(tasks_of(agency, item)) == 1
    entry = settings.CELERY_BEAT_SCHEDULE["create-due-recurring-tasks"]
    assert entry["task"] == jobs.create_due_recurring_tasks.name
    assert entry["schedule"] == 300


# -- the pages -----------------------------------------------------------------------------


def url(agency, name, **kwargs):
    return reverse(name, kwargs={"agency_slug": agency.slug, **kwargs})


def test_set_up_a_recurring_request_through_the_page(agency, portal, signed_in):
    http = signed_in(portal["person"].user)
    form = http.get(url(agency, "recurring_create")).content.decode()
    assert "Weekly report" in form and "Legal admin" not in form
    assert 'name="tpl_audience"' in form and 'name="due_date"' not in form
    assert "kind=recurring" in form
    fields = http.get(
        url(agency, "client_task_fields"), {"service": portal["service"].pk, "kind": "recurring"}
    ).content.decode()
    assert 'name="tpl_audience"' in fields and 'name="due_date"' not in fields

    data = {
        "service": portal["service"].pk,
        "title": "Monday report",
        "priority": "1",
        "tpl_audience": "Board",
        "frequency": "weekly",
        "weekday": "",
        "day_of_month": "",
        "time_of_day": "09:00",
    }
    missing = http.post(url(agency, "recurring_create"), data)
    assert missing.status_code == 200 and b"Choose the day of the week." in missing.content
    missing = http.post(
        url(agency, "recurring_create"), {**data, "weekday": "0", "tpl_audience": ""}
    )
    assert b"This field is required." in missing.content
    with agency_scope(agency):
        assert not RecurringRequest.objects.exists()

    data["weekday"] = "0"
    response = http.post(url(agency, "recurring_create"), data, follow=True)
    assert response.redirect_chain[-1][0] == url(agency, "recurring_list")
    with agency_scope(agency):
        item = RecurringRequest.objects.get()
    assert (item.client, item.created_by) == (portal["client"], portal["person"].user)
    page = response.content.decode()
    assert "Every Monday at 09:00" in page
    assert "Mon 9 Mar 2026, 09:00" in page  # the next run, on the client's clock


def test_pause_and_resume_without_making_up_the_missed_weeks(
    agency, portal, signed_in, time_machine
):
    item = weekly_monday_nine(agency, portal)
    http = signed_in(portal["person"].user)
    http.post(url(agency, "recurring_pause", pk=item.pk))
    item.refresh_from_db()
    assert not item.is_active
    assert recurring.recurring_run_due(now=at("2026-03-09 13:05")) == 0
    time_machine.move_to("2026-03-25 12:00Z", tick=False)  # a Wednesday, weeks later
    http = signed_in(portal["person"].user)  # a fresh session: the old one has expired
    page = http.post(url(agency, "recurring_resume", pk=item.pk), follow=True).content.decode()
    assert "resumed" in page
    item.refresh_from_db()
    assert item.is_active and item.next_run_at == at("2026-03-30 13:00")


def test_an_uncontracted_request_cannot_resume(agency, portal, signed_in):
    item = weekly_monday_nine(agency, portal)
    http = signed_in(portal["person"].user)
    http.post(url(agency, "recurring_pause", pk=item.pk))
    with agency_scope(agency):
        ContractLine.objects.filter(pk=portal["line"].pk).update(removed_at=at("2026-03-02 16:00"))
    page = http.post(url(agency, "recurring_resume", pk=item.pk), follow=True).content.decode()
    assert "not in your active contract" in page
    item.refresh_from_db()
    assert not item.is_active


def test_recurring_requests_are_the_clients_own(agency, portal, signed_in, member):
    item = weekly_monday_nine(agency, portal)
    stranger = member(Role.CLIENT)  # another client of the same agency
    http = signed_in(stranger.user)
    assert b"Monday report" not in http.get(url(agency, "recurring_list")).content
    assert http.post(url(agency, "recurring_pause", pk=item.pk)).status_code == 404
    for role in (Role.ASSISTANT, Role.ADMIN):
        staff = signed_in(member(role).user)
        assert staff.get(url(agency, "recurring_list")).status_code == 403
        assert staff.get(url(agency, "recurring_create")).status_code == 403


def test_the_recurring_list_costs_the_same_queries_for_1_and_30(
    agency, portal, signed_in, count_queries
):
    http = signed_in(portal["person"].user)
    weekly_monday_nine(agency, portal)
    http.get(url(agency, "recurring_list"))
    one = count_queries(lambda: http.get(url(agency, "recurring_list")))
    for _ in range(29):
        weekly_monday_nine(agency, portal)
    many = count_queries(lambda: http.get(url(agency, "recurring_list")))
    assert one == many
    page = http.get(url(agency, "recurring_list")).content.decode()
    assert len(re.findall('data-testid="recurring-row"', page)) == 30


# -- under real concurrency (PostgreSQL) ---------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_make_one_task_per_occurrence(agency, time_machine):
    """Several beat sweeps overlap (a slow run and the next one): each due request is made
    exactly once. SQLite serialises writers, so the race only exists on PostgreSQL."""
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("the race needs PostgreSQL's row locks (set DATABASE_URL)")
    time_machine.move_to("2026-03-02 15:00Z", tick=False)
    portal = make_portal(agency)
    items = [weekly_monday_nine(agency, portal) for _ in range(40)]
    now = at("2026-03-09 13:05")
    time_machine.move_to(now, tick=False)

    sweeps = 6
    barrier = threading.Barrier(sweeps, timeout=60)
    made, failures = [], []

    def sweep():
        try:
            barrier.wait()
            made.append(recurring.recurring_run_due(now=now))
        except BaseException as error:  # surfaced in the main thread below
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweep) for _ in range(sweeps)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert sum(made) == len(items)
    with agency_scope(agency):
        per_request = list(Task.objects.values_list("recurrence", flat=True).order_by("recurrence"))
        assert per_request == sorted(item.pk for item in items)
        assert set(RecurringRequest.objects.values_list("next_run_at", flat=True)) == {
            at("2026-03-16 13:00")
        }
