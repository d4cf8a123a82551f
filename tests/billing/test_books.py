"""The books: 300 tasks worked through March and April 2026, billed by real Celery worker
processes on PostgreSQL and Redis against the in-repo Stripe test server, then checked
against what Stripe holds and against the revenue report an admin downloads.

Six clients, one per way of billing (cadence x collection), five currencies, five zones:

  USD per task, card on file, Denver      hourly $45.00/h (15 min, 30 min minimum), flat $25.00
  JPY per task, sent, Tokyo               hourly ¥4,800/h (15 min minimum), flat ¥3,000
  HUF weekly, sent, Budapest              hourly 9,500 Ft/h (30 min minimum), flat 7,990 Ft
  ISK weekly, card on file, Reykjavik     hourly 6,500 kr/h (15 min minimum), flat 4,990 kr
  BHD monthly, sent, Bahrain              hourly 12.345 BD/h (15 min minimum), flat 7.777 BD
  USD monthly, card on file, Denver       retainer $800.00 for 10 h (2 h rollover, overage
                                          $60.00/h), flat $30.00

The story (UTC): week 1 (2 to 8 March) ends with write-offs. In the small hours of Monday
9 March, after the weekly periods ended, new work is finished and two tasks of week 1 are
sent back and done again; the weekly close runs late, at 07:00 (08:00 in Budapest, 8
hours after its week ended): week 1's invoices must carry all of week 1's work (the first
completions of those two tasks included) and leave Monday's for week 2. Then a weekly
invoice is voided with its charges written off and a per-task one voided to be billed
again; work is sent back and done again with more time logged; charges held past the
task's own budget are approved in a later period (one is never approved, one is written
off). March closes (weeks 3 and 4 with it, two days late), a monthly invoice is voided to
be billed again in April, April's work is done and everything is closed on 4 May.

Every task is made by factory, assigned, has its time logged and is completed through
tasks.services; completing it queues the job that bills it, and the worker processes do
the rest. Each worker process starts with its clock at the story's moment (a
sitecustomize on its PYTHONPATH starts time-machine there), so what it writes is dated as
in production: a charge made minutes after the work, a retainer's monthly fee in its month.

Afterwards, per client and period (and per per-task invoice), Stripe's invoice totals
equal our invoiced charges in Stripe's unit (core.currencies.to_stripe); written-off and
held charges are on no live invoice; every invoiced charge is on exactly one; and the
revenue report shows the same totals per client, currency and month as the charges.
Needs PostgreSQL and Redis (CI's second pass); skipped on the embedded defaults.
"""

import contextlib
import csv
import datetime as dt
import io
import os
import signal
import subprocess
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from billing.charges import charge_release, charge_write_off
from billing.invoicing import billing_period, close_billing_periods, invoice_void
from billing.models import (
    Charge,
    ChargeKind,
    ChargeStatus,
    Invoice,
    InvoiceStatus,
    VoidedCharges,
)
from clients.models import Client
from contracts.models import CollectionMethod, PricingModel
from core.currencies import to_stripe
from core.money import to_minor
from core.periods import month_end
from core.roles import Role
from core.tenancy import agency_scope
from core.times import local_midnight
from tasks.models import Task
from tasks.services import task_complete, task_send_back, time_entry_add
from tests.billing.test_billing_under_faults import kill, start_worker, wait_for
from tests.billing.test_invoicing import card_on_file
from tests.contracts.factories import ContractFactory, LineFactory, TermsFactory
from tests.factories import ClientFactory
from tests.tasks.factories import TaskFactory
from va_agency.celery import app

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(
        not settings.REDIS_URL or connection.vendor != "postgresql",
        reason="needs worker processes on PostgreSQL and Redis (set DATABASE_URL, REDIS_URL)",
    ),
]

UTC = dt.UTC
AGENCY_ZONE = "Europe/London"
MARCH, APRIL = dt.date(2026, 3, 1), dt.date(2026, 4, 1)


