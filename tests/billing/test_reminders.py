"""Billing reminders: invoices issued, coming due and overdue; payment failures; retainer
hours low and used up; charges held past the cap; contracts ending. Time moved by
time-machine, zones on both sides of UTC."""

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from billing.models import Charge, Invoice
from billing.reminders import sweep_billing_reminders
from contracts.models import PricingModel
from core.roles import Role
from core.tenancy import scopes_disabled
from notifications.models import Notification
from tests.contracts.factories import ContractFactory, LineFactory, TermsFactory
from tests.factories import ClientFactory, MembershipFactory
from tests.tasks.factories import TaskFactory

pytestmark = pytest.mark.django_db


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    def run() -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return sweep_billing_reminders(now=timezone.now())

    return run


def rows(**filters):
    with scopes_disabled():
        return list(Notification.objects.filter(**filters).order_by("pk"))


@pytest.fixture
def client_(agency):
    return ClientFactory(agency=agency, time_zone="Australia/Sydney", currency="AUD")


@pytest.fixture
def people(agency, client_):
    person = MembershipFactory(agency=agency, role=Role.CLIENT, client=client_)
    admin = MembershipFactory(agency=agency, role=Role.ADMIN)
    return person, admin


def invoice(agency, client, **fields):
    with scopes_disabled():
        return Invoice.objects.create(
            agency=agency,
            client=client,
            collection_method="send_invoice",
            currency=client.currency,
            amount_due=12500,
            number=fields.pop("number", "INV-0001"),
            **fields,
        )


def test_an_invoice_is_told_when_issued_coming_due_and_overdue(
    sweep, agency, client_, people, time_machine
):
    person, admin = people
    time_machine.move_to("2026-05-04 10:00Z", tick=False)
    bill = invoice(
        agency, client_, status="open", finalized_at=timezone.now(),
        due_date=utc("2026-05-10 13:59Z"),
    )  # fmt: skip
    assert sweep() == 1
    (issued,) = rows(kind="invoice_issued")
    assert issued.recipient == person.user
    assert issued.title == "New invoice INV-0001: A$125.00"
    # Sydney is UTC+10 in May: due 23:59 AEST on the 10th.
    assert "due Sun 10 May 2026, 23:59 AEST" in issued.body
    assert issued.link == f"/a/{agency.slug}/our-invoices/{bill.pk}/"
    time_machine.move_to("2026-05-08 10:00Z", tick=False)
    assert sweep() == 1
    assert len(rows(kind="invoice_due_soon")) == 1
    time_machine.move_to("2026-05-10 14:00Z", tick=False)
    assert sweep() == 1
    assert sweep() == 0
    assert len(rows(kind="invoice_overdue")) == 1
    assert rows(recipient=admin.user) == []  # admins see invoices in their own list
    assert [m.to for m in mail.outbox] == [[person.user.email]] * 3
    assert f"/our-invoices/{bill.pk}/" in mail.outbox[0].body


def test_paid_invoices_are_left_alone(sweep, agency, client_, people, time_machine):
    time_machine.move_to("2026-05-04 10:00Z", tick=False)
    invoice(
        agency, client_, status="paid", finalized_at=timezone.now(),
        due_date=utc("2026-05-05 10:00Z"),
    )  # fmt: skip
    assert sweep() == 0


def test_a_payment_failure_goes_to_the_admins_once(sweep, agency, client_, people, time_machine):
    person, admin = people
    owner = MembershipFactory(agency=agency, role=Role.OWNER)
    time_machine.move_to("2026-05-04 10:00Z", tick=False)
    invoice(
        agency, client_, status="open", payment_failed=True,
        last_payment_error="Your card was declined.", finalized_at=utc("2026-04-01 10:00Z"),
    )  # fmt: skip
    assert sweep() == 2
    assert sweep() == 0
    failed = rows(kind="payment_failed")
    assert {n.recipient_id for n in failed} == {admin.user_id, owner.user_id}
    assert "Your card was declined." in failed[0].body
    assert rows(recipient=person.user) == []


@pytest.fixture
def retainer(agency, client_):
    contract = ContractFactory(agency=agency, client=client_, status="active")
    line = LineFactory(agency=agency, contract=contract, terms=None)
    terms = TermsFactory(
        agency=agency, line=line, pricing_model=PricingModel.RETAINER, retainer_fee=100000,
        included_minutes=600, rollover_cap_minutes=0, overage_rate=6000,
        rounding_increment_minutes=15, hourly_rate=None, minimum_minutes=None,
    )  # fmt: skip
    return line, terms


def retainer_charge(agency, line, terms, *, left_before, from_bank, overage=0):
    task = TaskFactory(agency=agency, contract_line=line, status="completed")
    with scopes_disabled():
        return Charge.objects.create(
            agency=agency, kind="task", task=task, contract_line=line, terms=terms,
            client=line.contract.client, period_start=dt.date(2026, 5, 1),
            minutes_from_bank=from_bank, minutes_billed=overage, amount=overage * 100,
            currency="AUD", description=task.title, idempotency_key=f"k-{task.pk}",
            breakdown={"bank_left_before": left_before, "bank_minutes": 600},
        )  # fmt: skip


