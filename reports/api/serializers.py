"""What the reports API answers: the figures the pages show, from the same selectors, in
integer minor units (with the currency beside them) and minutes. Output only: nothing is
written through these."""

from rest_framework import serializers

from core.api.pagination import KeysetPagination
from reports.tables import INT, MINUTES, MONEY, PERCENT, TEXT

ID = {"min_value": 1, "max_value": 2**63 - 1}


def percent_field(**kwargs):
    """A percentage with one decimal, as a number (null where there is nothing to divide)."""
    return serializers.DecimalField(
        max_digits=None, decimal_places=1, coerce_to_string=False, allow_null=True, **kwargs
    )


# -- reports ------------------------------------------------------------------------------


class ReportQuerySerializer(serializers.Serializer):
    """A report's range, days on the agency's calendar, both included (at most three years,
    from 2000 to 2099; none is this month), and its filters."""

    start = serializers.DateField(required=False, help_text="The first day of the range.")
    end = serializers.DateField(required=False, help_text="The last day of the range.")
    client = serializers.IntegerField(required=False, help_text="Only this client.", **ID)
    service = serializers.IntegerField(required=False, help_text="Only this service.", **ID)
    assistant = serializers.IntegerField(
        required=False, help_text="Only this assistant (a membership id).", **ID
    )


class ColumnSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The rows' key for this column.")
    label = serializers.CharField()
    kind = serializers.ChoiceField(
        choices=[TEXT, INT, MINUTES, MONEY, PERCENT],
        help_text="money: integer minor units of the row's `currency_key`; minutes: minutes; "
        "percent: a number with one decimal.",
    )
    currency_key = serializers.CharField(help_text="For money: the row's key of its currency.")


class TableSerializer(serializers.Serializer):
    """One of the report's tables, as the page shows it and its CSV file holds it."""

    key = serializers.CharField(help_text="Also the CSV's `table` parameter on the page.")
    title = serializers.CharField()
    note = serializers.CharField(allow_blank=True)
    columns = ColumnSerializer(many=True)
    rows = serializers.ListField(child=serializers.DictField())
    totals = serializers.ListField(
        child=serializers.DictField(), help_text="One row per currency, never across them."
    )


class PeriodSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    time_zone = serializers.CharField(source="zone", help_text="The agency's calendar.")


class ReportFiltersSerializer(serializers.Serializer):
    client = serializers.IntegerField(allow_null=True)
    service = serializers.IntegerField(allow_null=True)
    assistant = serializers.IntegerField(allow_null=True)


class ReportSerializer(serializers.Serializer):
    report = serializers.CharField()
    title = serializers.CharField()
    explains = serializers.CharField(help_text="What counts, as the page says it.")
    period = PeriodSerializer()
    filters = ReportFiltersSerializer()
    tables = TableSerializer(many=True)


class ReportIndexSerializer(serializers.Serializer):
    report = serializers.CharField()
    title = serializers.CharField()
    summary = serializers.CharField()
    filters = serializers.ListField(child=serializers.CharField())
    url = serializers.CharField()


# -- the staff dashboard --------------------------------------------------------------------


class CurrencyRevenueSerializer(serializers.Serializer):
    currency = serializers.CharField()
    billed = serializers.IntegerField()
    unbilled = serializers.IntegerField()
    credited = serializers.IntegerField()
    revenue = serializers.IntegerField(help_text="Before tax, net of credit notes.")
    tax = serializers.IntegerField(help_text="The tax on it, net of what credits took back.")
    gross = serializers.IntegerField(help_text="Revenue with its tax.")
    written_off = serializers.IntegerField()
    voided = serializers.IntegerField()
    task_charges = serializers.IntegerField()


class ReceivablesSerializer(serializers.Serializer):
    """Open invoices in one currency and what is outstanding by days past due."""

    currency = serializers.CharField()
    count = serializers.IntegerField()
    overdue = serializers.IntegerField()
    current = serializers.IntegerField()
    days_1_30 = serializers.IntegerField()
    days_31_60 = serializers.IntegerField()
    days_60_plus = serializers.IntegerField()
    total = serializers.IntegerField()


class OnTimeSerializer(serializers.Serializer):
    completed = serializers.IntegerField()
    on_time = serializers.IntegerField()
    rate = percent_field()


class WorkSerializer(serializers.Serializer):
    open = serializers.IntegerField()
    at_risk = serializers.IntegerField()


class ExpiringHoursSerializer(serializers.Serializer):
    minutes = serializers.IntegerField()
    month = serializers.DateField(help_text="The last month (client's) the hours may be used.")


class RetainerMonthSerializer(serializers.Serializer):
    line_id = serializers.IntegerField()
    client_id = serializers.IntegerField()
    client = serializers.CharField()
    service = serializers.CharField()
    period_start = serializers.DateField(help_text="The client's month.")
    included = serializers.IntegerField()
    rollover = serializers.IntegerField()
    bank = serializers.IntegerField()
    used = serializers.IntegerField()
    left = serializers.IntegerField()
    used_share = percent_field()
    overage = serializers.IntegerField()
    topped_up = serializers.IntegerField(help_text="Minutes the client bought for the month.")
    expiring = ExpiringHoursSerializer(many=True, help_text="What is left, by when it expires.")
    expires = serializers.CharField(help_text="The same in words; empty: hours never expire.")
    fee = serializers.IntegerField(allow_null=True)
    currency = serializers.CharField()