def hourly(rate: int, *, minimum: int) -> dict:
    return {
        "pricing_model": PricingModel.HOURLY,
        "hourly_rate": rate,
        "rounding_increment_minutes": 15,
        "minimum_minutes": minimum,
    }


RETAINER = {
    "pricing_model": PricingModel.RETAINER,
    "retainer_fee": 80000,
    "included_minutes": 600,
    "rollover_cap_minutes": 120,
    "overage_rate": 6000,
    "rounding_increment_minutes": 15,
}


@dataclass(frozen=True)
class Way:
    """One client and the way it is billed: its first line (hourly or a retainer) and a
    flat-fee line."""

    key: str
    name: str
    currency: str
    zone: str
    cadence: str
    collection: str
    first: dict
    flat_fee: int


WAYS = [
    Way(
        "usd-task",
        "Denver per task (card)",
        "USD",
        "America/Denver",
        "per_task",
        "charge_automatically",
        hourly(4500, minimum=30),
        2500,
    ),
    Way(
        "jpy-task",
        "Tokyo per task (sent)",
        "JPY",
        "Asia/Tokyo",
        "per_task",
        "send_invoice",
        hourly(4800, minimum=15),
        3000,
    ),
    Way(
        "huf-week",
        "Budapest weekly (sent)",
        "HUF",
        "Europe/Budapest",
        "weekly",
        "send_invoice",
        hourly(9500, minimum=30),
        7990,
    ),
    Way(
        "isk-week",
        "Reykjavik weekly (card)",
        "ISK",
        "Atlantic/Reykjavik",
        "weekly",
        "charge_automatically",
        hourly(6500, minimum=15),
        4990,
    ),
    Way(
        "bhd-month",
        "Manama monthly (sent)",
        "BHD",
        "Asia/Bahrain",
        "monthly",
        "send_invoice",
        hourly(12345, minimum=15),
        7777,
    ),
    Way(
        "usd-month",
        "Denver retainer monthly (card)",
        "USD",
        "America/Denver",
        "monthly",
        "charge_automatically",
        RETAINER,
        3000,
    ),
]
WAY = {way.key: way for way in WAYS}

# The task's own budget (minor units), by (client, task number): each of the first ones
# passes it and is held; ("usd-task", 2) fits at first and passes it when reworked.
BUDGETS = {
    ("usd-task", 0): 100,  # approved a week later
    ("usd-task", 2): 6000,  # 60 min = $45.00 fits; reworked to 120 min = $90.00 does not
    ("jpy-task", 0): 100,  # never approved
    ("huf-week", 0): 100,  # approved in week 2
    ("isk-week", 0): 100,  # written off
    ("bhd-month", 0): 100,  # approved in April
}
MINUTES = {("usd-task", 2): 60}

# Puts a worker process's clock at the story's moment: imported by Python at start-up
# (site.py) from the worker's PYTHONPATH; forked pool children inherit it.
WORKER_CLOCK = """\
import os

if os.environ.get("BOOKS_CLOCK"):
    import datetime

    import time_machine

    _travel = time_machine.travel(
        datetime.datetime.fromisoformat(os.environ["BOOKS_CLOCK"]), tick=True
    )
    _travel.start()
"""


def moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def spread(first: str, last: str, count: int) -> list[dt.datetime]:
    start, end = moment(first), moment(last)
    step = (end - start) / (count - 1)
    return [start + step * n for n in range(count)]


def stop(worker: subprocess.Popen) -> None:
    """Warm shutdown: the worker finishes the jobs in hand and gives the rest back."""
    if worker.poll() is None:
        os.kill(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            kill(worker)
            return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGKILL)  # any pool child left behind


