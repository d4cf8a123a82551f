"""Time to the second: timer runs keep their seconds, manual entries carry the day they were
worked, and entries are corrected or deleted until the work is billed, on the task page and
in the API, every change audited."""

import datetime as dt
import importlib

import pytest
from django.apps import apps
from django.urls import reverse

from billing.charges import charge_for_task
from billing.models import Charge
from billing.payouts import months_of, pay_lines
from contracts.models import ContractTerms, PricingModel
from contracts.pricing import (
    billable_minutes,
    billable_minutes_of_seconds,
    price_hourly,
    price_hourly_seconds,
    price_retainer_task,
    price_retainer_task_seconds,
)
from core.errors import ApplicationError
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope, scopes_disabled
from tasks import services
from tasks.models import Task, TimeEntry
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import CategoryFactory, LineFactory, ServiceFactory, TermsFactory
from tests.tasks.factories import TaskFactory

START = dt.datetime(2026, 3, 10, 14, 0, tzinfo=dt.UTC)


@pytest.fixture
def desk(agency, member, time_machine):
    """An hourly line at 40.00/h in 15-minute steps with no minimum, an in-progress task
    on it held by an assistant (pay 36.00/h: a cent a second) in Lisbon, a colleague, and
    an admin. The clock stands still at START."""
    time_machine.move_to(START, tick=False)
    category = CategoryFactory(agency=agency)
    line = LineFactory(agency=agency, service=ServiceFactory(agency=agency, category=category))
    with scopes_disabled():
        ContractTerms.objects.filter(line=line).update(minimum_minutes=0)
    profile = AssistantProfileFactory(
        agency=agency, skills=[category], pay_rate=3600, time_zone="Europe/Lisbon"
    )
    colleague = AssistantProfileFactory(agency=agency, skills=[category]).membership
    task = TaskFactory(
        agency=agency,
        contract_line=line,
        status="in_progress",
        assignee=profile.membership,
        created_at=START - dt.timedelta(days=3),
    )
    with agency_scope(agency):
        Task.objects.filter(pk=task.pk).update(created_at=START - dt.timedelta(days=3))
        task.refresh_from_db()
        yield {
            "task": task,
            "line": line,
            "assistant": profile.membership,
            "profile": profile,
            "colleague": colleague,
            "admin": member(Role.ADMIN),
        }


def as_(membership, agency):
    return {"agency": agency, "actor": membership.user, "membership": membership}


def run_timer(agency, desk, time_machine, seconds: int) -> TimeEntry:
    me = desk["assistant"]
    services.timer_start(**as_(me, agency), task=desk["task"])
    time_machine.shift(dt.timedelta(seconds=seconds))
    return services.timer_stop(**as_(me, agency))


def logged(agency, desk, minutes=30, **kwargs) -> TimeEntry:
    return services.time_entry_add(
        **as_(desk["assistant"], agency), task=desk["task"], minutes=minutes, **kwargs
    )


def finish_and_charge(agency, desk) -> Charge:
    me = desk["assistant"]
    services.task_complete(**as_(me, agency), task=desk["task"], summary="Done.")
    return charge_for_task(agency=agency, task=desk["task"])


def refusal(call) -> str:
    with pytest.raises(ApplicationError) as raised:
        call()
    return raised.value.code


# -- seconds, not minutes ------------------------------------------------------------------


def test_a_four_second_run_keeps_four_seconds(agency, desk, time_machine):
    entry = run_timer(agency, desk, time_machine, 4)
    entry.refresh_from_db()
    assert entry.seconds == 4 and entry.duration_seconds == 4
    assert entry.ended_at - entry.started_at == dt.timedelta(seconds=4)


def test_many_short_runs_add_up_to_their_seconds_not_a_minute_each(agency, desk, time_machine):
    for _ in range(20):
        run_timer(agency, desk, time_machine, 4)
    task = Task.objects.get(pk=desk["task"].pk)
    entries = list(TimeEntry.objects.filter(task=task))
    assert sum(e.seconds for e in entries) == 80
    # Whole minutes for lists and reports: the task's 80 seconds are 2 started minutes,
    # and the entries' minutes add up to exactly that.
    assert task.minutes_logged == 2
    assert sum(e.minutes for e in entries) == 2