def test_retainer_hours_low_then_used_up_once_a_month(
    sweep, agency, retainer, people, time_machine
):
    person, _ = people
    line, terms = retainer
    time_machine.move_to("2026-05-20 10:00Z", tick=False)
    retainer_charge(agency, line, terms, left_before=600, from_bank=300)  # 5 h left
    assert sweep() == 0
    retainer_charge(agency, line, terms, left_before=300, from_bank=195)  # 1 h 45 left
    retainer_charge(agency, line, terms, left_before=105, from_bank=15)  # 1 h 30 left
    assert sweep() == 1
    (low,) = rows(kind="retainer_low")
    assert low.recipient == person.user
    assert "1 h 45 min of this month's" in low.body
    retainer_charge(agency, line, terms, left_before=90, from_bank=90, overage=30)
    assert sweep() == 1
    assert sweep() == 0
    (gone,) = rows(kind="retainer_exhausted")
    assert "May 2026" in gone.title and "overage rate" in gone.body


def test_a_held_charge_asks_the_client(sweep, agency, retainer, people, time_machine):
    person, _ = people
    line, terms = retainer
    time_machine.move_to("2026-05-20 10:00Z", tick=False)
    charge = retainer_charge(agency, line, terms, left_before=600, from_bank=0, overage=60)
    with scopes_disabled():
        Charge.objects.filter(pk=charge.pk).update(status="held", breakdown={})
    assert sweep() == 1
    (held,) = rows(kind="charge_held")
    assert held.recipient == person.user and held.target_id == charge.pk


@pytest.mark.parametrize(
    ("zone", "now", "told"),
    [
        # Sydney (UTC+10): at 15:00Z on the 16th it is already the 17th there: 14 days left.
        ("Australia/Sydney", "2026-05-16 15:00Z", True),
        ("Australia/Sydney", "2026-05-16 13:00Z", False),  # 23:00 on the 16th: 15 days
        # Los Angeles (UTC-7): at 06:00Z on the 17th it is still the 16th there: 15 days.
        ("America/Los_Angeles", "2026-05-17 06:00Z", False),
        ("America/Los_Angeles", "2026-05-17 07:00Z", True),
    ],
)
def test_a_contract_ending_within_14_days_of_the_clients_today(
    sweep, agency, people, time_machine, zone, now, told
):
    person, admin = people
    client = person.client
    with scopes_disabled():
        client.time_zone = zone
        client.save()
    contract = ContractFactory(
        agency=agency, client=client, status="active", ends_on=dt.date(2026, 5, 31)
    )
    time_machine.move_to(now, tick=False)
    made = sweep()
    assert made == (2 if told else 0)
    if told:
        assert {n.recipient_id for n in rows(kind="contract_ending")} == {
            person.user_id,
            admin.user_id,
        }
        assert all(n.target_id == contract.pk for n in rows())
        assert "Sun 31 May 2026 (in 14 days)" in rows(recipient=person.user)[0].body
        assert sweep() == 0


def test_billing_sweep_cost_follows_what_is_due(
    sweep, agency, client_, people, time_machine, count_queries
):
    time_machine.move_to("2026-05-04 10:00Z", tick=False)
    invoice(agency, client_, status="open", due_date=utc("2026-05-05 10:00Z"), number="A")
    sweep()
    few = count_queries(sweep)
    for n in range(20):
        invoice(agency, client_, status="paid", due_date=utc("2026-05-05 10:00Z"), number=f"P{n}")
        invoice(agency, client_, status="open", due_date=utc("2026-08-05 10:00Z"), number=f"L{n}")
    assert count_queries(sweep) == few


def test_invoice_news_goes_only_to_people_who_may_see_invoices(
    sweep, agency, client_, people, time_machine
):
    """A colleague whose owner has not let them see invoices is not told of one either."""
    from clients.models import ClientMemberRights

    person, _ = people
    colleague = MembershipFactory(agency=agency, role=Role.CLIENT, client=client_)
    with scopes_disabled():
        ClientMemberRights.objects.create(
            agency=agency, membership=colleague, may_see_invoices=False
        )
    time_machine.move_to("2026-05-04 10:00Z", tick=False)
    invoice(
        agency, client_, status="open", finalized_at=timezone.now(),
        due_date=utc("2026-05-06 13:59Z"),
    )  # fmt: skip
    sweep()
    time_machine.move_to("2026-05-06 14:00Z", tick=False)
    sweep()
    kinds = {n.kind for n in rows()}
    assert kinds == {"invoice_issued", "invoice_due_soon", "invoice_overdue"}
    assert {n.recipient for n in rows()} == {person.user}
    assert all(m.to == [person.user.email] for m in mail.outbox)
