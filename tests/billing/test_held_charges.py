"""Budget caps while the work is done: a charge that takes a line past its monthly cap is
held until the client approves it, then billed like any other."""

import datetime as dt

import pytest
from django.urls import reverse

from billing.charges import charge_for_task, charge_release, charge_write_off
from billing.invoicing import close_billing_periods, push_charge
from billing.models import Charge, ChargeStatus
from core.errors import ApplicationError
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope
from tests.contracts.factories import ContractFactory, LineFactory, TermsFactory
from tests.factories import ClientFactory
from tests.tasks.factories import TaskFactory

UTC = dt.UTC
# $40.00/h in 15-minute steps with a 30-minute minimum, at most $100.00 a month.
HOURLY = {"hourly_rate": 4000, "rounding_increment_minutes": 15, "minimum_minutes": 30}


@pytest.fixture
def capped(agency, member, time_machine):
    """A weekly-billed New York client with a $100 monthly cap on an hourly line."""
    time_machine.move_to("2026-05-20 15:00Z", tick=False)
    client = ClientFactory(agency=agency, time_zone="America/New_York", currency="USD")
    contract = ContractFactory(
        agency=agency,
        client=client,
        status="active",
        starts_on=dt.date(2026, 1, 1),
        billing_cadence="weekly",
    )
    line = LineFactory(agency=agency, contract=contract, terms=None)
    TermsFactory(agency=agency, line=line, monthly_budget_cap=10000, cap_behaviour="ask", **HOURLY)
    return {"line": line, "client": client, "person": member(Role.CLIENT, client=client)}


def finish(agency, line, minutes, **task):
    task = TaskFactory(
        agency=agency,
        contract_line=line,
        status="completed",
        completed_at=dt.datetime(2026, 5, 20, 14, tzinfo=UTC),
        minutes_logged=minutes,
        **task,
    )
    with agency_scope(agency):
        return charge_for_task(agency=agency, task=task)


def test_work_that_passes_the_cap_is_held_with_the_sum_shown(agency, capped):
    line = capped["line"]
    first = finish(agency, line, 90)  # 1h30 = $60.00: fits under $100
    second = finish(agency, line, 50)  # 50 min -> 1h = $40.00: $100.00 exactly still fits
    third = finish(agency, line, 10)  # 10 min -> 30 min minimum = $20.00: $120 > $100
    assert [first.amount, second.amount, third.amount] == [6000, 4000, 2000]
    assert [first.status, second.status] == [ChargeStatus.PENDING, ChargeStatus.PENDING]
    assert third.status == ChargeStatus.HELD
    assert third.breakdown["budget_cap"] == {
        "cap": 10000,
        "spent_before": 10000,
        "cap_behaviour": "ask",
    }
    with agency_scope(agency):
        assert AuditEvent.objects.filter(action="charge.held", target_id=third.pk).count() == 1
        # Held charges count as spent: the next one is held too, not squeezed under.
        fourth = finish(agency, line, 30)
    assert fourth.status == ChargeStatus.HELD
    assert fourth.breakdown["budget_cap"]["spent_before"] == 12000


def test_a_blocking_cap_holds_overrun_work_too(agency, capped):
    with agency_scope(agency):
        capped["line"].terms.update(cap_behaviour="block")
    finish(agency, capped["line"], 150)  # $100.00
    assert finish(agency, capped["line"], 30).status == ChargeStatus.HELD


def test_a_yes_given_when_asking_is_not_asked_again(agency, capped):
    finish(agency, capped["line"], 150)
    charge = finish(agency, capped["line"], 30, over_cap_approved=True)
    assert charge.status == ChargeStatus.PENDING
    assert "budget_cap" not in charge.breakdown


def test_written_off_work_frees_the_budget(agency, capped, member):
    admin = member(Role.ADMIN).user
    big = finish(agency, capped["line"], 150)
    with agency_scope(agency):
        charge_write_off(agency=agency, actor=admin, charge=big, reason="Our mistake")
    assert finish(agency, capped["line"], 30).status == ChargeStatus.PENDING


def test_a_held_charge_never_reaches_stripe_until_approved(
    agency, capped, stripe_on, django_capture_on_commit_callbacks
):
    finish(agency, capped["line"], 150)
    held = finish(agency, capped["line"], 30)
    with agency_scope(agency):
        assert push_charge(agency=agency, charge_id=held.pk) is None
        held.refresh_from_db()
        assert held.stripe_invoice_item_id == ""
        with django_capture_on_commit_callbacks(execute=True):
            released = charge_release(agency=agency, actor=capped["person"].user, charge=held)
    # Released: unbilled, and (a weekly contract) nothing of it at Stripe until its week's
    # invoice is made.
    held.refresh_from_db()
    assert released.status == ChargeStatus.PENDING
    assert held.released_by == capped["person"].user and held.released_at is not None
    assert held.stripe_invoice_item_id == ""
    close_billing_periods(now=dt.datetime(2026, 5, 25, 12, tzinfo=UTC))
    with agency_scope(agency):
        held.refresh_from_db()
    assert held.status == ChargeStatus.INVOICED
    item = stripe_on.v1.invoice_items.retrieve(held.stripe_invoice_item_id)
    assert item.amount == 2000 and item.invoice == held.invoice.stripe_invoice_id
    with agency_scope(agency), pytest.raises(ApplicationError) as error:
        charge_release(agency=agency, actor=capped["person"].user, charge=held)
    assert error.value.code == "charge_not_held"


