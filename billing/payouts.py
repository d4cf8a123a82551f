"""What assistants have earned and what they were paid: their logged time, priced at their
pay rate, per month, and the payouts that record a month paid.

The rules, as the pages and statements state them:
- Time counts when it was logged: a finished time entry belongs to the calendar month, in
  the agency's time zone, in which it started (one calendar for the agency's payouts and
  reports). Running timers count once stopped.
- Every logged second is paid, billable or not: what the client is charged (flat fee,
  rounding, a write-off) does not change what the contractor is owed. Time is never rounded
  for pay: a contract's increments are the client's terms, not the contractor's.
- A month is priced per client: the seconds worked x the hourly rate, rounded half-up to
  the minor unit once for each client, and the month's amount is the sum of those (so a
  statement's rows add up to its total). The minutes shown are the entries' whole minutes,
  the figure the reports show.
- A month marked paid keeps the rate and amounts of that moment (assistants.Payout); a
  month not yet paid is priced at the assistant's current rate and currency.
"""

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.db.models import DateField, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from assistants.models import AssistantProfile, Payout
from clients.models import Client
from core.audit import audit_record
from core.errors import ApplicationError, text_within, unique_or_error
from core.periods import month_end
from core.roles import Role
from core.times import local_midnight, local_today
from tasks.models import TimeEntry, entry_seconds

# A payout's note is what its column holds; a longer one is refused, never cut.
PAYOUT_NOTE_MAX_CHARS = Payout._meta.get_field("note").max_length


def as_date(value) -> dt.date:
    """A truncated month from the database as a date (backends return dates or
    datetimes; a datetime here is already on the agency's wall clock)."""
    return value.date() if isinstance(value, dt.datetime) else value


@dataclass(slots=True)
class PayLine:
    """One assistant's time for one client in one month, and what it pays."""

    assistant_id: int
    client_id: int
    month: dt.date
    minutes: int
    rate: int
    currency: str
    amount: int
    paid: bool
    seconds: int = 0


def pay_for(rate: int, minutes: int) -> int:
    """contracts.pricing.amount_for_minutes (rate x minutes / 60, half-up) in integers: the
    same figure, without a Decimal per line of a year's worth of lines."""
    return pay_for_seconds(rate, minutes * 60)


def pay_for_seconds(rate: int, seconds: int) -> int:
    """rate (minor units per hour) x seconds / 3600, rounded half-up to a minor unit."""
    return (2 * rate * seconds + 3600) // 7200


def _entries(agency, *, begins: dt.datetime, ends: dt.datetime):
    return TimeEntry.objects.filter(
        agency=agency, ended_at__isnull=False, started_at__gte=begins, started_at__lt=ends
    )


def pay_lines(
    *,
    agency,
    begins: dt.datetime,
    ends: dt.datetime,
    assistant_id: int | None = None,
    client_id: int | None = None,
) -> list[PayLine]:
    """Logged time between two moments, per assistant, client and month, priced. Three
    queries however many entries: the time grouped in SQL, the profiles, the payouts."""
    zone = ZoneInfo(agency.time_zone)
    entries = _entries(agency, begins=begins, ends=ends)
    if assistant_id:
        entries = entries.filter(assistant_id=assistant_id)
    if client_id:
        entries = entries.filter(task__client_id=client_id)
    groups = list(
        entries.annotate(month=TruncMonth("started_at", tzinfo=zone, output_field=DateField()))
        .values("assistant_id", "task__client_id", "month")
        # the seconds first: after it, "minutes" names the sum, not the column
        .annotate(worked_seconds=Sum(entry_seconds()), minutes=Sum("minutes"))
        .order_by()
    )
    if not groups:
        return []
    people = {g["assistant_id"] for g in groups}
    rates = {
        p.membership_id: (p.pay_rate, p.pay_currency)
        for p in AssistantProfile.objects.filter(agency=agency, membership_id__in=people)
    }
    months = {as_date(g["month"]) for g in groups}
    paid = {
        (p.assistant_id, p.period_start): p
        for p in Payout.objects.filter(
            agency=agency, assistant_id__in=people, period_start__in=months
        )
    }
    lines = []
    for group in groups:
        month = as_date(group["month"])
        payout = paid.get((group["assistant_id"], month))
        if payout is not None:
            rate, currency = payout.rate, payout.currency
        else:
            rate, currency = rates.get(group["assistant_id"], (0, agency.default_currency))
        lines.append(
            PayLine(
                assistant_id=group["assistant_id"],
                client_id=group["task__client_id"],
                month=month,
                minutes=group["minutes"] or 0,
                rate=rate,
                currency=currency,
                amount=pay_for_seconds(rate, group["worked_seconds"] or 0),
                paid=payout is not None,
                seconds=group["worked_seconds"] or 0,
            )
        )
    return lines


