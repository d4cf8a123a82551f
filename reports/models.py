"""Each closed month's report figures, kept so that a year's report reads twelve small
groups of rows instead of every charge and task of the year (reports.rollups).

A month's rows are counted from the raw rows by the same queries the live reports run,
when the month is first read after it closed or after a write marked it changed
(tasks.report_months). Ids are plain numbers: the rows are totals, not records, and a
month is counted again from scratch whenever it changes.
"""

from django.db import models

from core.models import TenantModel


class ReportMonth(TenantModel):
    """One agency month (its calendar) whose figures are kept. `version` goes up with every
    write that changes the month; the figures are current while `counted_version` equals
    it (the version the last count saw, so a write during a count is counted next time)."""

    month = models.DateField()
    version = models.BigIntegerField(default=1)
    counted_version = models.BigIntegerField(default=0)
    counted_at = models.DateTimeField(null=True, blank=True)
    # The agency's zone when counted: months on another calendar are counted again.
    time_zone = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "month"], name="report_month_unique")
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}"


class RevenueMonth(TenantModel):
    """A month's charges and credits per client, service and currency (reports.selectors'
    MONEY_SUMS; credits under the invoice's client and the charge's service)."""

    month = models.DateField()
    client_id = models.BigIntegerField()
    service_id = models.BigIntegerField(null=True)
    currency = models.CharField(max_length=3)
    invoiced = models.BigIntegerField(default=0)
    voided = models.BigIntegerField(default=0)
    unbilled = models.BigIntegerField(default=0)
    written_off = models.BigIntegerField(default=0)
    task_charges = models.BigIntegerField(default=0)
    # Every charge of the group (fees too); 0 on a row of credits alone.
    charges = models.BigIntegerField(default=0)
    credited = models.BigIntegerField(default=0)
    # reports.raw.TAX_SUMS: the tax the month's revenue carries, the inclusive tax inside
    # its amounts; and the tax its credit notes took back.
    tax = models.BigIntegerField(default=0)
    included = models.BigIntegerField(default=0)
    credited_tax = models.BigIntegerField(default=0)
    # Minutes the month's task charges bill, not written off (the hours report).
    billable = models.BigIntegerField(default=0)
    billable_charges = models.BigIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["agency", "month", "client_id"])]


class OnTimeMonth(TenantModel):
    """A month's completed tasks per service and assignee, and how many were on time."""

    month = models.DateField()
    service_id = models.BigIntegerField(null=True)
    assignee_id = models.BigIntegerField(null=True)
    completed = models.BigIntegerField(default=0)
    on_time = models.BigIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["agency", "month"])]


class TimeMonth(TenantModel):
    """A month's finished time per assistant and client: whole minutes (the reports'
    figure) and exact seconds (what pay is priced on, billing.payouts)."""

    month = models.DateField()
    assistant_id = models.BigIntegerField()
    client_id = models.BigIntegerField()
    minutes = models.BigIntegerField(default=0)
    seconds = models.BigIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["agency", "month", "assistant_id"])]


class ShareMonth(TenantModel):
    """A month's task charges shared out by who logged each task's time (the assignee's
    when none was logged), per assistant, client and currency: billable minutes (before
    rounding, so that months add up to the range's figure) and the charged amount (each
    share rounded as reports.selectors rounds it)."""

    month = models.DateField()
    assistant_id = models.BigIntegerField(null=True)
    client_id = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    billable = models.FloatField(default=0)
    charged = models.BigIntegerField(default=0)
    # Charges off void invoices in `charged`: 0 when there is none.
    charged_count = models.BigIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["agency", "month"])]


class OwedMonth(TenantModel):
    """A month's time per assistant priced as billing.payouts prices it (per client, rate x
    seconds / 3600 half-up, then added up), at the rate and currency in force when counted.
    A reader compares them with the month's rate now (a payout's, else the assistant's
    current one) and reprices from TimeMonth only where they differ, so a later raise or
    payout never needs the month counted again."""

    month = models.DateField()
    assistant_id = models.BigIntegerField()
    rate = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["agency", "month"])]


class OwedClientMonth(TenantModel):
    """OwedMonth's amounts per client and currency instead of per assistant, with how many
    TimeMonth rows each holds (a group stays on the report while it has one, even at 0)."""

    month = models.DateField()
    client_id = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField(default=0)
    times = models.BigIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["agency", "month"])]


class ShareTotalMonth(TenantModel):
    """ShareMonth added up over clients: per assistant and currency, what a report with no
    client filter reads (a few rows per assistant instead of one per client)."""

    month = models.DateField()
    assistant_id = models.BigIntegerField(null=True)
    currency = models.CharField(max_length=3)
    billable = models.FloatField(default=0)
    charged = models.BigIntegerField(default=0)
    charged_count = models.BigIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["agency", "month"])]
