"""A retainer line's bank found from one walk of its months: the dashboard and the contract
usage report walk each line once for all the months they show, starting where the earlier
months stop mattering, so the months walked do not grow with the line's history; and every
figure is the one the month-by-month rule (billing.retainer.bank_lots over the line's whole
history) gives."""

import datetime as dt
import random
from types import SimpleNamespace

import pytest

from billing import retainer
from billing.models import Charge, ChargeKind, TopUp
from billing.retainer import RetainerMonth, bank_lots, line_banks, month_terms
from contracts.models import PricingModel
from core.periods import month_start, months_between, next_month
from core.tenancy import agency_scope
from core.times import local_midnight
from reports.dashboard import staff_dashboard
from reports.selectors import retainer_rows, usage_lines
from tests.contracts.factories import ContractFactory, LineFactory, TermsFactory
from tests.factories import ClientFactory
from tests.tasks.factories import TaskFactory

RETAINER = PricingModel.RETAINER


# -- the rule, month by month -----------------------------------------------------------------


def terms_by_scan(versions, month: dt.date, zone: str):
    """The terms a month is bought under, read off every version in turn (newest first)."""
    begins = local_midnight(month, zone)
    ends = local_midnight(next_month(month), zone)
    newest_first = sorted(versions, key=lambda v: v.effective_from, reverse=True)
    for version in newest_first:
        if version.effective_from <= begins:
            if version.pricing_model == RETAINER:
                return version
            break
    during = [
        v for v in newest_first if begins < v.effective_from < ends and v.pricing_model == RETAINER
    ]
    return min(during, key=lambda v: v.effective_from) if during else None


def _as_month(terms, used: int, bought: int) -> RetainerMonth:
    return RetainerMonth(
        terms.included_minutes,
        terms.rollover_cap_minutes,
        used,
        terms.banked_hours_expire_after_months,
        bought,
    )


def by_hand(versions, zone: str, used: dict, bought: dict, month: dt.date):
    """(terms, bank, rollover, expiring) of a month from the line's whole history, every
    earlier month in turn; None where the line was no retainer."""
    terms = terms_by_scan(versions, month, zone)
    if terms is None:
        return None
    first = month_start(min(v.effective_from for v in versions), zone)
    earlier = months_between(first, month)
    history = []
    for each in earlier:
        each_terms = terms_by_scan(versions, each, zone)
        history.append(
            None
            if each_terms is None
            else _as_month(each_terms, used.get(each, 0), bought.get(each, 0))
        )
    lots = bank_lots(history, _as_month(terms, 0, bought.get(month, 0)))
    bank = sum(minutes for _, minutes in lots)
    dated = [*earlier, month]
    soon, to_draw = [], used.get(month, 0)
    after = terms.banked_hours_expire_after_months
    for index, minutes in lots if after is not None else []:
        take = min(minutes, max(to_draw, 0))
        to_draw -= take
        if minutes - take:
            last = dated[index]
            for _ in range(after):
                last = next_month(last)
            soon.append({"minutes": minutes - take, "month": last})
    return terms, bank, bank - terms.included_minutes - bought.get(month, 0), soon


ZONES = ["UTC", "Europe/Berlin", "America/Santiago", "Australia/Sydney", "Pacific/Kiritimati"]


def add_months(month: dt.date, count: int) -> dt.date:
    for _ in range(count):
        month = next_month(month)
    return month


