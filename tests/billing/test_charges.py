"""Charges: one per task under the terms in force at completion, retainer banks drawn in
order within a client's calendar month, write-offs, billing on approval, and the charge
list page and API."""

import datetime as dt
import re
import threading

import pytest
from django.core import mail
from django.db import IntegrityError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing import jobs as billing_jobs
from billing.charges import (
    charge_for_task,
    charge_write_off,
    retainer_fee_charge,
    retainer_fees_due,
)
from billing.models import Charge, ChargeKind, ChargeStatus
from contracts.models import ContractTerms, PricingModel
from core.errors import ApplicationError
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope
from tasks import services as task_services
from tests.contracts.factories import ContractFactory, LineFactory, TermsFactory
from tests.factories import ClientFactory
from tests.tasks.factories import TaskFactory

UTC = dt.UTC
# 1 March 2026, 00:00 in Tokyo: the retainer's first month is March there.
MARCH_IN_TOKYO = dt.datetime(2026, 2, 28, 15, tzinfo=UTC)
RETAINER = {
    "pricing_model": PricingModel.RETAINER,
    "hourly_rate": None,
    "minimum_minutes": None,
    "retainer_fee": 100000,  # $1,000.00 a month
    "included_minutes": 120,  # 2 h
    "rollover_cap_minutes": 60,  # 1 h
    "overage_rate": 6000,  # $60.00 / h
    "rounding_increment_minutes": 15,
    "effective_from": MARCH_IN_TOKYO,
}


@pytest.fixture
def contract(agency):
    client = ClientFactory(agency=agency, time_zone="Asia/Tokyo", currency="USD")
    return ContractFactory(agency=agency, client=client, status="active")


def line_with(agency, contract, **terms):
    line = LineFactory(agency=agency, contract=contract, terms=None)
    TermsFactory(agency=agency, line=line, **terms)
    return line


def done(agency, line, minutes, at, **kwargs):
    return TaskFactory(
        agency=agency,
        contract_line=line,
        status="completed",
        completed_at=at,
        minutes_logged=minutes,
        **kwargs,
    )


def charge(agency, task):
    with agency_scope(agency):
        return charge_for_task(agency=agency, task=task)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- one charge per task -------------------------------------------------------------------


def again(agency, task, minutes, at):
    """The task sent back, worked on to `minutes` in all and completed again at `at`."""
    Task = type(task)
    with agency_scope(agency):
        Task.objects.filter(pk=task.pk).update(minutes_logged=minutes, completed_at=at)
        task.refresh_from_db()
    return task


def test_each_completion_bills_what_is_owed_beyond_the_earlier_charges(agency, contract):
    line = line_with(agency, contract)  # $40.00/h, 15-min steps
    task = done(agency, line, 30, at("2026-05-04 10:00"))
    first = charge(agency, task)
    assert first.amount == 2000
    second = charge(agency, again(agency, task, 150, at("2026-05-05 10:00")))
    assert second.pk != first.pk and second.amount == 8000  # 150 min is $100.00 in all
    assert second.breakdown["priced_in_full"] == 10000
    assert second.breakdown["charged_before"] == 2000
    assert second.idempotency_key.endswith("-rework-2") and "(more work)" in second.description
    assert charge(agency, task).pk == second.pk  # a retried job: the same charge
    with agency_scope(agency):
        assert Charge.objects.filter(task=task).count() == 2


def test_rework_that_adds_nothing_bills_nothing_and_says_so(agency, contract):
    line = line_with(agency, contract, pricing_model=PricingModel.FLAT, flat_fee=5000)
    task = done(agency, line, 30, at("2026-05-04 10:00"))
    assert charge(agency, task).amount == 5000
    more = charge(agency, again(agency, task, 90, at("2026-05-05 10:00")))
    assert more.amount == 0 and more.status == ChargeStatus.COVERED
    assert more.breakdown["note"].startswith("nothing more to bill")
    with agency_scope(agency):
        from billing.invoicing import push_charge

        assert push_charge(agency=agency, charge_id=more.pk) is None  # never sent to Stripe