@dataclass
class Books:
    """The agency's clients, people and work, and the story's clock (this process's, and
    that of the worker processes that do its jobs)."""

    agency: object
    admin: object
    assistants: list
    time_machine: object
    monkeypatch: object
    stripe_url: str
    logs: object
    clients: dict = field(default_factory=dict)
    lines: dict = field(default_factory=dict)
    people: dict = field(default_factory=dict)
    tasks: dict = field(default_factory=lambda: defaultdict(list))
    completions: int = 0
    reworks: int = 0
    worker_runs: int = 0
    # (client id, period start) of period invoices voided with their charges billed again
    voided_periods: set = field(default_factory=set)

    def at(self, when: dt.datetime | str) -> dt.datetime:
        when = moment(when) if isinstance(when, str) else when
        self.time_machine.move_to(when, tick=True)
        return when

    # -- people at work -------------------------------------------------------------------

    def complete_new(self, moments: list[dt.datetime]) -> None:
        """New tasks, one client after another, each completed at its moment by the
        assistant holding it after logging its time."""
        for n, when in enumerate(moments):
            way = WAYS[n % len(WAYS)]
            number = len(self.tasks[way.key])
            first, flat = self.lines[way.key]
            self.at(when)
            assistant = self.assistants[n % len(self.assistants)]
            task = TaskFactory(
                agency=self.agency,
                contract_line=first if number % 2 == 0 else flat,
                status="assigned",
                assignee=assistant,
                title=f"{way.key} #{number}",
                max_budget=BUDGETS.get((way.key, number)),
            )
            self.tasks[way.key].append(task)
            minutes = MINUTES.get((way.key, number), 5 + (number * 37) % 175)
            self._finish(task, minutes)

    def send_back(self, key: str, number: int) -> Task:
        task = self.tasks[key][number]
        task_send_back(
            agency=self.agency,
            actor=self.people[key].user,
            task=task,
            reason="Not quite: please finish the second half.",
        )
        return task

    def finish_again(self, key: str, number: int, minutes: int) -> None:
        self._finish(self.tasks[key][number], minutes)
        self.reworks += 1

    def _finish(self, task: Task, minutes: int) -> None:
        assistant = next(a for a in self.assistants if a.pk == task.assignee_id)
        kwargs = {"agency": self.agency, "actor": assistant.user, "membership": assistant}
        time_entry_add(**kwargs, task=task, minutes=minutes, note="Worked on it.")
        task_complete(**kwargs, task=task, summary="Done: see the notes.")
        self.completions += 1

    def charge_of(self, key: str, number: int, *, latest: bool = False) -> Charge:
        """A task's first charge (or that of its latest completion)."""
        charges = Charge.objects.filter(
            agency=self.agency, kind=ChargeKind.TASK, task=self.tasks[key][number]
        ).order_by("task_completed_at")
        return charges.last() if latest else charges.first()

    def write_off(self, charge: Charge) -> Charge:
        return charge_write_off(
            agency=self.agency, actor=self.admin.user, charge=charge, reason="Goodwill."
        )

    def approve(self, key: str, charge: Charge) -> Charge:
        assert charge.status == ChargeStatus.HELD, charge.breakdown
        return charge_release(agency=self.agency, actor=self.people[key].user, charge=charge)

    def void(self, invoice: Invoice, charges: str) -> Invoice:
        if charges == VoidedCharges.REBILL and invoice.period_start:
            self.voided_periods.add((invoice.client_id, invoice.period_start))
        return invoice_void(
            agency=self.agency,
            actor=self.admin.user,
            invoice=invoice,
            reason="Sent with the wrong purchase order number.",
            charges=charges,
        )

    def close(self) -> int:
        return close_billing_periods(now=timezone.now())

    # -- the worker -----------------------------------------------------------------------

    def work(self) -> None:
        """A worker process, its clock at the story's now, does every job queued so far:
        each completion charged, each per-task charge on an invoice paid or sent."""
        self.worker_runs += 1
        self.monkeypatch.setenv("BOOKS_CLOCK", timezone.now().isoformat())
        worker = start_worker(self.stripe_url, self.logs / f"worker-{self.worker_runs}.log")
        try:
            wait_for(self.settled, f"worker run {self.worker_runs}", 150)
        finally:
            stop(worker)
        # It wrote on the story's clock, not the machine's.
        assert not Charge.objects.filter(agency=self.agency, created_at__gt=timezone.now()).exists()

    def settled(self) -> bool:
        charged = Charge.objects.filter(agency=self.agency, kind=ChargeKind.TASK).count()
        waiting = Charge.objects.filter(
            agency=self.agency,
            status=ChargeStatus.PENDING,
            contract_line__contract__billing_cadence="per_task",
        ).exists()
        unfinished = (
            Invoice.objects.filter(agency=self.agency)
            .filter(
                Q(status=InvoiceStatus.DRAFT)
                | Q(
                    status=InvoiceStatus.OPEN,
                    collection_method=CollectionMethod.SEND_INVOICE,
                    sent_at=None,
                )
                | Q(
                    status=InvoiceStatus.OPEN,
                    collection_method=CollectionMethod.CHARGE_AUTOMATICALLY,
                    payment_failed=False,
                )
            )
            .exists()
        )
        return charged == self.completions and not waiting and not unfinished


