"""Banked hours that expire: work draws the oldest hours first, hours older than the terms'
N months are gone, the rollover cap still applies; the charges, the bank, the account page
and the contract usage report say what expires when. Months walked with time-machine."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.charges import charge_for_task
from billing.retainer import RetainerMonth, bank_left, bank_lots, retainer_bank_for_month
from contracts.models import ContractTerms, PricingModel
from core.roles import Role
from core.tenancy import agency_scope
from reports.selectors import retainer_rows
from tests.contracts.factories import ContractFactory, LineFactory, TermsFactory
from tests.factories import ClientFactory, MembershipFactory
from tests.tasks.factories import TaskFactory

UTC = dt.UTC
M = RetainerMonth


# -- the rule, by hand ----------------------------------------------------------------------

LOTS = [
    # (earlier months, this month, lots [month index, minutes] before its work)
    # 10 h a month, cap 20 h, one month to use banked hours:
    # Jan uses 4 h -> Feb starts with Jan's 6 h and its own 10 h
    ([M(600, 1200, 240, 1)], M(600, 1200, 0, 1), [[0, 360], [1, 600]]),
    # Feb uses 13 h: Jan's 6 h first, then 7 of Feb's -> Mar: Feb's 3 h, Mar's 10 h
    ([M(600, 1200, 240, 1), M(600, 1200, 780, 1)], M(600, 1200, 0, 1), [[1, 180], [2, 600]]),
    # ... Mar uses nothing -> Apr: Feb's 3 h expired, Mar's 10 h kept
    (
        [M(600, 1200, 240, 1), M(600, 1200, 780, 1), M(600, 1200, 0, 1)],
        M(600, 1200, 0, 1),
        [[2, 600], [3, 600]],
    ),
    # the cap keeps the newest: Jan 6 h left and Feb 10 h unused, cap 8 h -> Feb's 8 h
    ([M(600, 1200, 240, 2), M(600, 1200, 0, 2)], M(600, 480, 0, 2), [[1, 480], [2, 600]]),
    # expiry 0: nothing rolls over at all
    ([M(600, 1200, 0, 0)], M(600, 1200, 0, 0), [[1, 600]]),
    # hours bought join their month's lot, and roll over like it
    ([M(600, 1200, 300, None, 120)], M(600, 1200, 0, None), [[0, 420], [1, 600]]),
]


@pytest.mark.parametrize(("history", "current", "lots"), LOTS)
def test_work_draws_the_oldest_hours_and_old_ones_expire(history, current, lots):
    assert bank_lots(history, current) == lots


def test_no_expiry_keeps_the_old_rule():
    history = [M(600, 120, 0), M(600, 120, 600)]
    assert retainer_bank_for_month(history, included=600, cap=120) == (720, 120)


# -- across months, with the charges ------------------------------------------------------

EXPIRING = {
    "pricing_model": PricingModel.RETAINER,
    "hourly_rate": None,
    "minimum_minutes": None,
    "retainer_fee": 100000,
    "included_minutes": 600,  # 10 h
    "rollover_cap_minutes": 480,  # 8 h
    "overage_rate": 6000,
    "rounding_increment_minutes": 15,
    "banked_hours_expire_after_months": 1,
    "effective_from": dt.datetime(2026, 1, 1, tzinfo=UTC),
}


@pytest.fixture
def retainer(agency):
    client = ClientFactory(agency=agency, time_zone="UTC", currency="USD")
    contract = ContractFactory(agency=agency, client=client, status="active")
    line = LineFactory(agency=agency, contract=contract, terms=None)
    TermsFactory(agency=agency, line=line, **EXPIRING)
    return line


def work(agency, line, minutes, when):
    task = TaskFactory(
        agency=agency,
        contract_line=line,
        status="completed",
        completed_at=when,
        minutes_logged=minutes,
    )
    with agency_scope(agency):
        return charge_for_task(agency=agency, task=task)


def left(agency, line, month):
    with agency_scope(agency):
        versions = list(ContractTerms.objects.filter(line=line).order_by("-effective_from"))
        return bank_left(agency, line, versions, month, "UTC")


@pytest.mark.django_db
def test_months_of_work_draw_oldest_first_expire_and_meet_the_cap(agency, retainer, time_machine):
    time_machine.move_to("2026-01-20 12:00Z", tick=False)
    jan = work(agency, retainer, 240, timezone.now())
    assert (jan.minutes_from_bank, jan.amount) == (240, 0)

    time_machine.move_to("2026-02-20 12:00Z", tick=False)
    # Jan left 6 h: the bank is 16 h, 13 h used: Jan's 6 first, then 7 of Feb's.
    feb = work(agency, retainer, 780, timezone.now())
    assert (feb.breakdown["bank_minutes"], feb.minutes_from_bank, feb.amount) == (960, 780, 0)
    assert feb.breakdown["expiring"] == [
        {"minutes": 360, "month": "2026-02-01"},  # what the charge found, before its work
        {"minutes": 600, "month": "2026-03-01"},
    ]
    assert feb.breakdown["drawn_from"] == [
        {"minutes": 360, "expires_end_of": "2026-02-01"},  # January's hours first
        {"minutes": 420, "expires_end_of": "2026-03-01"},
    ]

    time_machine.move_to("2026-03-05 12:00Z", tick=False)
    march = left(agency, retainer, dt.date(2026, 3, 1))
    assert march["bank_minutes"] == 780 and march["rollover_minutes"] == 180
    assert march["expiring"] == [
        {"minutes": 180, "month": "2026-03-01"},  # Feb's 3 h last to the end of March
        {"minutes": 600, "month": "2026-04-01"},
    ]

    time_machine.move_to("2026-04-10 12:00Z", tick=False)
    # Feb's 3 h are gone; March's 10 h are over the 8 h cap: 8 h roll over.
    april = left(agency, retainer, dt.date(2026, 4, 1))
    assert (april["bank_minutes"], april["rollover_minutes"]) == (1080, 480)
    # April's work: March's 8 h first, then April's own; 20 h is 2 h over.
    apr = work(agency, retainer, 1200, timezone.now())
    assert (apr.minutes_from_bank, apr.minutes_billed, apr.amount) == (1080, 120, 12000)

    time_machine.move_to("2026-05-02 12:00Z", tick=False)
    may = left(agency, retainer, dt.date(2026, 5, 1))
    assert (may["bank_minutes"], may["rollover_minutes"]) == (600, 0)


@pytest.fixture
def march_bank(agency, retainer, time_machine):
    time_machine.move_to("2026-01-20 12:00Z", tick=False)
    work(agency, retainer, 240, timezone.now())
    time_machine.move_to("2026-02-20 12:00Z", tick=False)
    work(agency, retainer, 780, timezone.now())
    time_machine.move_to("2026-03-05 12:00Z", tick=False)
    return retainer


@pytest.mark.django_db
def test_the_account_page_says_what_expires_when(agency, march_bank, signed_in):
    person = MembershipFactory(agency=agency, role=Role.CLIENT, client=march_bank.contract.client)
    page = signed_in(person.user).get(reverse("our_account", args=[agency.slug])).text
    assert "3.0 h expire at the end of March 2026; 10.0 h expire at the end of April 2026." in page


@pytest.mark.django_db
def test_the_usage_report_says_what_expires_when(agency, march_bank):
    with agency_scope(agency):
        line = (
            type(march_bank)
            .objects.select_related("contract__client", "service")
            .get(pk=march_bank.pk)
        )
        (row,) = retainer_rows(agency=agency, lines=[line], months=[dt.date(2026, 3, 1)])
    assert row["rollover"] == 180 and row["bank"] == 780
    assert row["expires"] == (
        "3.0 h expire at the end of March 2026; 10.0 h expire at the end of April 2026"
    )