def test_retainer_rework_draws_only_the_minutes_since(agency, contract):
    line = line_with(agency, contract, **RETAINER)  # 2 h a month, then $60.00/h
    task = done(agency, line, 90, at("2026-03-10 10:00"))
    first = charge(agency, task)
    assert (first.minutes_from_bank, first.amount) == (90, 0)
    assert first.status == ChargeStatus.COVERED  # the bank paid for it: nothing to invoice
    more = charge(agency, again(agency, task, 150, at("2026-03-11 10:00")))
    # 60 more minutes: 30 left in the bank, 30 at the overage rate.
    assert (more.minutes_from_bank, more.minutes_billed, more.amount) == (30, 30, 3000)


def test_an_hourly_task_is_charged_once_however_often_billing_runs(agency, contract):
    line = line_with(agency, contract)  # $40.00/h, 15-min steps, 30 min minimum
    task = done(agency, line, 37, at("2026-04-02 10:00"))
    first = charge(agency, task)
    again = charge(agency, task)
    billing_jobs.bill_task.delay(agency_id=agency.pk, task_id=task.pk)  # a duplicate job
    with agency_scope(agency):
        assert Charge.objects.count() == 1
        assert again.pk == first.pk
        assert (first.minutes_logged, first.minutes_billed, first.amount) == (37, 45, 3000)
        assert first.kind == ChargeKind.TASK and first.status == ChargeStatus.PENDING
        assert first.currency == "USD" and first.client == contract.client
        assert first.idempotency_key == f"charge-task-{task.pk}"
        assert first.period_start is None
        assert first.breakdown["rounded_minutes"] == 45
        assert first.breakdown["minimum_minutes"] == 30
        assert AuditEvent.objects.filter(action="charge.created").count() == 1
        # and the database itself refuses a second charge for the same completion
        with pytest.raises(IntegrityError), transaction.atomic():
            Charge.objects.create(
                agency=agency,
                kind=ChargeKind.TASK,
                task=task,
                contract_line=line,
                terms=first.terms,
                client=contract.client,
                amount=1,
                currency="USD",
                description="again",
                idempotency_key="another-key",
                task_completed_at=first.task_completed_at,  # the same completion
            )


def test_a_flat_task_costs_the_fee(agency, contract):
    line = line_with(agency, contract, pricing_model=PricingModel.FLAT, flat_fee=6000)
    made = charge(agency, done(agency, line, 200, at("2026-04-02 10:00")))
    assert (made.amount, made.minutes_billed, made.breakdown["flat_fee"]) == (6000, 0, 6000)


def test_unfinished_or_unapproved_work_is_refused(agency, contract):
    line = line_with(agency, contract)
    open_task = TaskFactory(agency=agency, contract_line=line, status="queued")
    with pytest.raises(ApplicationError) as error:
        charge(agency, open_task)
    assert error.value.code == "charge_task_not_completed"
    contract.requires_approval = True
    contract.save()
    with pytest.raises(ApplicationError) as error:
        charge(agency, done(agency, line, 30, at("2026-04-02 10:00")))
    assert error.value.code == "charge_task_not_approved"
    with agency_scope(agency):
        assert not Charge.objects.exists()


def test_the_terms_in_force_at_completion_price_the_task(agency, contract):
    line = line_with(agency, contract)  # from 1 Jan 2026: $40.00/h
    before = done(agency, line, 60, at("2026-02-28 23:59"))
    # the price doubles from 1 March; the February task is billed only afterwards
    newer = TermsFactory(
        agency=agency,
        line=line,
        effective_from=at("2026-03-01 00:00"),
        hourly_rate=8000,
    )
    after = done(agency, line, 60, at("2026-03-01 00:00"))
    old_charge, new_charge = charge(agency, before), charge(agency, after)
    with agency_scope(agency):
        first = ContractTerms.objects.get(line=line, effective_from=at("2026-01-01 00:00"))
    assert (old_charge.terms_id, old_charge.amount) == (first.pk, 4000)
    assert (new_charge.terms_id, new_charge.amount) == (newer.pk, 8000)
    assert old_charge.breakdown["terms_id"] == first.pk


# -- retainers ------------------------------------------------------------------------------