def random_line(rng: random.Random):
    """Versions (some at a month's very first moment, some a second either side, some
    mid-month; some not retainers), and months of use and bought hours."""
    zone = rng.choice(ZONES)
    base = dt.date(2025, rng.randint(1, 12), 1)
    versions, moments = [], set()
    for _ in range(rng.randint(1, 4)):
        month = add_months(base, rng.randint(0, 18))
        start = local_midnight(month, zone).astimezone(dt.UTC)
        moment = rng.choice(
            [
                start,
                start - dt.timedelta(seconds=1),
                start + dt.timedelta(seconds=1),
                dt.datetime.combine(month.replace(day=rng.randint(1, 28)), dt.time(9), dt.UTC),
            ]
        )
        if moment in moments:
            continue
        moments.add(moment)
        versions.append(
            SimpleNamespace(
                effective_from=moment,
                pricing_model=rng.choice([RETAINER, RETAINER, PricingModel.HOURLY]),
                included_minutes=rng.choice([0, 600, 1200]),
                rollover_cap_minutes=rng.choice([0, 150, 480, 6000]),
                banked_hours_expire_after_months=rng.choice([None, None, 0, 1, 2]),
            )
        )
    months = [add_months(base, k) for k in range(24)]
    used = {m: rng.choice([0, 60, 300, 700, 1500]) for m in months if rng.random() < 0.8}
    bought = {m: rng.choice([60, 300]) for m in months if rng.random() < 0.15}
    return versions, zone, used, bought, months


def test_one_walk_gives_every_months_bank_as_the_whole_history_does():
    rng = random.Random(20261204)
    compared = 0
    for _ in range(250):
        versions, zone, used, bought, months = random_line(rng)
        shown = sorted(rng.sample(months, rng.randint(1, 12)))
        found = line_banks(versions, zone, used, bought, shown)
        for month in months:
            assert month_terms(versions, month, zone) is terms_by_scan(versions, month, zone)
        for month in shown:
            expected = by_hand(versions, zone, used, bought, month)
            if expected is None:
                assert found[month] is None
                continue
            bank = found[month]
            assert (bank.terms, bank.bank, bank.rollover, bank.expiring) == expected
            compared += 1
    assert compared > 500


# -- the dashboard and the usage report ----------------------------------------------------------

NOW = dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC)
THIS_MONTH = dt.date(2026, 6, 1)
SHOWN = months_between(dt.date(2025, 7, 1), dt.date(2026, 7, 1))  # the last twelve months

TERMS = {
    "pricing_model": RETAINER,
    "hourly_rate": None,
    "minimum_minutes": None,
    "retainer_fee": 100000,
    "included_minutes": 600,
    "rollover_cap_minutes": 240,
    "overage_rate": 6000,
    "rounding_increment_minutes": 15,
}


def minutes_used(month: dt.date) -> int:
    """Most months use half the hours; March and September use more than the bank."""
    return 900 if month.month in (3, 9) else 300


def retainer_line(agency, months_of_history: int, *, zone: str = "UTC", price_change=None):
    first = THIS_MONTH
    for _ in range(months_of_history - 1):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    client = ClientFactory(agency=agency, time_zone=zone)
    contract = ContractFactory(agency=agency, client=client, status="active", starts_on=first)
    line = LineFactory(agency=agency, contract=contract, terms=None)
    terms = TermsFactory(
        agency=agency, line=line, effective_from=local_midnight(first, zone), **TERMS
    )
    if price_change is not None:  # mid-month: 8 h, a 2 h cap, hours lasting two months
        terms = TermsFactory(
            agency=agency,
            line=line,
            effective_from=local_midnight(price_change, zone) + dt.timedelta(days=9),
            **{
                **TERMS,
                "included_minutes": 480,
                "rollover_cap_minutes": 120,
                "banked_hours_expire_after_months": 2,
            },
        )
    for month in months_between(first, next_month(THIS_MONTH)):
        done = local_midnight(month, zone) + dt.timedelta(days=3)
        task = TaskFactory(agency=agency, contract_line=line, status="completed", completed_at=done)
        Charge.objects.create(
            agency=agency,
            kind=ChargeKind.TASK,
            task=task,
            task_completed_at=done,
            contract_line=line,
            terms=terms,
            client=client,
            period_start=month,
            minutes_from_bank=minutes_used(month),
            amount=0,
            currency=contract.currency,
            description="work",
            idempotency_key=f"walk-{line.pk}-{month}",
        )
    return line


@pytest.fixture
def lines(agency):
    with agency_scope(agency):
        short = retainer_line(agency, 1)
        year = retainer_line(agency, 12, zone="Europe/Berlin")
        long = retainer_line(agency, 48, zone="America/Santiago", price_change=dt.date(2024, 5, 1))
        TopUp.objects.create(
            agency=agency,
            client=long.contract.client,
            contract_line=long,
            terms=long.terms.order_by("-effective_from").first(),
            period_start=dt.date(2025, 11, 1),
            minutes=300,
            hourly_price=5000,
            amount=25000,
            currency="USD",
            token="walk",
        )
    return {"short": short, "year": year, "long": long}