def open_books(agency, member, stripe_on, **story) -> Books:
    agency.time_zone = AGENCY_ZONE
    agency.save()
    books = Books(
        agency=agency,
        admin=member(Role.ADMIN),
        assistants=[member(Role.ASSISTANT) for _ in range(3)],
        **story,
    )
    for way in WAYS:
        client = ClientFactory(
            agency=agency, name=way.name, time_zone=way.zone, currency=way.currency
        )
        contract = ContractFactory(
            agency=agency,
            client=client,
            status="active",
            starts_on=dt.date(2026, 2, 1),
            billing_cadence=way.cadence,
            collection_method=way.collection,
            days_until_due=None if way.collection == "charge_automatically" else 14,
        )
        first = LineFactory(agency=agency, contract=contract, terms=None)
        TermsFactory(agency=agency, line=first, **way.first)
        flat = LineFactory(agency=agency, contract=contract, terms=None)
        TermsFactory(
            agency=agency, line=flat, pricing_model=PricingModel.FLAT, flat_fee=way.flat_fee
        )
        books.clients[way.key] = client
        books.lines[way.key] = (first, flat)
        books.people[way.key] = member(Role.CLIENT, client=client)
        if way.collection == "charge_automatically":
            card_on_file(agency, client, stripe_on)
    return books


def became_billable(charge: Charge) -> dt.datetime:
    """When a charge became billable, by the story: when the client approved it past its
    budget; else when the work it bills was completed (its own completion, not the task's
    latest); a retainer fee at the start of the month it pays for."""
    if charge.released_at:
        return charge.released_at
    if charge.kind == ChargeKind.RETAINER_FEE:
        return local_midnight(charge.period_start, charge.client.time_zone)
    return charge.task_completed_at


def period_of(charge: Charge, voided_periods: set) -> tuple[dt.date, dt.date]:
    """The period a weekly or monthly charge must be invoiced in: the one it became
    billable in, in the client's zone; after that period's invoice was voided with its
    charges billed again, the next one."""
    zone = charge.client.time_zone
    cadence = charge.contract_line.contract.billing_cadence
    period = billing_period(cadence, became_billable(charge), zone)
    while (charge.client_id, period[0]) in voided_periods:
        period = billing_period(cadence, local_midnight(period[1], zone), zone)
    return period


def report_month(charge: Charge) -> dt.date:
    """The month (agency's zone) the revenue report counts a charge in, as the report
    says: a task's charge on the day it was made (by the job that follows the completion,
    on the worker's clock), a retainer fee in the month it pays for."""
    if charge.kind == ChargeKind.RETAINER_FEE:
        return charge.period_start.replace(day=1)
    return charge.created_at.astimezone(ZoneInfo(AGENCY_ZONE)).date().replace(day=1)