def test_the_retainer_month_follows_the_clients_zone(agency, contract):
    line = line_with(agency, contract, **RETAINER)
    # 23:30 UTC on 31 March is 08:30 on 1 April in Tokyo: April's bank and fee
    late = charge(agency, done(agency, line, 30, at("2026-03-31 23:30")))
    assert late.period_start == dt.date(2026, 4, 1)
    # 14:00 UTC on 31 March is still March there
    march = charge(agency, done(agency, line, 30, at("2026-03-31 14:00")))
    assert march.period_start == dt.date(2026, 3, 1)
    charge(agency, done(agency, line, 15, at("2026-04-20 01:00")))
    with agency_scope(agency):
        fees = Charge.objects.filter(kind=ChargeKind.RETAINER_FEE).order_by("period_start")
        assert [(f.period_start, f.amount) for f in fees] == [
            (dt.date(2026, 3, 1), 100000),
            (dt.date(2026, 4, 1), 100000),
        ]
        assert [f.idempotency_key for f in fees] == [
            f"charge-retainer-{line.pk}-2026-03",
            f"charge-retainer-{line.pk}-2026-04",
        ]
        assert fees[1].description.startswith("Retainer fee April 2026")
        again = retainer_fee_charge(
            agency=agency, contract_line=line, period_start=dt.date(2026, 4, 15)
        )
        assert again.pk == fees[1].pk
        assert Charge.objects.filter(kind=ChargeKind.RETAINER_FEE).count() == 2


def test_the_bank_is_drawn_in_order_and_rolls_over_capped(agency, contract):
    line = line_with(agency, contract, **RETAINER)
    # March, month one: 2 h bank, no rollover; 30 min used -> 90 min unused
    march = charge(agency, done(agency, line, 30, at("2026-03-10 01:00")))
    assert (march.minutes_from_bank, march.minutes_billed, march.amount) == (30, 0, 0)
    assert (march.breakdown["bank_minutes"], march.breakdown["rollover_minutes"]) == (120, 0)
    # April: 120 included + 90 unused capped at 60 = 180
    tasks = [
        done(agency, line, m, at(f"2026-04-0{i + 1} 01:00")) for i, m in enumerate([100, 100, 10])
    ]
    first, second, third = (charge(agency, t) for t in tasks)
    assert first.breakdown["bank_minutes"] == 180 and first.breakdown["rollover_minutes"] == 60
    # 100 -> 105 (15-min steps), all from the bank; 75 left
    assert (first.minutes_from_bank, first.minutes_billed, first.amount) == (105, 0, 0)
    # 100 -> 105: 75 from the bank, 30 over at $60.00/h = $30.00
    assert (second.minutes_from_bank, second.minutes_billed, second.amount) == (75, 30, 3000)
    assert second.breakdown["bank_left_before"] == 75
    # the bank is empty: 10 -> 15 over = $15.00
    assert (third.minutes_from_bank, third.minutes_billed, third.amount) == (0, 15, 1500)
    assert {c.period_start for c in (first, second, third)} == {dt.date(2026, 4, 1)}
    # May: April used all 180, so no rollover
    may = charge(agency, done(agency, line, 60, at("2026-05-02 01:00")))
    assert (may.breakdown["bank_minutes"], may.minutes_from_bank) == (120, 60)


def test_months_without_work_still_roll_over(agency, contract):
    line = line_with(agency, contract, **RETAINER)
    # nothing in March: 120 unused, capped at 60 -> April's bank is 180
    april = charge(agency, done(agency, line, 170, at("2026-04-10 01:00")))
    assert april.breakdown["bank_minutes"] == 180
    assert (april.minutes_from_bank, april.minutes_billed) == (180, 0)  # 170 -> 180


# -- billing on completion or on approval ------------------------------------------------


@pytest.fixture
def people(agency, member, contract):
    return member(Role.ASSISTANT), member(Role.CLIENT, client=contract.client)