def test_an_approved_charge_is_invoiced_in_the_week_it_was_approved(
    agency, capped, stripe_on, time_machine
):
    finish(agency, capped["line"], 150)
    held = finish(agency, capped["line"], 30)  # made Wednesday 20 May
    # The week of 18 May closes; the held charge waits.
    time_machine.move_to("2026-05-25 12:00Z", tick=False)
    close_billing_periods(now=dt.datetime(2026, 5, 25, 12, tzinfo=UTC))
    with agency_scope(agency):
        held.refresh_from_db()
        assert held.status == ChargeStatus.HELD and held.invoice is None
        # Approved on Tuesday 26 May: it belongs to the week of 25 May.
        time_machine.move_to("2026-05-26 15:00Z", tick=False)
        charge_release(agency=agency, actor=capped["person"].user, charge=held)
    close_billing_periods(now=dt.datetime(2026, 5, 27, 12, tzinfo=UTC))
    with agency_scope(agency):
        held.refresh_from_db()
        assert held.invoice is None  # its week has not ended
    close_billing_periods(now=dt.datetime(2026, 6, 1, 12, tzinfo=UTC))
    with agency_scope(agency):
        held.refresh_from_db()
        assert held.status == ChargeStatus.INVOICED
        assert (held.invoice.period_start, held.invoice.period_end) == (
            dt.date(2026, 5, 25),
            dt.date(2026, 6, 1),
        )
        assert held.invoice.amount_due == 2000


def test_the_client_approves_on_the_invoices_page(agency, capped, signed_in, stripe_on):
    finish(agency, capped["line"], 150)
    held = finish(agency, capped["line"], 30)
    http = signed_in(capped["person"].user)
    page = http.get(reverse("our_invoices", args=[agency.slug]))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Waiting for your approval" in body and f'data-charge="{held.pk}"' in body
    assert "$100.00 of $100.00 used before it" in body
    response = http.post(reverse("charge_release", args=[agency.slug, held.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("our_invoices", args=[agency.slug])
    with agency_scope(agency):
        held.refresh_from_db()
        assert held.status == ChargeStatus.PENDING
        assert AuditEvent.objects.filter(action="charge.released", target_id=held.pk).exists()
    assert (
        "Waiting for your approval"
        not in http.get(reverse("our_invoices", args=[agency.slug])).content.decode()
    )


def test_only_the_clients_people_and_staff_may_approve(agency, capped, member, signed_in, api):
    finish(agency, capped["line"], 150)
    held = finish(agency, capped["line"], 30)
    someone_else = member(Role.CLIENT, client=ClientFactory(agency=agency))
    url = reverse("charge_release", args=[agency.slug, held.pk])
    assert signed_in(someone_else.user).post(url).status_code == 404
    assert signed_in(member(Role.ASSISTANT).user).post(url).status_code == 403
    api_url = reverse("api:charge-release", args=[agency.slug, held.pk])
    assert api(someone_else.user).post(api_url).status_code == 404
    with agency_scope(agency):
        assert Charge.objects.get(pk=held.pk).status == ChargeStatus.HELD
    staff = api(member(Role.ADMIN).user)
    response = staff.post(api_url)
    assert response.status_code == 200
    assert response.json()["status"] == "pending" and response.json()["released_at"]
    again = staff.post(api_url)
    assert again.status_code == 400 and again.json()["code"] == "charge_not_held"


def test_staff_see_held_charges_and_may_write_them_off(agency, capped, member, signed_in):
    finish(agency, capped["line"], 150)
    held = finish(agency, capped["line"], 30)
    http = signed_in(member(Role.ADMIN).user)
    listing = http.get(reverse("charge_list", args=[agency.slug]), {"status": "held"})
    body = listing.content.decode()
    assert f'data-charge="{held.pk}"' in body and "Held for approval" in body
    assert "waits for the client's approval" in body
    http.post(reverse("charge_write_off", args=[agency.slug, held.pk]), {"reason": "Goodwill"})
    with agency_scope(agency):
        assert Charge.objects.get(pk=held.pk).status == ChargeStatus.WRITTEN_OFF


def test_the_invoices_page_costs_the_same_with_many_held_charges(
    agency, capped, signed_in, count_queries
):
    finish(agency, capped["line"], 150)
    finish(agency, capped["line"], 30)
    http = signed_in(capped["person"].user)
    url = reverse("our_invoices", args=[agency.slug])
    few = count_queries(lambda: http.get(url))
    for _ in range(8):
        finish(agency, capped["line"], 30)
    assert count_queries(lambda: http.get(url)) == few


def test_work_that_passes_the_tasks_own_budget_is_held_for_approval(
    agency, member, signed_in, stripe_on
):
    # $40/h, 3 h logged: $120 against the $20 the client set as the task's budget.
    client = ClientFactory(agency=agency, currency="USD")
    contract = ContractFactory(agency=agency, client=client, status="active")
    line = LineFactory(agency=agency, contract=contract, terms=None)
    TermsFactory(agency=agency, line=line, **HOURLY)
    within = finish(agency, line, 30, max_budget=2000)  # $20: exactly the budget
    over = finish(agency, line, 180, max_budget=2000)
    no_budget = finish(agency, line, 180)
    assert (within.amount, over.amount, no_budget.amount) == (2000, 12000, 12000)
    assert within.status == no_budget.status == ChargeStatus.PENDING
    assert over.status == ChargeStatus.HELD
    assert over.breakdown["task_budget"] == {"budget": 2000}
    assert over.held_because == "it passes the task's own budget of $20.00"
    with agency_scope(agency):
        assert push_charge(agency=agency, charge_id=over.pk) is None  # not billed
    person = member(Role.CLIENT, client=client)
    page = signed_in(person.user).get(reverse("our_invoices", args=[agency.slug]))
    assert f'data-charge="{over.pk}"' in page.content.decode()
    assert "Task budget $20.00" in page.content.decode()
    with agency_scope(agency):
        released = charge_release(agency=agency, actor=person.user, charge=over)
    assert released.status == ChargeStatus.PENDING