def revenue_csv(http, agency, month: dt.date) -> dict:
    """The revenue report's by-client CSV for a month, as an admin downloads it: figures
    (minor units) by (client name, currency), the per-currency totals under "Total"."""
    response = http.get(
        reverse("report_revenue", args=[agency.slug]),
        {
            "start": month.isoformat(),
            "end": month_end(month).isoformat(),
            "format": "csv",
            "table": "by_client",
        },
    )
    assert response.status_code == 200
    lines = list(csv.reader(io.StringIO(response.content.decode())))
    header = next(n for n, line in enumerate(lines) if line[:1] == ["Client"])
    found = {}
    for line in lines[header + 1 :]:
        row = dict(zip(lines[header], line, strict=True))
        currency = row["Currency"]
        found[(row["Client"], currency)] = {
            "billed": to_minor(Decimal(row["Billed"]), currency),
            "unbilled": to_minor(Decimal(row["Unbilled"]), currency),
            "written_off": to_minor(Decimal(row["Written off"]), currency),
            "voided": to_minor(Decimal(row["On voided invoices"]), currency),
            "task_charges": int(row["Tasks charged"]),
        }
    return found


def expected_revenue(charges: list[Charge], month: dt.date) -> dict:
    """What the report must show for a month, worked from the charges themselves."""
    expected: dict = {}
    for charge in charges:
        if report_month(charge) != month:
            continue
        for name in (charge.client.name, "Total"):
            row = expected.setdefault(
                (name, charge.currency),
                {"billed": 0, "unbilled": 0, "written_off": 0, "voided": 0, "task_charges": 0},
            )
            if charge.status == ChargeStatus.INVOICED:
                row["billed"] += charge.amount
            elif charge.status in (ChargeStatus.PENDING, ChargeStatus.HELD):
                row["unbilled"] += charge.amount
            elif charge.status == ChargeStatus.WRITTEN_OFF:
                row["written_off"] += charge.amount
            row["task_charges"] += charge.kind == ChargeKind.TASK
    return expected


@pytest.mark.django_db(transaction=True)
def test_the_books_balance_with_stripe_and_the_reports(
    agency, member, stripe_on, stripe_server, signed_in, time_machine, monkeypatch, tmp_path
):
    started = time.monotonic()
    boot = tmp_path / "worker-clock"
    boot.mkdir()
    (boot / "sitecustomize.py").write_text(WORKER_CLOCK)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(boot), os.environ.get("PYTHONPATH")]))
    )
    time_machine.move_to(moment("2026-03-01 12:00"), tick=True)
    books = open_books(
        agency,
        member,
        stripe_on,
        time_machine=time_machine,
        monkeypatch=monkeypatch,
        stripe_url=stripe_server,
        logs=tmp_path,
    )
    app.conf.task_always_eager = False
    try:
        with agency_scope(agency):
            held, written_off = _work_through_march_and_april(books)
    finally:
        app.conf.task_always_eager = True
    with agency_scope(agency):
        _check_stripe_against_the_charges(books, stripe_on, held, written_off)
        charges = list(Charge.objects.select_related("client"))
    http = signed_in(books.admin.user)
    for month in (MARCH, APRIL):
        found = revenue_csv(http, agency, month)
        assert found == expected_revenue(charges, month), month
    print(
        f"\nbooks: {books.completions} completions ({books.reworks} after a send-back) of "
        f"{sum(map(len, books.tasks.values()))} tasks, {len(charges)} charges, "
        f"{books.worker_runs} worker runs, {time.monotonic() - started:.0f} s"
    )