@pytest.fixture
def months_walked(monkeypatch):
    """How many retainer months the bank rules carried into, per call."""
    count = [0]
    carry = retainer._carry_into

    def counting(*args):
        count[0] += 1
        return carry(*args)

    monkeypatch.setattr(retainer, "_carry_into", counting)

    def run(call):
        count[0] = 0
        call()
        return count[0]

    return run


def loaded(agency, line):
    (found,) = [each for each in usage_lines(agency=agency) if each.pk == line.pk]
    return found


@pytest.mark.django_db
def test_months_walked_do_not_grow_with_the_lines_history(
    agency, lines, months_walked, count_queries
):
    with agency_scope(agency):
        walked, queries = {}, {}
        for name, line in lines.items():
            line = loaded(agency, line)

            def this_month(line=line):
                return retainer_rows(agency=agency, lines=[line], months=[THIS_MONTH])

            def twelve_months(line=line):
                return retainer_rows(agency=agency, lines=[line], months=SHOWN)

            walked[name] = (months_walked(this_month), months_walked(twelve_months))
            queries[name] = (count_queries(this_month), count_queries(twelve_months))
    # One month of history or four years: this month and the one before it; the twelve
    # months shown and, for the lines older than them, the one before.
    assert walked == {"short": (1, 1), "year": (2, 12), "long": (2, 13)}
    assert len(set(queries.values())) == 1


@pytest.mark.django_db
def test_the_dashboard_walks_each_line_a_bounded_number_of_months(
    agency, lines, months_walked, count_queries
):
    with agency_scope(agency):
        assert months_walked(lambda: staff_dashboard(agency=agency, now=NOW)) == 1 + 2 + 2
        several = count_queries(lambda: staff_dashboard(agency=agency, now=NOW))
        for _ in range(3):
            retainer_line(agency, 30)
        assert count_queries(lambda: staff_dashboard(agency=agency, now=NOW)) == several
        assert months_walked(lambda: staff_dashboard(agency=agency, now=NOW)) == 5 + 3 * 2


@pytest.mark.django_db
def test_the_reports_figures_are_the_month_by_month_rules(agency, lines):
    with agency_scope(agency):
        all_lines = usage_lines(agency=agency)
        rows = retainer_rows(agency=agency, lines=all_lines, months=SHOWN)
        dashboard = staff_dashboard(agency=agency, now=NOW)["retainers"]
        charges = Charge.objects.filter(agency=agency, kind=ChargeKind.TASK)
        used: dict[int, dict] = {}
        for charge in charges:
            used.setdefault(charge.contract_line_id, {})[charge.period_start] = (
                charge.minutes_from_bank
            )
        bought = {
            lines["long"].pk: {dt.date(2025, 11, 1): 300},
        }
        by_line = {line.pk: line for line in all_lines}
        expected = []
        for row in rows:
            line = by_line[row["line_id"]]
            _terms, bank, rollover, soon = by_hand(
                list(line.terms.all()),
                line.contract.client.time_zone,
                used[line.pk],
                bought.get(line.pk, {}),
                row["period_start"],
            )
            expected.append((row["line_id"], row["period_start"], bank, rollover, soon))
    assert [
        (row["line_id"], row["period_start"], row["bank"], row["rollover"], row["expiring"])
        for row in rows
    ] == expected
    assert len(rows) == 1 + 12 + 12
    # The long line's hours expire since its price change; the top-up joined November.
    november = next(
        row
        for row in rows
        if row["line_id"] == lines["long"].pk and row["period_start"] == dt.date(2025, 11, 1)
    )
    assert november["topped_up"] == 300 and november["expiring"]
    this_month = {row["line_id"]: row for row in rows if row["period_start"] == THIS_MONTH}
    for row in dashboard:
        assert row == this_month[row["line_id"]]