def test_completion_bills_and_work_after_a_send_back_bills_the_rest(
    agency, contract, people, django_capture_on_commit_callbacks, time_machine
):
    assistant, person = people
    time_machine.move_to("2026-05-04 10:00Z", tick=False)
    line = line_with(agency, contract)
    task = TaskFactory(
        agency=agency,
        contract_line=line,
        status="in_progress",
        assignee=assistant,
        minutes_logged=40,
    )
    with agency_scope(agency):
        with django_capture_on_commit_callbacks(execute=True) as hooks:
            task_services.task_complete(
                agency=agency, actor=assistant.user, membership=assistant, task=task, summary="Done"
            )
        assert len(hooks) == 1
        made = Charge.objects.get()
        assert made.amount == 3000  # 40 -> 45 min at $40.00/h
        assert mail.outbox[-1].to == [person.user.email]
        task_services.task_send_back(agency=agency, actor=person.user, task=task, reason="More")
        task.refresh_from_db()
        task.minutes_logged = 90
        task.save()
        time_machine.move_to("2026-05-05 10:00Z", tick=False)
        with django_capture_on_commit_callbacks(execute=True):
            task_services.task_complete(
                agency=agency, actor=assistant.user, membership=assistant, task=task, summary="Now"
            )
        with django_capture_on_commit_callbacks(execute=True) as hooks:
            task_services.task_approve(agency=agency, actor=person.user, task=task)
        assert hooks == []  # billed at completion already: approval queues nothing
        # 90 min at $40.00/h is $60.00, of which $30.00 was charged at the first completion.
        assert list(Charge.objects.order_by("pk").values_list("pk", "amount")) == [
            (made.pk, 3000),
            (made.pk + 1, 3000),
        ]


def test_a_contract_billing_on_approval_bills_when_approved(
    agency, contract, people, django_capture_on_commit_callbacks, time_machine
):
    assistant, person = people
    contract.requires_approval = True
    contract.save()
    time_machine.move_to("2026-05-04 10:00Z", tick=False)
    line = line_with(agency, contract)
    task = TaskFactory(
        agency=agency,
        contract_line=line,
        status="in_progress",
        assignee=assistant,
        minutes_logged=40,
    )
    with agency_scope(agency):
        with django_capture_on_commit_callbacks(execute=True) as hooks:
            task_services.task_complete(
                agency=agency, actor=assistant.user, membership=assistant, task=task, summary="Done"
            )
        assert len(hooks) == 1 and len(mail.outbox) == 1  # the client is told; nothing billed
        assert not Charge.objects.exists()
        time_machine.move_to("2026-06-01 10:00Z", tick=False)
        with django_capture_on_commit_callbacks(execute=True) as hooks:
            task_services.task_approve(agency=agency, actor=person.user, task=task)
        assert len(hooks) == 1
        made = Charge.objects.get()
        assert made.amount == 3000
        assert made.breakdown["completed_at"] == "2026-05-04T10:00:00+00:00"  # priced then


def test_the_job_swallows_a_refusal_rather_than_retrying_it(agency, contract, caplog):
    contract.requires_approval = True
    contract.save()
    task = done(agency, line_with(agency, contract), 30, at("2026-04-02 10:00"))
    assert billing_jobs.bill_task.delay(agency_id=agency.pk, task_id=task.pk).get() is None
    assert "not billed" in caplog.text


# -- write-offs ------------------------------------------------------------------------------


def test_a_write_off_needs_a_reason_is_audited_and_only_for_unbilled(agency, contract, member):
    admin = member(Role.ADMIN)
    made = charge(agency, done(agency, line_with(agency, contract), 30, at("2026-04-02 10:00")))
    with agency_scope(agency):
        with pytest.raises(ApplicationError) as error:
            charge_write_off(agency=agency, actor=admin.user, charge=made, reason="  ")
        assert error.value.code == "charge_reason_required"
        written = charge_write_off(
            agency=agency, actor=admin.user, charge=made, reason="Goodwill: late delivery"
        )
        assert written.status == ChargeStatus.WRITTEN_OFF
        assert written.written_off_by == admin.user and written.written_off_at is not None
        event = AuditEvent.objects.get(action="charge.written_off")
        assert (event.actor, event.target_id) == (admin.user, str(made.pk))
        assert event.details["reason"] == "Goodwill: late delivery"
        with pytest.raises(ApplicationError) as error:
            charge_write_off(agency=agency, actor=admin.user, charge=made, reason="Again")
        assert error.value.code == "charge_not_pending"
        invoiced = charge(
            agency, done(agency, line_with(agency, contract), 30, at("2026-04-02 10:00"))
        )
        Charge.objects.filter(pk=invoiced.pk).update(status=ChargeStatus.INVOICED)
        with pytest.raises(ApplicationError) as error:
            charge_write_off(agency=agency, actor=admin.user, charge=invoiced, reason="No")
        assert error.value.code == "charge_not_pending"
        # a written-off task is still charged: billing it again does not make a second one
        assert charge_for_task(agency=agency, task=made.task).pk == made.pk