def _work_through_march_and_april(books: Books) -> tuple[set, set]:
    """The story. Returns the charges left held, and those written off before they were
    ever invoiced."""
    held, written_off = set(), set()

    # Week 1: 84 tasks, 14 per client. Five pass their task's own budget and are held.
    books.complete_new(spread("2026-03-02 09:00", "2026-03-08 18:00", 84))
    books.work()
    holds = {key: books.charge_of(key, number) for key, number in BUDGETS if number == 0}
    assert {key: c.status for key, c in holds.items()} == dict.fromkeys(holds, ChargeStatus.HELD)
    assert books.charge_of("usd-task", 2).status == ChargeStatus.INVOICED  # within its budget
    held.add(holds["jpy-task"].pk)  # never approved

    # Sunday evening, before the weekly periods end: staff forgive a few unbilled charges.
    books.at("2026-03-08 21:00")
    for key, number in [
        ("huf-week", 2),
        ("huf-week", 3),
        ("isk-week", 2),
        ("isk-week", 3),
        ("isk-week", 0),  # the held one
        ("bhd-month", 2),
        ("usd-month", 3),
    ]:
        written_off.add(books.write_off(books.charge_of(key, number)).pk)

    # Monday 9 March, small hours: work finished after both weeks ended (Budapest's at
    # 23:00 UTC, Reykjavik's at midnight), and work of week 1 sent back and done again,
    # billed by the worker before the close runs.
    books.complete_new(spread("2026-03-09 00:30", "2026-03-09 02:50", 12))
    books.at("2026-03-09 03:00")
    early = [("huf-week", 12, 40), ("isk-week", 12, 40)]
    for key, number, _ in early:
        books.send_back(key, number)
    for n, (key, number, minutes) in enumerate(early):
        books.at(moment("2026-03-09 04:00") + dt.timedelta(minutes=10 * n))
        books.finish_again(key, number, minutes)
    books.work()

    # The weekly close runs late: 8 hours after Budapest's week ended. Each week-1 invoice
    # carries exactly the charges for work completed in week 1 (the first completion of a
    # task done again on Monday included); what was completed on Monday waits for week 2.
    week_ends = local_midnight(dt.date(2026, 3, 9), WAY["huf-week"].zone)
    now = books.at(week_ends + dt.timedelta(hours=8))
    assert now == moment("2026-03-09 07:00")
    books.close()
    for key in ("huf-week", "isk-week"):
        client = books.clients[key]
        ends = local_midnight(dt.date(2026, 3, 9), client.time_zone)
        week = Invoice.objects.get(client=client, period_start=dt.date(2026, 3, 2))
        charges = list(Charge.objects.filter(client=client).select_related("task"))
        on_it = {c.pk: c.task.title for c in charges if c.invoice_id == week.pk}
        due = {
            c.pk: c.task.title
            for c in charges
            if c.task_completed_at < ends
            and c.status not in (ChargeStatus.HELD, ChargeStatus.WRITTEN_OFF, ChargeStatus.COVERED)
        }
        missing = {pk: title for pk, title in due.items() if pk not in on_it}
        extra = {pk: title for pk, title in on_it.items() if pk not in due}
        assert not missing and not extra, (
            f"{key}: week 1's invoice lacks {missing} (completed in week 1) and carries {extra}"
        )
        later = [c for c in charges if c.task_completed_at >= ends]
        assert len(later) == 3  # two new tasks and one done again
        assert all(c.status == ChargeStatus.PENDING and c.invoice_id is None for c in later)
    assert not Invoice.objects.filter(period_start=MARCH).exists()  # March has not ended

    # Voids: week 1's forint invoice, written off; a yen per-task invoice, billed again.
    books.at("2026-03-09 09:00")
    huf_week_1 = Invoice.objects.get(
        client=books.clients["huf-week"], period_start=dt.date(2026, 3, 2)
    )
    assert huf_week_1.status == InvoiceStatus.OPEN
    books.void(huf_week_1, VoidedCharges.WRITE_OFF)
    books.at("2026-03-09 10:00")
    rebilled = books.charge_of("jpy-task", 8)
    assert rebilled.invoice.status == InvoiceStatus.OPEN
    books.void(rebilled.invoice, VoidedCharges.REBILL)

    # Send-backs of week 1's work, done again with more time (flat work costs no more).
    books.at("2026-03-09 12:00")
    again = [
        ("usd-task", 2, 60),  # now past its budget: held
        ("usd-task", 4, 45),
        ("usd-task", 6, 30),
        ("usd-task", 5, 20),
        ("jpy-task", 4, 40),
        ("jpy-task", 6, 25),
        ("jpy-task", 7, 15),
        ("huf-week", 4, 50),
        ("huf-week", 5, 20),
        ("huf-week", 6, 35),
        ("isk-week", 4, 45),
        ("isk-week", 7, 30),
        ("bhd-month", 4, 30),
        ("bhd-month", 6, 60),
        ("usd-month", 4, 90),
        ("usd-month", 6, 45),
    ]
    for key, number, _ in again:
        books.send_back(key, number)
    for n, (key, number, minutes) in enumerate(again):
        books.at(moment("2026-03-09 14:00") + dt.timedelta(minutes=10 * n))
        books.finish_again(key, number, minutes)

    # The client approves two held charges in week 2.
    books.at("2026-03-09 18:00")
    books.approve("usd-task", holds["usd-task"])
    books.approve("huf-week", holds["huf-week"])

    # Week 2.
    books.complete_new(spread("2026-03-10 09:00", "2026-03-15 10:00", 60))
    books.work()
    over_budget = books.charge_of("usd-task", 2, latest=True)
    assert over_budget.status == ChargeStatus.HELD
    assert books.charge_of("jpy-task", 8).invoice.status == InvoiceStatus.OPEN  # a new one

    # Week 2 closes on time; the rework past its budget is approved; the rest of March
    # (week 4 ends on European summer time, at 22:00 UTC in Budapest).
    books.at("2026-03-16 01:00")
    books.close()
    books.at("2026-03-16 09:00")
    books.approve("usd-task", over_budget)
    books.complete_new(spread("2026-03-16 10:00", "2026-03-31 14:00", 90))
    books.work()

    # Staff forgive three more before March closes.
    books.at("2026-03-31 15:30")
    for key, number in [("bhd-month", 36), ("usd-month", 37), ("usd-month", 36)]:
        charge = books.charge_of(key, number)
        assert charge.status == ChargeStatus.PENDING and charge.amount > 0, charge.breakdown
        written_off.add(books.write_off(charge).pk)

    # March closes (Denver's ends at 06:00 UTC), and weeks 3 and 4 with it, two days late;
    # the dinar invoice is voided to be billed
    # again in April; its held charge is approved in April; March work comes back.
    books.at("2026-04-01 08:00")
    books.close()
    march = Invoice.objects.get(client=books.clients["bhd-month"], period_start=MARCH)
    assert march.status == InvoiceStatus.OPEN
    assert Invoice.objects.get(client=books.clients["usd-month"], period_start=MARCH).status == (
        InvoiceStatus.PAID
    )
    books.at("2026-04-01 09:00")
    books.void(march, VoidedCharges.REBILL)
    books.at("2026-04-01 10:00")
    books.approve("bhd-month", holds["bhd-month"])
    books.at("2026-04-01 11:00")
    again = [
        ("bhd-month", 20, 45),
        ("bhd-month", 31, 15),
        ("usd-month", 20, 60),
        ("usd-month", 22, 30),
        ("huf-week", 40, 25),
        ("usd-task", 38, 30),
    ]
    for key, number, _ in again:
        books.send_back(key, number)
    for n, (key, number, minutes) in enumerate(again):
        books.at(moment("2026-04-01 13:00") + dt.timedelta(minutes=10 * n))
        books.finish_again(key, number, minutes)
    books.complete_new(spread("2026-04-02 09:00", "2026-04-20 10:00", 54))
    books.work()

    # Everything closes once April and its last week have ended everywhere.
    books.at("2026-05-04 08:00")
    books.close()
    assert not Invoice.objects.filter(status=InvoiceStatus.DRAFT).exists()
    assert sum(map(len, books.tasks.values())) == 300
    return held, written_off


