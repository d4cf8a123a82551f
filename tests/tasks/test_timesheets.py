"""Weekly timesheets: an assistant submits a week, staff approve it or return it with a
note, corrections are allowed or refused as the week, the charge and the payout say, weeks
follow the assistant's own calendar, and an agency that bills approved time only charges a
task once all its time is approved, exactly once."""

import datetime as dt

import pytest
from django.urls import reverse

from assistants.models import Payout
from billing import jobs as billing_jobs
from billing.charges import charge_for_task
from billing.models import Charge
from core.errors import ApplicationError
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope, scopes_disabled
from notifications.models import Notification
from tasks import services, timesheets
from tasks.models import Task, TimeEntry, Timesheet
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import CategoryFactory, LineFactory, ServiceFactory
from tests.factories import MembershipFactory
from tests.tasks.factories import TaskFactory

UTC = dt.UTC
# Wednesday 11 March 2026, 12:00 UTC: the week of Monday 9 March everywhere used here.
NOW = dt.datetime(2026, 3, 11, 12, tzinfo=UTC)
MONDAY = dt.date(2026, 3, 9)


@pytest.fixture
def desk(agency, time_machine):
    """A task in progress held by an assistant in Lisbon, with an hour logged on Monday,
    and an admin. The clock stands still at NOW."""
    time_machine.move_to(NOW, tick=False)
    category = CategoryFactory(agency=agency)
    line = LineFactory(agency=agency, service=ServiceFactory(agency=agency, category=category))
    profile = AssistantProfileFactory(agency=agency, skills=[category], time_zone="Europe/Lisbon")
    task = TaskFactory(
        agency=agency, contract_line=line, status="in_progress", assignee=profile.membership
    )
    with scopes_disabled():
        Task.objects.filter(pk=task.pk).update(created_at=NOW - dt.timedelta(days=10))
    entry = log(agency, task, profile.membership, dt.datetime(2026, 3, 9, 10, tzinfo=UTC), 60)
    admin = MembershipFactory(agency=agency, role=Role.ADMIN)
    return {
        "task": task,
        "line": line,
        "assistant": profile.membership,
        "entry": entry,
        "admin": admin,
    }


def log(agency, task, membership, started, minutes) -> TimeEntry:
    with agency_scope(agency):
        entry = TimeEntry.objects.create(
            agency=agency,
            task=task,
            assistant=membership,
            started_at=started,
            ended_at=started + dt.timedelta(minutes=minutes),
            minutes=minutes,
            seconds=minutes * 60,
        )
        Task.objects.filter(pk=task.pk).update(minutes_logged=task.minutes_logged + minutes)
        task.refresh_from_db()
    return entry


def submit(agency, membership, monday=MONDAY):
    with agency_scope(agency):
        return timesheets.timesheet_submit(
            agency=agency, actor=membership.user, membership=membership, week_start=monday
        )


def decide(agency, staff, sheet, *, approve=True, note=""):
    with agency_scope(agency):
        verb = timesheets.timesheet_approve if approve else timesheets.timesheet_return
        return verb(agency=agency, actor=staff.user, membership=staff, timesheet=sheet, note=note)


def correct(agency, membership, entry, note):
    with agency_scope(agency):
        return services.time_entry_update(
            agency=agency, actor=membership.user, membership=membership, entry=entry, note=note
        )