def test_billing_rounds_the_tasks_seconds_once_as_the_contract_says(agency, desk, time_machine):
    for _ in range(20):
        run_timer(agency, desk, time_machine, 4)  # 80 seconds in all
    charge = finish_and_charge(agency, desk)
    # 80 s rounded up to the 15-minute increment once: one step, 4000 x 15/60.
    assert (charge.minutes_billed, charge.amount) == (15, 1000)
    assert charge.breakdown["seconds_logged"] == 80


def test_seconds_just_past_a_step_bill_the_next_step(agency, desk, time_machine):
    run_timer(agency, desk, time_machine, 15 * 60 + 1)
    charge = finish_and_charge(agency, desk)
    assert (charge.minutes_billed, charge.amount) == (30, 2000)


def test_minute_entries_bill_what_they_always_billed(agency, desk):
    logged(agency, desk, minutes=31)
    logged(agency, desk, minutes=14)
    charge = finish_and_charge(agency, desk)
    assert charge.minutes_logged == 45
    assert (charge.minutes_billed, charge.amount) == price_hourly(45, charge.terms) == (45, 3000)


SECONDS = [
    # (seconds, increment, minimum, billed minutes)
    (0, 15, 0, 0),
    (1, 15, 0, 15),
    (4, 15, 30, 30),  # one step, raised to the minimum
    (900, 15, 0, 15),  # exactly a step
    (901, 15, 0, 30),
    (80, 1, 0, 2),  # 1:20 in 1-minute steps
    (60, 1, 0, 1),
    (3599, 60, 0, 60),
]


@pytest.mark.parametrize(("seconds", "increment", "minimum", "billed"), SECONDS)
def test_billable_minutes_of_seconds(seconds, increment, minimum, billed):
    assert billable_minutes_of_seconds(seconds, increment=increment, minimum=minimum) == billed