# -- under real concurrency (PostgreSQL) ---------------------------------------------------


def together(agency, calls):
    """Run the calls at the same moment, each on its own connection."""
    barrier = threading.Barrier(len(calls), timeout=60)
    results, failures = [], []

    def run(call):
        try:
            barrier.wait()
            with agency_scope(agency):
                results.append(call())
        except BaseException as error:  # surfaced in the main thread below
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    return results


@pytest.fixture
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the race needs PostgreSQL's row locks (set DATABASE_URL)")


@pytest.mark.django_db(transaction=True)
def test_racing_jobs_make_one_charge(postgresql_only, agency, contract):
    task = done(agency, line_with(agency, contract, **RETAINER), 30, at("2026-04-02 10:00"))
    made = together(
        agency, [lambda: charge_for_task(agency=agency, task=task).pk for _ in range(6)]
    )
    assert len(set(made)) == 1
    with agency_scope(agency):
        assert Charge.objects.filter(kind=ChargeKind.TASK).count() == 1
        assert Charge.objects.filter(kind=ChargeKind.RETAINER_FEE).count() == 1


@pytest.mark.django_db(transaction=True)
def test_racing_retainer_tasks_draw_the_bank_one_after_the_other(postgresql_only, agency, contract):
    line = line_with(agency, contract, **RETAINER)  # March: a 120-min bank
    tasks = [done(agency, line, 60, at("2026-03-10 01:00")) for _ in range(5)]
    together(agency, [lambda t=t: charge_for_task(agency=agency, task=t) for t in tasks])
    with agency_scope(agency):
        charges = Charge.objects.filter(kind=ChargeKind.TASK)
        assert sorted(c.minutes_from_bank for c in charges) == [0, 0, 0, 60, 60]
        assert sum(c.amount for c in charges) == 3 * 6000
        assert Charge.objects.filter(kind=ChargeKind.RETAINER_FEE).count() == 1


# -- the charge list page and API ---------------------------------------------------------


def some_charges(agency, count):
    """`count` task charges of different clients, a retainer fee, and one written off."""
    made = []
    for i in range(count):
        contract = ContractFactory(agency=agency, status="active")
        line = line_with(agency, contract, **(RETAINER if i % 3 == 1 else {}))
        made.append(charge(agency, done(agency, line, 30 + i, at("2026-04-02 10:00"))))
    return made


@pytest.fixture
def admin(member):
    return member(Role.ADMIN)


def test_staff_see_charges_filter_them_and_write_one_off(agency, admin, signed_in, contract):
    retainer_line = line_with(agency, contract, **RETAINER)
    retained = charge(
        agency, done(agency, retainer_line, 130, at("2026-04-02 10:00"), title="Inbox")
    )
    hourly = charge(
        agency, done(agency, line_with(agency, contract), 37, at("2026-04-02 10:00"), title="Books")
    )
    http = signed_in(admin.user)
    url = reverse("charge_list", args=[agency.slug])
    page = http.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Inbox" in html and "Books" in html and "Retainer fee April 2026" in html
    assert "$30.00" in html and "$1,000.00" in html
    assert "from the bank" in html

    bad = http.post(reverse("charge_write_off", args=[agency.slug, hourly.pk]), {"reason": ""})
    assert bad.status_code == 302
    with agency_scope(agency):
        assert Charge.objects.get(pk=hourly.pk).status == ChargeStatus.PENDING
    back = f"{url}?status=pending"
    response = http.post(
        reverse("charge_write_off", args=[agency.slug, hourly.pk]),
        {"reason": "Duplicate request", "next": back},
    )
    assert response["Location"] == back
    with agency_scope(agency):
        assert Charge.objects.get(pk=hourly.pk).status == ChargeStatus.WRITTEN_OFF
    with agency_scope(agency):
        fee = Charge.objects.get(kind=ChargeKind.RETAINER_FEE)
    elsewhere = http.post(
        reverse("charge_write_off", args=[agency.slug, fee.pk]),
        {"reason": "First month free", "next": "https://evil.test/"},
    )
    assert elsewhere["Location"] == url

    # The retainer task's hours came from the bank: nothing to bill, so not unbilled.
    assert rows(http.get(url, {"status": "pending"})) == set()
    assert rows(http.get(url, {"status": "covered"})) == {retained.pk}
    written = http.get(url, {"status": "written_off"})
    assert rows(written) == {hourly.pk, fee.pk}
    assert "Duplicate request" in written.content.decode()
    other = ClientFactory(agency=agency)
    assert rows(http.get(url, {"client": other.pk})) == set()
    assert rows(http.get(url, {"client": contract.client_id})) == {retained.pk, hourly.pk, fee.pk}