def refused(code, call, *args, **kwargs):
    with pytest.raises(ApplicationError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value.message
    return caught.value


# -- the week's life ------------------------------------------------------------------------


def test_submit_then_approve_locks_the_time_for_the_assistant(agency, desk):
    assistant, admin, entry = desk["assistant"], desk["admin"], desk["entry"]
    correct(agency, assistant, entry, "before submitting")  # a draft week is theirs

    sheet = submit(agency, assistant)
    assert sheet.status == "submitted" and sheet.zone == "Europe/Lisbon"
    refused("time_entry_week_submitted", correct, agency, assistant, entry, "after")
    correct(agency, admin, entry, "staff fix while it waits")  # staff may, audited
    refused("timesheet_already_submitted", submit, agency, assistant)

    sheet = decide(agency, admin, sheet, note="Thanks")
    assert sheet.status == "approved" and sheet.decided_by == admin.user and sheet.decided_at
    refused("time_entry_week_approved", correct, agency, assistant, entry, "after approval")
    refused("timesheet_not_submitted", decide, agency, admin, sheet)
    refused("timesheet_already_approved", submit, agency, assistant)
    with agency_scope(agency):
        # logging new time into an approved week is refused too
        refused(
            "time_entry_week_approved",
            services.time_entry_add,
            agency=agency,
            actor=assistant.user,
            membership=assistant,
            task=desk["task"],
            minutes=30,
            worked_on=dt.date(2026, 3, 10),
        )
        # and so is a timer started in it
        refused(
            "time_entry_week_approved",
            services.timer_start,
            agency=agency,
            actor=assistant.user,
            membership=assistant,
            task=desk["task"],
        )
        told = Notification.objects.get(recipient=assistant.user, kind="timesheet_decided")
        actions = set(
            AuditEvent.objects.filter(target_type="tasks.timesheet").values_list(
                "action", flat=True
            )
        )
        edits = AuditEvent.objects.filter(action="task.time_edited").count()
    assert "approved" in told.title
    assert actions == {"timesheet.submitted", "timesheet.approved"}
    assert edits == 2


def test_a_returned_week_is_corrected_and_submitted_again(agency, desk):
    assistant, admin, entry = desk["assistant"], desk["admin"], desk["entry"]
    sheet = submit(agency, assistant)
    error = refused("timesheet_note_required", decide, agency, admin, sheet, approve=False)
    assert error.extra["field"] == "note"

    sheet = decide(agency, admin, sheet, approve=False, note="Tuesday's call was 30 minutes")
    assert sheet.status == "returned"
    with agency_scope(agency):
        told = Notification.objects.get(recipient=assistant.user, kind="timesheet_decided")
    assert "returned" in told.title and "Tuesday's call" in told.body

    correct(agency, assistant, entry, "fixed")  # theirs again
    again = submit(agency, assistant)
    assert again.pk == sheet.pk and again.status == "submitted" and again.decided_at is None
    with agency_scope(agency):
        assert AuditEvent.objects.filter(action="timesheet.resubmitted").count() == 1


def test_what_cannot_be_submitted(agency, desk, time_machine):
    assistant, admin = desk["assistant"], desk["admin"]
    refused("timesheet_week_invalid", submit, agency, assistant, dt.date(2026, 3, 10))
    refused("timesheet_week_not_started", submit, agency, assistant, dt.date(2026, 3, 16))
    refused("timesheet_empty", submit, agency, assistant, dt.date(2026, 3, 2))
    refused("timesheet_not_an_assistant", submit, agency, admin)
    with agency_scope(agency):
        services.timer_start(
            agency=agency, actor=assistant.user, membership=assistant, task=desk["task"]
        )
    refused("timesheet_timer_running", submit, agency, assistant)
    refused("timesheet_not_staff", decide, agency, assistant, Timesheet(pk=0))


def test_staff_corrections_stop_once_paid_or_billed(agency, desk):
    assistant, admin, entry, task = desk["assistant"], desk["admin"], desk["entry"], desk["task"]
    with scopes_disabled():
        payout = Payout.objects.create(
            agency=agency,
            assistant=assistant,
            period_start=dt.date(2026, 3, 1),
            currency="USD",
            minutes=60,
            rate=1200,
            amount=1200,
            paid_at=NOW,
        )
    refused("time_entry_paid", correct, agency, admin, entry, "after payout")
    refused("time_entry_paid", correct, agency, assistant, entry, "after payout")
    with scopes_disabled():
        payout.delete()

    with scopes_disabled():
        Task.objects.filter(pk=task.pk).update(status="completed", completed_at=NOW)
    task.refresh_from_db()
    with agency_scope(agency):
        charge_for_task(agency=agency, task=task)
    refused("time_entry_billed", correct, agency, admin, entry, "after the charge")


# -- weeks on the assistant's own calendar ---------------------------------------------------


@pytest.mark.parametrize(
    "zone, started, monday",
    [
        # Monday 06:00 UTC is still Sunday 23:00 in Los Angeles: the week before.
        ("America/Los_Angeles", dt.datetime(2026, 3, 9, 6, tzinfo=UTC), dt.date(2026, 3, 2)),
        # Sunday 16:00 UTC is already Monday 01:00 in Tokyo: the new week.
        ("Asia/Tokyo", dt.datetime(2026, 3, 8, 16, tzinfo=UTC), dt.date(2026, 3, 9)),
    ],
)
def test_a_week_runs_monday_to_sunday_in_the_assistants_zone(
    agency, time_machine, zone, started, monday
):
    time_machine.move_to(NOW, tick=False)
    category = CategoryFactory(agency=agency)
    line = LineFactory(agency=agency, service=ServiceFactory(agency=agency, category=category))
    person = AssistantProfileFactory(agency=agency, skills=[category], time_zone=zone).membership
    task = TaskFactory(agency=agency, contract_line=line, status="in_progress", assignee=person)
    log(agency, task, person, started, 45)
    other = {dt.date(2026, 3, 2), dt.date(2026, 3, 9)} - {monday}

    with agency_scope(agency):
        week = timesheets.week_of(agency=agency, membership=person, monday=monday)
        elsewhere = timesheets.week_of(agency=agency, membership=person, monday=other.pop())
    assert week.minutes == 45 and week.zone == zone
    assert [day.minutes for day in week.days][6 if monday.day == 2 else 0] == 45
    assert elsewhere.minutes == 0
    sheet = submit(agency, person, monday)
    with agency_scope(agency):
        found = timesheets.sheet_for_moment(
            agency=agency, assistant_id=person.pk, started_at=started
        )
    assert found == sheet


# -- billing waits for approved time ---------------------------------------------------------


def test_billing_waits_for_approved_time_then_charges_once(
    agency, desk, django_capture_on_commit_callbacks
):
    agency.bill_approved_time_only = True
    agency.save(update_fields=["bill_approved_time_only"])
    assistant, admin, task = desk["assistant"], desk["admin"], desk["task"]
    with scopes_disabled():
        Task.objects.filter(pk=task.pk).update(status="completed", completed_at=NOW)
    task.refresh_from_db()

    with agency_scope(agency):
        refused("charge_time_not_approved", charge_for_task, agency=agency, task=task)
        assert billing_jobs.bill(agency=agency, task=task) is None  # refused, logged
    sheet = submit(agency, assistant)
    with django_capture_on_commit_callbacks(execute=True):
        decide(agency, admin, sheet)
    with agency_scope(agency):
        charges = list(Charge.objects.filter(task=task))
        assert len(charges) == 1
        assert charges[0].minutes_logged == 60
        # a retried job, or the hook again, finds the charge made
        billing_jobs.bill_when_time_approved(agency=agency, task_ids=[task.pk])
        billing_jobs.bill(agency=agency, task=task)
        assert Charge.objects.filter(task=task).count() == 1


def test_without_the_setting_unapproved_time_is_billed(agency, desk):
    task = desk["task"]
    with scopes_disabled():
        Task.objects.filter(pk=task.pk).update(status="completed", completed_at=NOW)
    task.refresh_from_db()
    with agency_scope(agency):
        assert charge_for_task(agency=agency, task=task).pk


def test_time_of_two_weeks_waits_for_both(agency, desk, django_capture_on_commit_callbacks):
    agency.bill_approved_time_only = True
    agency.save(update_fields=["bill_approved_time_only"])
    assistant, admin, task = desk["assistant"], desk["admin"], desk["task"]
    log(agency, task, assistant, dt.datetime(2026, 3, 3, 10, tzinfo=UTC), 30)
    with scopes_disabled():
        Task.objects.filter(pk=task.pk).update(status="completed", completed_at=NOW)
    with django_capture_on_commit_callbacks(execute=True):
        decide(agency, admin, submit(agency, assistant))
    with agency_scope(agency):
        assert not Charge.objects.filter(task=task).exists()
    with django_capture_on_commit_callbacks(execute=True):
        decide(agency, admin, submit(agency, assistant, dt.date(2026, 3, 2)))
    with agency_scope(agency):
        assert Charge.objects.filter(task=task).count() == 1


# -- pages and API ---------------------------------------------------------------------------


def test_pages_submit_review_and_return(agency, desk, signed_in):
    assistant, admin = desk["assistant"], desk["admin"]
    mine = signed_in(assistant.user)
    page = mine.get(reverse("my_timesheets", kwargs={"agency_slug": agency.slug}))
    assert page.status_code == 200 and b'data-testid="timesheet-submit"' in page.content
    assert b"1 h" in page.content
    assert (
        mine.get(
            reverse("my_timesheets", kwargs={"agency_slug": agency.slug}) + "?week=nope"
        ).status_code
        == 400
    )
    response = mine.post(
        reverse("my_timesheet_submit", kwargs={"agency_slug": agency.slug}),
        {"week_start": MONDAY.isoformat()},
    )
    assert response.status_code == 302
    with scopes_disabled():
        sheet = Timesheet.objects.get(assistant=assistant)
    staff = signed_in(admin.user)
    listed = staff.get(reverse("timesheet_list", kwargs={"agency_slug": agency.slug}))
    assert listed.status_code == 200 and f'data-timesheet="{sheet.pk}"'.encode() in listed.content
    kwargs = {"agency_slug": agency.slug, "pk": sheet.pk}
    assert staff.get(reverse("timesheet_detail", kwargs=kwargs)).status_code == 200
    staff.post(reverse("timesheet_return", kwargs=kwargs), {"note": ""}, follow=True)
    with scopes_disabled():
        sheet.refresh_from_db()
    assert sheet.status == "submitted"  # a return needs a note
    shown = staff.post(reverse("timesheet_return", kwargs=kwargs), {"note": "Fix Tue"}, follow=True)
    assert b"Returned" in shown.content
    page = mine.get(reverse("my_timesheets", kwargs={"agency_slug": agency.slug}))
    assert b"Fix Tue" in page.content and b"Submit again" in page.content


def test_api_submit_approve_and_return(agency, desk, api):
    assistant, admin = desk["assistant"], desk["admin"]
    base = f"/api/v1/a/{agency.slug}/timesheets/"
    person = api(assistant.user)
    first = person.post(
        base, {"week_start": "2026-03-09"}, format="json", HTTP_IDEMPOTENCY_KEY="w1"
    )
    again = person.post(
        base, {"week_start": "2026-03-09"}, format="json", HTTP_IDEMPOTENCY_KEY="w1"
    )
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"] and first.json()["minutes"] == 60
    assert person.post(base, {"week_start": "nope"}, format="json").status_code == 400
    staff = api(admin.user)
    pk = first.json()["id"]
    assert staff.post(f"{base}{pk}/return/", {}, format="json").json()["code"] == (
        "timesheet_note_required"
    )
    returned = staff.post(f"{base}{pk}/return/", {"note": "Fix Tue"}, format="json")
    assert returned.status_code == 200 and returned.json()["status"] == "returned"
    resubmitted = person.post(base, {"week_start": "2026-03-09"}, format="json")
    assert resubmitted.status_code == 200 and resubmitted.json()["status"] == "submitted"
    approved = staff.post(f"{base}{pk}/approve/", {}, format="json")
    assert approved.json()["status"] == "approved" and len(approved.json()["entries"]) == 1
    assert staff.get(base, {"status": "approved"}).json()["results"][0]["id"] == pk
    assert staff.get(base, {"status": "bogus"}).status_code == 400
    assert person.get(f"{base}{pk}/").status_code == 200


# -- queries stay flat -----------------------------------------------------------------------


def _others(agency, desk, count: int):
    """More assistants, each with a submitted week."""
    for _ in range(count):
        person = AssistantProfileFactory(agency=agency, time_zone="Asia/Tokyo").membership
        log(agency, desk["task"], person, dt.datetime(2026, 3, 9, 10, tzinfo=UTC), 15)
        submit(agency, person)


def test_my_timesheets_page_costs_the_same_for_many_weeks(agency, desk, signed_in, count_queries):
    url = reverse("my_timesheets", kwargs={"agency_slug": agency.slug})
    http = signed_in(desk["assistant"].user)
    submit(agency, desk["assistant"])
    http.get(url)
    one = count_queries(lambda: http.get(url))
    for back in range(1, 6):
        log(agency, desk["task"], desk["assistant"], NOW - dt.timedelta(weeks=back), 20)
        log(agency, desk["task"], desk["assistant"], NOW - dt.timedelta(hours=back), 10)
    many = count_queries(lambda: http.get(url))
    assert many == one


def test_staff_lists_cost_the_same_for_many_timesheets(agency, desk, signed_in, api, count_queries):
    page = reverse("timesheet_list", kwargs={"agency_slug": agency.slug})
    endpoint = f"/api/v1/a/{agency.slug}/timesheets/"
    http, client = signed_in(desk["admin"].user), api(desk["admin"].user)
    submit(agency, desk["assistant"])
    http.get(page)
    client.get(endpoint)
    one_page, one_api = (
        count_queries(lambda: http.get(page)),
        count_queries(lambda: client.get(endpoint)),
    )
    _others(agency, desk, 6)
    assert count_queries(lambda: http.get(page)) == one_page
    response = client.get(endpoint)
    assert len(response.json()["results"]) == 7
    assert count_queries(lambda: client.get(endpoint)) == one_api


def test_staff_turn_on_billing_approved_time_only(agency, member, signed_in):
    http = signed_in(member(Role.OWNER).user)
    url = reverse("agency_settings", args=[agency.slug])
    assert b"Require approved time before work is billed" in http.get(url).content
    saved = http.post(
        url,
        {
            "name": agency.name,
            "time_zone": agency.time_zone,
            "default_currency": agency.default_currency,
            "bill_approved_time_only": "on",
        },
    )
    assert saved.status_code == 302
    agency.refresh_from_db()
    assert agency.bill_approved_time_only is True
    with agency_scope(agency):
        event = AuditEvent.objects.get(action="agency.updated")
    assert event.details["changed"] == ["bill_approved_time_only"]