@pytest.mark.parametrize("minutes", [0, 1, 7, 14, 15, 16, 31, 45, 46, 600])
def test_whole_minutes_price_as_before(minutes):
    hourly = ContractTerms(
        pricing_model=PricingModel.HOURLY,
        hourly_rate=3333,
        rounding_increment_minutes=15,
        minimum_minutes=30,
    )
    retainer = ContractTerms(
        pricing_model=PricingModel.RETAINER, overage_rate=6000, rounding_increment_minutes=15
    )
    assert billable_minutes(minutes, increment=15) == -(-minutes // 15) * 15
    assert price_hourly_seconds(minutes * 60, hourly) == price_hourly(minutes, hourly)
    assert price_retainer_task_seconds(minutes * 60, 30, retainer) == price_retainer_task(
        minutes, 30, retainer
    )


def test_retainer_rework_bills_the_seconds_logged_since(agency, desk, time_machine):
    with scopes_disabled():
        ContractTerms.objects.filter(line=desk["line"]).delete()
    TermsFactory(
        agency=agency,
        line=desk["line"],
        pricing_model=PricingModel.RETAINER,
        hourly_rate=None,
        minimum_minutes=None,
        retainer_fee=100000,
        included_minutes=1,
        rollover_cap_minutes=0,
        overage_rate=6000,
        rounding_increment_minutes=15,
    )
    run_timer(agency, desk, time_machine, 30)
    first = finish_and_charge(agency, desk)
    services.task_send_back(
        agency=agency, actor=desk["admin"].user, task=desk["task"], reason="More"
    )
    run_timer(agency, desk, time_machine, 15 * 60 + 30)
    services.task_complete(**as_(desk["assistant"], agency), task=desk["task"], summary="Now.")
    second = charge_for_task(agency=agency, task=desk["task"])
    assert first.pk != second.pk
    # 15:30 logged since: two 15-minute steps. Whole minutes would have said 16 - 1 = 15,
    # one step, for the same work.
    assert second.breakdown["seconds_logged"] - first.breakdown["seconds_logged"] == 930
    assert second.minutes_from_bank + second.minutes_billed == 30


def test_pay_is_for_the_seconds_worked(agency, desk, time_machine):
    for _ in range(20):
        run_timer(agency, desk, time_machine, 4)  # 80 seconds
    (line,) = pay_lines(
        agency=agency,
        begins=START - dt.timedelta(days=1),
        ends=START + dt.timedelta(days=1),
        assistant_id=desk["assistant"].pk,
    )
    # 3600 a hour is 1 a second: 80, not 20 minutes' 1200 nor 2 minutes' 120.
    assert (line.seconds, line.amount) == (80, 80)


def test_the_migration_keeps_recorded_minutes_exactly(agency, desk):
    with scopes_disabled():
        entry = TimeEntry.objects.create(
            agency=agency,
            task=desk["task"],
            assistant=desk["assistant"],
            started_at=START - dt.timedelta(hours=2),
            ended_at=START - dt.timedelta(hours=1, minutes=59, seconds=56),
            minutes=1,  # a 4-second run, counted as a minute back then
        )
        running = TimeEntry.objects.create(
            agency=agency, task=desk["task"], assistant=desk["colleague"], started_at=START
        )
    migration = importlib.import_module("tasks.migrations.0006_time_entry_seconds")
    migration.seconds_as_recorded(apps, None)
    with scopes_disabled():
        entry.refresh_from_db()
        running.refresh_from_db()
    assert entry.seconds == 60  # what it was billed and paid as, not re-measured
    assert running.seconds is None  # still running: it gets its seconds when it stops


# -- the day worked --------------------------------------------------------------------------


def test_a_manual_entry_is_on_the_day_it_was_worked_in_the_assistants_zone(agency, desk):
    entry = logged(agency, desk, minutes=45, worked_on=dt.date(2026, 3, 8))
    local = entry.started_at.astimezone(dt.timezone(dt.timedelta(0)))  # Lisbon is UTC in March
    assert local.date() == dt.date(2026, 3, 8) and entry.manual
    assert entry.ended_at - entry.started_at == dt.timedelta(minutes=45)
    entry = logged(
        agency, desk, minutes=30, worked_on=dt.date(2026, 3, 9), start_time=dt.time(9, 15)
    )
    assert entry.started_at == dt.datetime(2026, 3, 9, 9, 15, tzinfo=dt.UTC)


def test_a_manual_entry_may_not_be_in_the_future_nor_before_the_task(agency, desk):
    assert refusal(lambda: logged(agency, desk, worked_on=dt.date(2026, 3, 11))) == (
        "time_entry_in_future"
    )
    # Today at 13:45 Lisbon for 30 minutes would end after now (14:00).
    assert refusal(
        lambda: logged(agency, desk, worked_on=dt.date(2026, 3, 10), start_time=dt.time(13, 45))
    ) == ("time_entry_in_future")
    assert refusal(lambda: logged(agency, desk, worked_on=dt.date(2026, 3, 6))) == (
        "time_entry_before_task"
    )
    assert refusal(
        lambda: logged(agency, desk, worked_on=dt.date(2026, 3, 7), start_time=dt.time(0, 5))
    ) == ("time_entry_before_task")  # the task was requested at 14:00 that day
    assert TimeEntry.objects.filter(task=desk["task"]).count() == 0
    assert Task.objects.get(pk=desk["task"].pk).minutes_logged == 0


def test_the_day_is_the_assistants_and_counts_in_its_month(agency, desk, time_machine):
    """Manila is 13 hours ahead of New York: an entry for 1 March in Manila, with no
    start time, counts in March for a New York agency, in pay as in the calendar."""
    agency.time_zone = "America/New_York"
    agency.save(update_fields=["time_zone"])
    desk["profile"].time_zone = "Asia/Manila"
    desk["profile"].save(update_fields=["time_zone"])
    Task.objects.filter(pk=desk["task"].pk).update(
        created_at=dt.datetime(2026, 2, 20, tzinfo=dt.UTC)
    )
    desk["task"].refresh_from_db()
    time_machine.move_to("2026-03-02 03:00Z", tick=False)  # 11:00 in Manila, 22:00 in NY
    entry = logged(agency, desk, minutes=60, worked_on=dt.date(2026, 3, 1))
    assert entry.started_at.astimezone(dt.timezone(dt.timedelta(hours=8))).date() == dt.date(
        2026, 3, 1
    )
    assert entry.started_at.astimezone(dt.timezone(dt.timedelta(hours=-5))).date() == dt.date(
        2026, 3, 1
    )
    months = months_of(
        agency=agency,
        membership=desk["assistant"],
        months=[dt.date(2026, 2, 1), dt.date(2026, 3, 1)],
    )
    by_month = {month.month: month.minutes for month in months}
    assert by_month == {dt.date(2026, 3, 1): 60, dt.date(2026, 2, 1): 0}


# -- corrections and deletions --------------------------------------------------------------


def test_an_assistant_corrects_their_own_entry_audited(agency, desk, time_machine):
    entry = run_timer(agency, desk, time_machine, 20 * 60)
    fixed = services.time_entry_update(
        **as_(desk["assistant"], agency), entry=entry, seconds=12 * 60 + 5, note="Inbox triage"
    )
    assert (fixed.seconds, fixed.note, fixed.minutes) == (725, "Inbox triage", 13)
    assert fixed.ended_at - fixed.started_at == dt.timedelta(seconds=725)
    assert Task.objects.get(pk=desk["task"].pk).minutes_logged == 13
    event = AuditEvent.objects.get(action="task.time_edited")
    assert event.actor == desk["assistant"].user and event.details["entry"] == entry.pk
    assert event.details["before"]["seconds"] == 1200 and event.details["after"]["seconds"] == 725
    assert event.details["before"]["note"] == "" and event.details["after"]["note"] == (
        "Inbox triage"
    )
    assert "started_at" not in event.details["after"]  # only what changed


def test_moving_an_entry_to_another_day_follows_the_rules_of_logging(agency, desk):
    entry = logged(agency, desk, minutes=30, worked_on=dt.date(2026, 3, 9), start_time=dt.time(10))
    moved = services.time_entry_update(
        **as_(desk["assistant"], agency), entry=entry, worked_on=dt.date(2026, 3, 8)
    )
    assert moved.started_at.date() == dt.date(2026, 3, 8)
    me = as_(desk["assistant"], agency)
    assert refusal(
        lambda: services.time_entry_update(**me, entry=entry, worked_on=dt.date(2026, 3, 12))
    ) == ("time_entry_in_future")
    assert refusal(
        lambda: services.time_entry_update(**me, entry=entry, worked_on=dt.date(2026, 3, 1))
    ) == ("time_entry_before_task")
    entry.refresh_from_db()
    assert entry.started_at.date() == dt.date(2026, 3, 8)


def test_a_delete_takes_the_time_off_the_task_audited(agency, desk):
    keep = logged(agency, desk, minutes=10)
    gone = logged(agency, desk, minutes=25, note="Wrong task")
    services.time_entry_delete(**as_(desk["assistant"], agency), entry=gone)
    assert list(TimeEntry.objects.filter(task=desk["task"])) == [keep]
    assert Task.objects.get(pk=desk["task"].pk).minutes_logged == 10
    event = AuditEvent.objects.get(action="task.time_deleted")
    assert event.details["before"]["seconds"] == 1500
    assert event.details["before"]["note"] == "Wrong task" and event.details["after"] is None


def test_only_ones_own_time_unless_staff(agency, desk):
    entry = logged(agency, desk, minutes=10)
    assert refusal(
        lambda: services.time_entry_update(
            **as_(desk["colleague"], agency), entry=entry, note="Mine now"
        )
    ) == ("time_entry_not_yours")
    assert refusal(
        lambda: services.time_entry_delete(**as_(desk["colleague"], agency), entry=entry)
    ) == ("time_entry_not_yours")
    fixed = services.time_entry_update(**as_(desk["admin"], agency), entry=entry, note="Checked")
    assert fixed.note == "Checked"
    assert AuditEvent.objects.get(action="task.time_edited").actor == desk["admin"].user


def test_a_running_timer_is_stopped_not_changed(agency, desk):
    me = as_(desk["assistant"], agency)
    running = services.timer_start(**me, task=desk["task"])
    assert refusal(lambda: services.time_entry_update(**me, entry=running, seconds=60)) == (
        "time_entry_running"
    )
    assert refusal(lambda: services.time_entry_delete(**me, entry=running)) == (
        "time_entry_running"
    )
    assert refusal(
        lambda: services.time_entry_update(**as_(desk["admin"], agency), entry=running, note="x")
    ) == ("time_entry_running")


def test_billed_time_is_refused_for_everyone(agency, desk):
    entry = logged(agency, desk, minutes=20)
    before = Task.objects.get(pk=desk["task"].pk).minutes_logged
    finish_and_charge(agency, desk)
    for who in ("assistant", "admin"):
        assert refusal(
            lambda who=who: services.time_entry_update(
                **as_(desk[who], agency), entry=entry, seconds=60
            )
        ) == ("time_entry_billed")
        assert refusal(
            lambda who=who: services.time_entry_delete(**as_(desk[who], agency), entry=entry)
        ) == ("time_entry_billed")
    entry.refresh_from_db()
    assert entry.seconds == 1200 and Task.objects.get(pk=desk["task"].pk).minutes_logged == before
    assert not AuditEvent.objects.filter(action__in=["task.time_edited", "task.time_deleted"])


def test_finished_work_not_yet_charged_can_still_be_corrected(agency, desk):
    entry = logged(agency, desk, minutes=50)
    services.task_complete(**as_(desk["assistant"], agency), task=desk["task"], summary="Done.")
    services.time_entry_update(**as_(desk["assistant"], agency), entry=entry, seconds=40 * 60)
    charge = charge_for_task(agency=agency, task=desk["task"])
    assert (charge.minutes_logged, charge.minutes_billed) == (40, 45)


def test_after_a_send_back_only_the_new_time_can_change(agency, desk, time_machine):
    old = logged(agency, desk, minutes=20)
    finish_and_charge(agency, desk)
    services.task_send_back(
        agency=agency, actor=desk["admin"].user, task=desk["task"], reason="Not yet"
    )
    time_machine.shift(dt.timedelta(minutes=30))
    new = logged(agency, desk, minutes=10)
    me = as_(desk["assistant"], agency)
    assert refusal(lambda: services.time_entry_delete(**me, entry=old)) == "time_entry_billed"
    services.time_entry_update(**me, entry=new, seconds=5 * 60)
    assert Task.objects.get(pk=desk["task"].pk).minutes_logged == 25


# -- the task page -------------------------------------------------------------------------


def page_url(agency, name, **kwargs):
    return reverse(name, kwargs={"agency_slug": agency.slug, **kwargs})


def messages_of(response):
    return [str(m) for m in response.wsgi_request._messages]


def test_the_task_page_corrects_and_deletes_time(agency, desk, signed_in):
    entry = logged(agency, desk, minutes=30, worked_on=dt.date(2026, 3, 9), start_time=dt.time(9))
    http = signed_in(desk["assistant"].user)
    task = desk["task"]
    html = http.get(page_url(agency, "task_detail", pk=task.pk)).content.decode()
    section = html.split('data-testid="time-entries"')[1].split("</section>")[0]
    assert f'data-testid="time-entry-edit-{entry.pk}"' in section
    assert 'value="0:30"' in section and 'value="2026-03-09"' in section
    assert 'value="09:00"' in section and "Europe/Lisbon" in section

    edit = page_url(agency, "task_time_edit", pk=task.pk, entry_pk=entry.pk)
    response = http.post(
        edit,
        {"duration": "0:25:30", "worked_on": "2026-03-09", "start_time": "09:00", "note": "Fix"},
    )
    assert response.status_code == 302 and messages_of(response)[-1] == "Time entry corrected."
    entry.refresh_from_db()
    assert (entry.seconds, entry.note) == (25 * 60 + 30, "Fix")
    assert entry.started_at == dt.datetime(2026, 3, 9, 9, tzinfo=dt.UTC)  # unchanged start kept

    response = http.post(edit, {"duration": "soon"})
    assert "Give the time as minutes" in messages_of(response)[-1]
    response = http.post(edit, {"duration": "0:10", "worked_on": "2026-04-01"})
    assert "not come yet" in messages_of(response)[-1]

    response = http.post(page_url(agency, "task_time_delete", pk=task.pk, entry_pk=entry.pk))
    assert messages_of(response)[-1] == "Time entry deleted."
    assert not TimeEntry.objects.filter(pk=entry.pk).exists()


def test_the_task_page_logs_time_on_a_day(agency, desk, signed_in):
    http = signed_in(desk["assistant"].user)
    response = http.post(
        page_url(agency, "task_log_time", pk=desk["task"].pk),
        {"minutes": "40", "worked_on": "2026-03-08", "start_time": "16:00", "note": "Invoices"},
    )
    assert messages_of(response)[-1] == "Logged 40 min."
    entry = TimeEntry.objects.get(task=desk["task"])
    assert entry.started_at == dt.datetime(2026, 3, 8, 16, tzinfo=dt.UTC)
    response = http.post(
        page_url(agency, "task_log_time", pk=desk["task"].pk),
        {"minutes": "40", "worked_on": "8 March"},
    )
    assert "Give the day as a date" in messages_of(response)[-1]


def test_the_task_page_shows_billed_time_as_billed_and_refuses_it(agency, desk, signed_in):
    entry = logged(agency, desk, minutes=20)
    finish_and_charge(agency, desk)
    http = signed_in(desk["admin"].user)
    html = http.get(page_url(agency, "task_detail", pk=desk["task"].pk)).content.decode()
    section = html.split('data-testid="time-entries"')[1].split("</section>")[0]
    assert "Billed" in section and f"time-entry-edit-{entry.pk}" not in section
    response = http.post(
        page_url(agency, "task_time_delete", pk=desk["task"].pk, entry_pk=entry.pk)
    )
    assert response.status_code == 302 and "This time is billed" in messages_of(response)[-1]
    assert TimeEntry.objects.filter(pk=entry.pk).exists()


def test_a_colleague_sees_no_correction_of_someone_elses_time(agency, desk, signed_in):
    theirs = logged(agency, desk, minutes=20)
    Task.objects.filter(pk=desk["task"].pk).update(assignee=desk["colleague"])
    html = (
        signed_in(desk["colleague"].user)
        .get(page_url(agency, "task_detail", pk=desk["task"].pk))
        .content.decode()
    )
    section = html.split('data-testid="time-entries"')[1].split("</section>")[0]
    assert f"time-entry-{theirs.pk}" in section and f"time-entry-edit-{theirs.pk}" not in section


def test_the_time_section_costs_the_same_queries_for_1_and_20_entries(
    agency, desk, signed_in, count_queries
):
    http = signed_in(desk["admin"].user)
    url = page_url(agency, "task_detail", pk=desk["task"].pk)
    logged(agency, desk, minutes=5)
    one = count_queries(lambda: http.get(url))
    for _ in range(19):
        logged(agency, desk, minutes=5)
    assert count_queries(lambda: http.get(url)) == one


# -- the API ---------------------------------------------------------------------------------


def api_url(agency, name, **kwargs):
    return reverse(f"api:{name}", kwargs={"agency_slug": agency.slug, **kwargs})


def test_the_api_corrects_deletes_and_refuses_billed_time(agency, desk, api):
    me = api(desk["assistant"].user)
    entries = api_url(agency, "task-time-entries", pk=desk["task"].pk)
    response = me.post(
        entries, {"minutes": 30, "worked_on": "2026-03-09", "start_time": "10:00"}, format="json"
    )
    assert response.status_code == 201 and response.json()["seconds"] == 1800
    assert response.json()["started_at"].startswith("2026-03-09T10:00")
    pk = response.json()["id"]
    one = api_url(agency, "task-time-entry", pk=desk["task"].pk, entry_pk=pk)

    response = me.patch(one, {"seconds": 1234, "note": "Typed it wrong"}, format="json")
    assert response.status_code == 200
    assert (response.json()["seconds"], response.json()["note"]) == (1234, "Typed it wrong")
    response = me.patch(one, {"seconds": 60, "minutes": 1}, format="json")
    assert response.status_code == 400
    response = me.patch(one, {"worked_on": "2026-03-12"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "time_entry_in_future"

    colleague = api(desk["colleague"].user)
    assert colleague.delete(one).status_code == 404  # not a task they may see

    spare = me.post(entries, {"minutes": 5}, format="json").json()["id"]
    spare_url = api_url(agency, "task-time-entry", pk=desk["task"].pk, entry_pk=spare)
    assert me.delete(spare_url).status_code == 204
    assert me.get(spare_url).status_code == 404

    finish_and_charge(agency, desk)
    admin = api(desk["admin"].user)
    response = admin.patch(one, {"note": "Late fix"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "time_entry_billed"
    assert "billed" in response.json()["message"]
    response = admin.delete(one)
    assert response.status_code == 400 and response.json()["code"] == "time_entry_billed"
    assert admin.get(one).json()["note"] == "Typed it wrong"


def test_the_api_refuses_a_running_timer_and_others_time(agency, desk, api):
    me = api(desk["assistant"].user)
    running = me.post(api_url(agency, "timer-start"), {"task": desk["task"].pk}, format="json")
    one = api_url(agency, "task-time-entry", pk=desk["task"].pk, entry_pk=running.json()["id"])
    assert me.get(one).json()["seconds"] is None
    response = me.patch(one, {"seconds": 60}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "time_entry_running"
    me.post(api_url(agency, "timer-stop"))
    Task.objects.filter(pk=desk["task"].pk).update(assignee=desk["colleague"])
    response = api(desk["colleague"].user).patch(one, {"note": "mine"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "time_entry_not_yours"


def test_the_schema_documents_correcting_and_deleting_time(db):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    item = schema["paths"]["/api/v1/a/{agency_slug}/tasks/{id}/time-entries/{entry_pk}/"]
    assert {"get", "patch", "delete"} <= set(item)
    assert "400" in item["patch"]["responses"] and "400" in item["delete"]["responses"]
    assert "204" in item["delete"]["responses"]
    entry = schema["components"]["schemas"]["TimeEntry"]["properties"]
    assert entry["seconds"]["nullable"] is True
