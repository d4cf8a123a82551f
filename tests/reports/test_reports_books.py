"""A small agency's books, worked by hand, that the report, earnings and account tests
check their figures against. `build_books(agency, time_machine)` makes it and leaves the
clock at 2026-04-15 12:00 UTC.

Agency: Europe/London. Assistants: Maria (paid $15.00/h), João (paid €12.00/h).

Acme (USD, New York): Inbox hourly at $40.00/h, 15-minute increments, 30-minute minimum,
monthly budget $200.00 (ask); Travel flat $60.00.
  A4  Inbox   Maria 120 min, completed 20 Mar -> $80.00, on invoice INV-A4 (open, due
              30 Mar: 16 days overdue on 15 Apr)
  A1  Inbox   Maria  50 min, completed  2 Apr (due 3 Apr) -> 60 min, $40.00, on
              invoice INV-A1 (open, due 1 May)
  A2  Inbox   Maria  10 min, completed  3 Apr (due 10 Apr) -> minimum 30 min, $20.00,
              written off
  A3  Travel  Maria 45 + João 45 min, completed 8 Apr (due 7 Apr: late, João's) -> $60.00
Bloom (EUR, Berlin): Bookkeeping retainer €800.00/month for 10 h, rollover cap 2 h,
overage €50.00/h, 15-minute increments, from 1 March.
  B1  João 480 min, completed 10 Mar -> 8 h from the bank, €0. March leaves 2 h.
  B2  João 690 min, completed  5 Apr (due 6 Apr) -> April bank 10 h + 2 h rolled over
      = 12 h; 11.5 h from it, €0
  B3  João  75 min, completed 10 Apr (due 9 Apr: late) -> 30 min from the bank, 45 min
      overage = €37.50
  Retainer fees €800.00 for March and for April (unbilled).

April, by hand:
  revenue USD: billed $40.00 (A1), unbilled $60.00 (A3), revenue $100.00, written off $20.00
  revenue EUR: unbilled €800.00 + €37.50 = €837.50
  logged: Maria 50 + 10 + 45 = 105 min; João 45 + 690 + 75 = 810 min
  billable: Maria 60 (A1); João 690 + 75 = 765; A2 written off, A3 flat (no hours)
  on time: Inbox 2 of 2, Travel 0 of 1, Bookkeeping 1 of 2; Maria 2 of 2, João 1 of 3
  owed: Maria 105 min x $15 = $26.25; João Acme 45 min x €12 = €9.00, Bloom 765 min = €153.00
"""

import datetime as dt
from dataclasses import dataclass

from billing.charges import charge_for_task, charge_write_off
from billing.models import Charge, ChargeStatus, Invoice
from contracts.models import PricingModel
from core.roles import Role
from core.tenancy import agency_scope, scopes_disabled
from tasks.models import TimeEntry
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import ContractFactory, LineFactory, ServiceFactory, TermsFactory
from tests.factories import ClientFactory, MembershipFactory
from tests.tasks.factories import TaskFactory

UTC = dt.UTC
NOW = dt.datetime(2026, 4, 15, 12, tzinfo=UTC)
TERMS_FROM = dt.datetime(2026, 1, 1, tzinfo=UTC)


def at(day: str, hour: int = 12) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hour:02d}:00:00+00:00")


@dataclass
class Books:
    agency: object
    owner: object
    maria: object  # AssistantProfile
    joao: object
    acme: object
    bloom: object
    acme_member: object
    bloom_member: object
    inbox: object  # ContractLine
    travel: object
    bookkeeping: object
    tasks: dict
    charges: dict
    invoices: dict