def _check_stripe_against_the_charges(books: Books, sdk, held: set, written_off: set) -> None:
    every = list(
        Charge.objects.select_related("client", "contract_line__contract", "task", "invoice")
    )
    invoices = {invoice.stripe_invoice_id: invoice for invoice in Invoice.objects.all()}
    remote = list(sdk.v1.invoices.list(params={"limit": 100}).auto_paging_iter())
    items = list(sdk.v1.invoice_items.list(params={"limit": 100}).auto_paging_iter())
    live = {i.id: i for i in remote if i.status != "void"}

    # What the story made of the charges.
    status = Counter(c.status for c in every)
    assert status[ChargeStatus.PENDING] == 0, status
    assert {c.pk for c in every if c.status == ChargeStatus.HELD} == held
    assert written_off <= {c.pk for c in every if c.status == ChargeStatus.WRITTEN_OFF}
    assert all(c.amount == 0 for c in every if c.status == ChargeStatus.COVERED)
    fees = [c for c in every if c.kind == ChargeKind.RETAINER_FEE]
    assert sorted(c.period_start for c in fees) == [MARCH, APRIL]
    assert all(c.status == ChargeStatus.INVOICED for c in fees)
    assert sum(c.kind == ChargeKind.TASK for c in every) == books.completions
    retainer = [c for c in every if c.contract_line_id == books.lines["usd-month"][0].pk]
    overage = [c for c in retainer if c.kind == ChargeKind.TASK and c.minutes_billed]
    assert overage and all(c.amount > 0 for c in overage)
    assert any(c.minutes_from_bank and not c.minutes_billed for c in retainer)  # the bank's

    # Stripe and our copies: the same invoices, three of them void.
    assert sorted(invoices) == sorted(i.id for i in remote)
    assert {i.id for i in remote if i.status == "void"} == {
        sid for sid, invoice in invoices.items() if invoice.status == InvoiceStatus.VOID
    }
    assert len(remote) - len(live) == 3

    # Every invoiced charge is on exactly one live invoice, in Stripe's unit; nothing
    # written off before its invoice, and nothing held, is on any Stripe invoice.
    on_live = defaultdict(list)
    anywhere = set()
    for item in items:
        charge_id = int(item.metadata["charge_id"])
        anywhere.add(charge_id)
        if item.invoice in live:
            on_live[charge_id].append(item)
    billed = [c for c in every if c.status == ChargeStatus.INVOICED]
    assert set(on_live) == {c.pk for c in billed}
    for charge in billed:
        (item,) = on_live[charge.pk]
        assert item.invoice == charge.invoice.stripe_invoice_id
        assert charge.invoice.status != InvoiceStatus.VOID
        assert item.amount == to_stripe(charge.amount, charge.currency).amount
        assert item.currency == charge.currency.lower()
    assert not (held | written_off) & anywhere

    # Per client and period, and per per-task invoice: Stripe's totals are our charges.
    expected: dict = defaultdict(int)
    for charge in billed:
        if charge.contract_line.contract.billing_cadence == "per_task":
            key = ("per task", charge.client_id, charge.pk)
        else:
            key = ("period", charge.client_id, *period_of(charge, books.voided_periods))
        expected[key] += to_stripe(charge.amount, charge.currency).amount
    customers = {c.stripe_customer_id: c for c in Client.objects.filter(agency=books.agency)}
    totals: dict = defaultdict(int)
    for invoice in live.values():
        client = customers[invoice.customer]
        assert invoice.currency == client.currency.lower()
        metadata = invoice.metadata.to_dict()
        if "charge_id" in metadata:
            key = ("per task", client.pk, int(metadata["charge_id"]))
        else:
            start, end = (
                dt.date.fromisoformat(metadata[k]) for k in ("period_start", "period_end")
            )
            key = ("period", client.pk, start, end)
        totals[key] += invoice.total
    assert dict(totals) == dict(expected)