def rows(response) -> set[int]:
    return {int(pk) for pk in re.findall(r'data-charge="(\d+)"', response.content.decode())}


def test_the_charge_page_costs_the_same_at_any_size(agency, admin, signed_in, count_queries):
    http = signed_in(admin.user)
    url = reverse("charge_list", args=[agency.slug])
    some_charges(agency, 1)
    few = count_queries(lambda: http.get(url))
    made = some_charges(agency, 49)
    with agency_scope(agency):
        charge_write_off(agency=agency, actor=admin.user, charge=made[0], reason="Goodwill")
    many = count_queries(lambda: http.get(url))
    assert many == few
    assert len(rows(http.get(url))) == 50


def test_the_charge_list_pages_by_cursor_and_counts_without_reading_every_charge(
    agency, admin, signed_in, count_queries
):
    """Every charge is reached once, newest first, and a deep page costs what the first
    does: no page number, no OFFSET, and the total is counted over a bounded subquery."""
    some_charges(agency, 120)  # and the retainer lines' monthly fees
    with agency_scope(agency):
        everything = list(
            Charge.objects.order_by("-created_at", "-pk").values_list("pk", flat=True)
        )
    http = signed_in(admin.user)
    url = reverse("charge_list", args=[agency.slug])
    seen, costs, answer = [], [], http.get(url)
    while True:
        html = answer.content.decode()
        seen += [int(pk) for pk in re.findall(r'data-charge="(\d+)"', html)]
        assert f"{len(everything)} charges" in html
        following = re.search(r'href="([^"]+)" rel="next"', html)
        if not following:
            break
        next_url = url + following.group(1).replace("&amp;", "&")  # the link is "?cursor=..."
        with CaptureQueriesContext(connection) as queries:
            answer = http.get(next_url)
        costs.append(len(queries))
        assert not any(" OFFSET " in query["sql"] for query in queries.captured_queries)
    assert seen == everything
    assert len(set(costs)) == 1


def test_the_api_per_role(agency, admin, member, api, contract):
    mine = member(Role.CLIENT, client=contract.client)
    ours = charge(agency, done(agency, line_with(agency, contract), 30, at("2026-04-02 10:00")))
    theirs = some_charges(agency, 1)[0]
    with agency_scope(agency):
        charge_write_off(agency=agency, actor=admin.user, charge=ours, reason="Internal note")
    url = reverse("api:charge-list", args=[agency.slug])

    staff = api(admin.user).get(url).json()
    assert {row["id"] for row in staff["results"]} == {ours.pk, theirs.pk}
    row = next(r for r in staff["results"] if r["id"] == ours.pk)
    assert row["written_off_reason"] == "Internal note"
    assert row["idempotency_key"] == f"charge-task-{ours.task_id}"

    client_rows = api(mine.user).get(url).json()["results"]
    assert [r["id"] for r in client_rows] == [ours.pk]
    assert client_rows[0]["status"] == "written_off"
    assert not {"written_off_reason", "written_off_by", "written_off_at"} & set(client_rows[0])
    assert client_rows[0]["amount"] == 2000 and client_rows[0]["service_name"]

    assert api(member(Role.ASSISTANT).user).get(url).status_code == 403
    bad = api(admin.user).get(url, {"status": "paid"})
    assert (bad.status_code, bad.json()["code"]) == (400, "charge_status_invalid")
    filtered = api(admin.user).get(url, {"client": theirs.client_id}).json()["results"]
    assert [r["id"] for r in filtered] == [theirs.pk]