class MonthRevenueSerializer(serializers.Serializer):
    month = serializers.DateField()
    billed = serializers.IntegerField()
    unbilled = serializers.IntegerField()


class RevenueSeriesSerializer(serializers.Serializer):
    currency = serializers.CharField()
    months = MonthRevenueSerializer(many=True)


class OnTimeMonthSerializer(serializers.Serializer):
    month = serializers.DateField()
    completed = serializers.IntegerField()
    on_time = serializers.IntegerField()
    rate = percent_field()


class UtilisationSerializer(serializers.Serializer):
    name = serializers.CharField()
    logged = serializers.IntegerField(help_text="Minutes logged this month.")
    available = serializers.IntegerField(help_text="Minutes of working hours so far.")
    share = percent_field()


class DashboardSerializer(serializers.Serializer):
    """The staff dashboard's figures for this month (the agency's calendar)."""

    period = PeriodSerializer()
    revenue = CurrencyRevenueSerializer(many=True)
    receivables = ReceivablesSerializer(many=True)
    on_time = OnTimeSerializer()
    work = WorkSerializer()
    retainers = RetainerMonthSerializer(many=True, help_text="The most used, as on the page.")
    retainer_count = serializers.IntegerField(help_text="Retainers in all this month.")
    revenue_by_month = RevenueSeriesSerializer(many=True)
    on_time_by_month = OnTimeMonthSerializer(many=True)
    utilisation = UtilisationSerializer(many=True, help_text="The busiest, as on the page.")
    assistant_count = serializers.IntegerField()


# -- contractor earnings ----------------------------------------------------------------------


class AmountSerializer(serializers.Serializer):
    currency = serializers.CharField()
    amount = serializers.IntegerField(help_text="Minor units of `currency`.")


class EarningsClientSerializer(serializers.Serializer):
    client_id = serializers.IntegerField()
    client = serializers.CharField()
    minutes = serializers.IntegerField()
    rate = serializers.IntegerField(help_text="Per hour, minor units of `currency`.")
    currency = serializers.CharField()
    amount = serializers.IntegerField()


class EarningsMonthSerializer(serializers.Serializer):
    """One month's time and pay: a month paid out keeps the rate it was paid at."""

    month = serializers.DateField(help_text="Its first day, on the agency's calendar.")
    minutes = serializers.IntegerField()
    amounts = AmountSerializer(many=True)
    paid = serializers.BooleanField()
    paid_at = serializers.DateTimeField(allow_null=True)
    unpaid_minutes = serializers.IntegerField(help_text="Logged since it was paid out.")
    clients = EarningsClientSerializer(many=True)


class EarningsPersonSerializer(serializers.Serializer):
    membership = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.EmailField()
    pay_rate = serializers.IntegerField(allow_null=True)
    pay_currency = serializers.CharField(allow_null=True)


class EarningsSerializer(serializers.Serializer):
    assistant = EarningsPersonSerializer()
    time_zone = serializers.CharField(help_text="The agency's calendar.")
    months = EarningsMonthSerializer(many=True, help_text="The last twelve, newest first.")
    selected = EarningsMonthSerializer(
        help_text="The month asked for, else the latest month with time (this month if none)."
    )


class EarningsQuerySerializer(serializers.Serializer):
    month = serializers.RegexField(
        r"^\d{4}-\d{2}$", required=False, help_text="A month, e.g. 2026-03 (2000 to 2099)."
    )


class EarningsOverviewQuerySerializer(EarningsQuerySerializer):
    """The month, and the page: the overview lists the agency's assistants by name, a page
    at a time (core.api.pagination.KeysetPagination)."""

    cursor = serializers.CharField(
        required=False,
        max_length=1000,
        help_text="The page's position, from `next` or `previous`; none: the first page.",
    )
    page_size = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=KeysetPagination.max_page_size,
        help_text=f"Assistants a page (default {KeysetPagination.page_size}).",
    )


class OverviewRowSerializer(serializers.Serializer):
    assistant = EarningsPersonSerializer()
    minutes = serializers.IntegerField()
    amounts = AmountSerializer(many=True)
    paid = serializers.BooleanField()
    paid_at = serializers.DateTimeField(allow_null=True)


class EarningsOverviewSerializer(serializers.Serializer):
    month = serializers.DateField()
    payable = serializers.BooleanField(help_text="The month has ended, so it may be paid out.")
    next = serializers.URLField(
        allow_null=True, help_text="The next page of assistants; null on the last page."
    )
    previous = serializers.URLField(
        allow_null=True, help_text="The page before; null on the first page."
    )
    assistants = OverviewRowSerializer(
        many=True, help_text="This page's assistants, by name (the order of the page)."
    )