@dataclass
class MonthEarnings:
    """One assistant's month: totals, the per-client lines, and its payout if paid."""

    month: dt.date
    minutes: int = 0
    amounts: dict[str, int] = field(default_factory=dict)  # currency -> minor units
    clients: list[dict] = field(default_factory=list)
    payout: Payout | None = None

    @property
    def paid(self) -> bool:
        return self.payout is not None

    @property
    def unpaid_minutes(self) -> int:
        """Time logged into the month after it was paid out (e.g. a late manual entry)."""
        return max(self.minutes - self.payout.minutes, 0) if self.payout else self.minutes

    @property
    def amount_rows(self) -> list[tuple[str, int]]:
        return sorted(self.amounts.items())


def months_of(
    *, agency, membership, months: list[dt.date], client_names: dict | None = None
) -> list[MonthEarnings]:
    """One assistant's earnings for each of the given months (first days, oldest first),
    newest first. A fixed number of queries whatever the months hold."""
    if not months:
        return []
    begins = local_midnight(months[0], agency.time_zone)
    ends = local_midnight(month_end(months[-1]) + dt.timedelta(days=1), agency.time_zone)
    lines = pay_lines(agency=agency, begins=begins, ends=ends, assistant_id=membership.pk)
    payouts = {
        p.period_start: p
        for p in Payout.objects.filter(
            agency=agency, assistant=membership, period_start__in=months
        ).select_related("paid_by")
    }
    if client_names is None:
        ids = {line.client_id for line in lines}
        client_names = dict(
            Client.objects.filter(agency=agency, pk__in=ids).values_list("pk", "name")
        )
    result = {month: MonthEarnings(month=month, payout=payouts.get(month)) for month in months}
    for line in lines:
        earned = result[line.month]
        earned.minutes += line.minutes
        earned.amounts[line.currency] = earned.amounts.get(line.currency, 0) + line.amount
        earned.clients.append(
            {
                "client_id": line.client_id,
                "client": client_names.get(line.client_id, ""),
                "minutes": line.minutes,
                "rate": line.rate,
                "currency": line.currency,
                "amount": line.amount,
            }
        )
    for earned in result.values():
        earned.clients.sort(key=lambda row: row["client"].lower())
    return [result[month] for month in reversed(months)]


@dataclass
class AssistantMonth:
    """A row of the staff overview: one assistant's month."""

    profile: AssistantProfile
    minutes: int = 0
    amounts: dict[str, int] = field(default_factory=dict)
    payouts: list[Payout] = field(default_factory=list)

    @property
    def paid(self) -> bool:
        return bool(self.payouts)

    @property
    def amount_rows(self) -> list[tuple[str, int]]:
        return sorted(self.amounts.items())


def payout_record(*, agency, actor, membership, month, note: str = "") -> list:
    """Mark an assistant's month paid out, snapshotting its minutes, rate and amount.

    Only a month that has ended (agency's calendar) with time logged can be paid, and
    only once: the database holds one payout per assistant, month and currency, so a
    double click or two admins at once record it once. Later changes of the pay rate
    leave the snapshot alone. Returns the payouts made (one per pay currency).
    """
    if membership.agency_id != agency.pk or membership.role != Role.ASSISTANT:
        raise ApplicationError("Unknown assistant.", code="payout_assistant_invalid")
    note = text_within(note, limit=PAYOUT_NOTE_MAX_CHARS, field="note", label="A note")
    month = month.replace(day=1)
    if month_end(month) >= local_today(agency.time_zone):
        raise ApplicationError(
            "A month can be paid out once it has ended.",
            code="payout_month_not_ended",
            extra={"field": "month"},
        )
    begins = local_midnight(month, agency.time_zone)
    ends = local_midnight(month_end(month) + dt.timedelta(days=1), agency.time_zone)
    lines = pay_lines(agency=agency, begins=begins, ends=ends, assistant_id=membership.pk)
    if any(line.paid for line in lines):
        raise ApplicationError(f"{month:%B %Y} is already paid out.", code="payout_already_paid")
    if not lines:
        raise ApplicationError(
            f"No time was logged in {month:%B %Y}: there is nothing to pay.",
            code="payout_nothing_to_pay",
        )
    by_currency: dict[str, dict] = {}
    for line in lines:
        total = by_currency.setdefault(line.currency, {"minutes": 0, "amount": 0, "rate": 0})
        total["minutes"] += line.minutes
        total["amount"] += line.amount
        total["rate"] = line.rate
    now = timezone.now()
    with unique_or_error(
        f"{month:%B %Y} is already paid out.", code="payout_already_paid", field="month"
    ):
        payouts = [
            Payout.objects.create(
                agency=agency,
                assistant=membership,
                period_start=month,
                currency=currency,
                minutes=total["minutes"],
                rate=total["rate"],
                amount=total["amount"],
                note=note,
                paid_at=now,
                paid_by=actor,
            )
            for currency, total in sorted(by_currency.items())
        ]
        for payout in payouts:
            audit_record(
                agency=agency,
                actor=actor,
                action="payout.recorded",
                target=payout,
                assistant=membership.pk,
                month=month.isoformat(),
                minutes=payout.minutes,
                rate=payout.rate,
                amount=payout.amount,
                currency=payout.currency,
            )
    return payouts