def test_writing_off_through_the_api(agency, admin, member, api, contract):
    made = charge(agency, done(agency, line_with(agency, contract), 30, at("2026-04-02 10:00")))
    url = reverse("api:charge-write-off", args=[agency.slug, made.pk])
    mine = member(Role.CLIENT, client=contract.client)
    assert api(mine.user).post(url, {"reason": "Please"}).status_code == 403
    missing = api(admin.user).post(url, {})
    assert (missing.status_code, missing.json()["code"]) == (400, "charge_reason_required")
    done_off = api(admin.user).post(url, {"reason": "Goodwill"})
    assert done_off.status_code == 200
    assert done_off.json()["status"] == "written_off"
    again = api(admin.user).post(url, {"reason": "Goodwill"})
    assert (again.status_code, again.json()["code"]) == (400, "charge_not_pending")


def test_the_api_costs_the_same_at_any_size(agency, admin, member, api, count_queries):
    url = reverse("api:charge-list", args=[agency.slug])
    staff = api(admin.user)
    first = some_charges(agency, 1)[0]
    with agency_scope(agency):
        client = first.client
    person = api(member(Role.CLIENT, client=client).user)
    few = [count_queries(lambda: staff.get(url)), count_queries(lambda: person.get(url))]
    more = some_charges(agency, 49)
    # give the client 49 more charges of their own
    contract = ContractFactory(agency=agency, client=client, status="active")
    line = line_with(agency, contract)
    for i in range(49):
        charge(agency, done(agency, line, 10 + i, at("2026-04-02 10:00")))
    with agency_scope(agency):
        charge_write_off(agency=agency, actor=admin.user, charge=more[0], reason="x")
    many = [count_queries(lambda: staff.get(url)), count_queries(lambda: person.get(url))]
    assert many == few
    assert len(person.get(url).json()["results"]) == 50


# -- the contract says when it bills -------------------------------------------------------


def test_bill_on_approval_is_a_draft_term(agency, admin, api, contract):
    http = api(admin.user)
    created = http.post(
        reverse("api:contract-list", args=[agency.slug]),
        {
            "client": contract.client_id,
            "name": "Approved work only",
            "starts_on": "2027-01-01",
            "billing_cadence": "monthly",
            "collection_method": "send_invoice",
            "days_until_due": 14,
            "requires_approval": True,
        },
        format="json",
    )
    assert created.status_code == 201 and created.json()["requires_approval"] is True
    live = reverse("api:contract-detail", args=[agency.slug, contract.pk])
    frozen = http.patch(live, {"requires_approval": True}, format="json")
    assert (frozen.status_code, frozen.json()["code"]) == (400, "contract_terms_frozen")


def test_the_contract_form_and_page_say_when_work_is_billed(agency, admin, signed_in):
    client = ClientFactory(agency=agency)
    http = signed_in(admin.user)
    response = http.post(
        reverse("contract_create", args=[agency.slug]),
        {
            "client": client.pk,
            "name": "Billed on approval",
            "starts_on": "2027-01-01",
            "billing_cadence": "monthly",
            "collection_method": "send_invoice",
            "days_until_due": "14",
            "requires_approval": "on",
        },
    )
    assert response.status_code == 302
    page = http.get(response["Location"]).content.decode()
    assert "billed once the client approves it" in page


def test_the_monthly_sweep_makes_each_retainer_fee_once(agency, time_machine):
    """Beat makes the fee at the start of each client's month, once, however often it runs,
    and not for lines that are not retainers."""
    time_machine.move_to("2026-03-31 16:00Z", tick=False)  # already April 1st in Tokyo
    tokyo = ContractFactory(
        agency=agency, status="active", client=ClientFactory(agency=agency, time_zone="Asia/Tokyo")
    )
    retainer = LineFactory(agency=agency, contract=tokyo, terms=None)
    TermsFactory(
        agency=agency,
        line=retainer,
        pricing_model="retainer",
        hourly_rate=None,
        minimum_minutes=None,
        retainer_fee=80000,
        included_minutes=600,
        rollover_cap_minutes=120,
        overage_rate=5000,
        rounding_increment_minutes=15,
    )
    LineFactory(agency=agency, contract=tokyo)  # hourly: no fee
    assert retainer_fees_due(now=dt.datetime(2026, 3, 31, 16, tzinfo=dt.UTC)) == 1
    assert retainer_fees_due(now=dt.datetime(2026, 3, 31, 17, tzinfo=dt.UTC)) == 0
    with agency_scope(agency):
        fee = Charge.objects.get(kind="retainer_fee")
    assert (fee.period_start, fee.amount) == (dt.date(2026, 4, 1), 80000)