def build_books(agency, time_machine) -> Books:
    agency.time_zone = "Europe/London"
    agency.default_currency = "GBP"
    agency.save()
    owner = MembershipFactory(agency=agency, role=Role.OWNER)
    maria = AssistantProfileFactory(
        agency=agency,
        membership__user__full_name="Maria Santos",
        pay_rate=1500,
        pay_currency="USD",
    )
    joao = AssistantProfileFactory(
        agency=agency,
        membership__user__full_name="João Silva",
        pay_rate=1200,
        pay_currency="EUR",
    )
    acme = ClientFactory(
        agency=agency, name="Acme Dental", currency="USD", time_zone="America/New_York"
    )
    bloom = ClientFactory(
        agency=agency, name="Bloom Studio", currency="EUR", time_zone="Europe/Berlin"
    )
    acme_member = MembershipFactory(agency=agency, role=Role.CLIENT, client=acme)
    bloom_member = MembershipFactory(agency=agency, role=Role.CLIENT, client=bloom)
    acme_contract = ContractFactory(agency=agency, client=acme, status="active")
    bloom_contract = ContractFactory(agency=agency, client=bloom, status="active")
    inbox = LineFactory(
        agency=agency,
        contract=acme_contract,
        service=ServiceFactory(agency=agency, name="Inbox"),
        terms=None,
    )
    TermsFactory(
        agency=agency,
        line=inbox,
        effective_from=TERMS_FROM,
        hourly_rate=4000,
        rounding_increment_minutes=15,
        minimum_minutes=30,
        monthly_budget_cap=20000,
        cap_behaviour="ask",
    )
    travel = LineFactory(
        agency=agency,
        contract=acme_contract,
        service=ServiceFactory(agency=agency, name="Travel"),
        terms=None,
    )
    TermsFactory(
        agency=agency,
        line=travel,
        effective_from=TERMS_FROM,
        pricing_model=PricingModel.FLAT,
        flat_fee=6000,
        hourly_rate=None,
        rounding_increment_minutes=None,
        minimum_minutes=None,
    )
    bookkeeping = LineFactory(
        agency=agency,
        contract=bloom_contract,
        service=ServiceFactory(agency=agency, name="Bookkeeping"),
        terms=None,
    )
    TermsFactory(
        agency=agency,
        line=bookkeeping,
        # 1 March 00:00 in Berlin: the retainer's first month is March.
        effective_from=dt.datetime(2026, 2, 28, 23, tzinfo=UTC),
        pricing_model=PricingModel.RETAINER,
        hourly_rate=None,
        minimum_minutes=None,
        retainer_fee=80000,
        included_minutes=600,
        rollover_cap_minutes=120,
        overage_rate=5000,
        rounding_increment_minutes=15,
    )

    plan = [
        # key, line, assignee, [(assistant, minutes)], created, due, completed
        ("B1", bookkeeping, joao, [(joao, 480)], "2026-03-02", "2026-03-12", "2026-03-10"),
        ("A4", inbox, maria, [(maria, 120)], "2026-03-16", "2026-03-25", "2026-03-20"),
        ("A1", inbox, maria, [(maria, 50)], "2026-04-01", "2026-04-03", "2026-04-02"),
        ("A2", inbox, maria, [(maria, 10)], "2026-04-02", "2026-04-10", "2026-04-03"),
        ("B2", bookkeeping, joao, [(joao, 690)], "2026-04-01", "2026-04-06", "2026-04-05"),
        ("A3", travel, joao, [(maria, 45), (joao, 45)], "2026-04-06", "2026-04-07", "2026-04-08"),
        ("B3", bookkeeping, joao, [(joao, 75)], "2026-04-08", "2026-04-09", "2026-04-10"),
    ]
    tasks, charges = {}, {}
    for key, line, assignee, work, created, due, completed in plan:
        time_machine.move_to(at(created, 9), tick=False)
        task = TaskFactory(
            agency=agency,
            contract_line=line,
            title=f"Task {key}",
            status="completed",
            assignee=assignee.membership,
            due_at=at(due, 17),
            started_at=at(created, 10),
            completed_at=at(completed, 12),
            minutes_logged=sum(minutes for _, minutes in work),
        )
        with scopes_disabled():
            for person, minutes in work:
                started = at(completed, 10)
                TimeEntry.objects.create(
                    agency=agency,
                    task=task,
                    assistant=person.membership,
                    started_at=started,
                    ended_at=started + dt.timedelta(minutes=minutes),
                    minutes=minutes,
                )
        time_machine.move_to(at(completed, 12), tick=False)
        with agency_scope(agency):
            charges[key] = charge_for_task(agency=agency, task=task)
        tasks[key] = task

    invoices = {}
    with agency_scope(agency):
        for key, due in (("A4", "2026-03-30"), ("A1", "2026-05-01")):
            charge = charges[key]
            invoices[key] = Invoice.objects.create(
                agency=agency,
                client=acme,
                contract=acme_contract,
                number=f"INV-{key}",
                status="open",
                collection_method="send_invoice",
                currency="USD",
                amount_due=charge.amount,
                due_date=at(due, 23),
            )
            Charge.objects.filter(pk=charge.pk).update(
                status=ChargeStatus.INVOICED, invoice=invoices[key]
            )
        time_machine.move_to(at("2026-04-12"), tick=False)
        charge_write_off(agency=agency, actor=owner.user, charge=charges["A2"], reason="Goodwill")
        for key in charges:
            charges[key].refresh_from_db()
    time_machine.move_to(NOW, tick=False)
    return Books(
        agency,
        owner,
        maria,
        joao,
        acme,
        bloom,
        acme_member,
        bloom_member,
        inbox,
        travel,
        bookkeeping,
        tasks,
        charges,
        invoices,
    )


def test_the_books_are_what_the_docstring_says(agency, time_machine):
    """The hand-worked figures start from these charges: if billing prices them otherwise,
    every report test would be checking the wrong sums."""
    books = build_books(agency, time_machine)
    c = books.charges
    assert (c["A4"].amount, c["A4"].minutes_billed) == (8000, 120)
    assert (c["A1"].amount, c["A1"].minutes_billed) == (4000, 60)
    assert (c["A2"].amount, c["A2"].minutes_billed, c["A2"].status) == (2000, 30, "written_off")
    assert c["A3"].amount == 6000
    assert (c["B1"].minutes_from_bank, c["B1"].amount) == (480, 0)
    assert (c["B2"].minutes_from_bank, c["B2"].breakdown["bank_minutes"]) == (690, 720)
    assert (c["B3"].minutes_from_bank, c["B3"].minutes_billed, c["B3"].amount) == (30, 45, 3750)
    with agency_scope(agency):
        fees = Charge.objects.filter(agency=agency, kind="retainer_fee").order_by("period_start")
        assert [(f.period_start, f.amount) for f in fees] == [
            (dt.date(2026, 3, 1), 80000),
            (dt.date(2026, 4, 1), 80000),
        ]
