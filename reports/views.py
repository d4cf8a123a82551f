import csv
import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import BadRequest
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.views import View
from django.views.generic import TemplateView

from accounts.access import AgencyViewMixin, StaffViewMixin
from accounts.models import Membership
from assistants.models import AssistantProfile
from billing.payouts import payout_record
from clients.selectors import (
    client_detail,
)
from core.errors import ApplicationError
from core.money import format_money, to_major
from core.pagination import KeysetPaginator
from core.periods import last_months, this_month
from core.rich_text import render_markdown
from core.roles import Role
from reports import selectors
from reports.account import client_account
from reports.client_home import client_home
from reports.dashboard import staff_dashboard
from reports.earnings import (
    EARNINGS_MONTHS,
    OVERVIEW_ORDER,
    OVERVIEW_PER_PAGE,
    earnings_of,
    overview_profiles,
    overview_rows,
)
from reports.forms import ReportFilterForm
from reports.tables import csv_response, download_name, range_label, safe_text
from tasks.selectors import request_counts


@dataclass(frozen=True)
class Report:
    slug: str
    title: str
    summary: str
    build: Callable
    filters: tuple[str, ...]
    explains: str

    @property
    def url_name(self) -> str:
        return f"report_{self.slug.replace('-', '_')}"


REPORTS = {
    report.slug: report
    for report in [
        Report(
            "revenue",
            "Revenue",
            "Billed and unbilled charges by client and by service.",
            selectors.revenue_tables,
            ("client", "service"),
            "Revenue is what clients were charged and not forgiven: billed charges are on "
            "an invoice that is not void, unbilled ones wait for their invoice (or for the "
            "client's approval past a budget cap). Every charge counts (task work, late "
            "fees, top-up hours) on the day it was made; a retainer fee in the month it "
            "pays for. Written-off charges and "
            "charges on voided invoices are never revenue. Credit notes come off revenue "
            "on the day they were issued, under their line's service (or as credits off "
            "a whole invoice).",
        ),
        Report(
            "hours",
            "Hours",
            "Time logged and time billed, by assistant and by client.",
            selectors.hours_tables,
            ("client", "assistant"),
            "Logged: finished time entries, on the day they started. Billable: the hours "
            "the range's task charges bill (after rounding and minimums; retainer hours "
            "from the bank plus overage; flat-fee work bills no hours), not written off.",
        ),
        Report(
            "on-time",
            "On-time rate",
            "Tasks completed by their due time, by service and by assistant.",
            selectors.on_time_tables,
            ("client", "service", "assistant"),
            "Tasks completed in the range; on time means completed no later than the due "
            "time. The assistant is the one the task was assigned to when completed.",
        ),
        Report(
            "usage",
            "Contract usage",
            "Retainer hours and monthly budget caps, month by month.",
            selectors.usage_tables,
            ("client", "service"),
            "One row per contract line and client month the range touches. Retainers use "
            "billing's own bank rules; caps count what was charged in the client's month.",
        ),
        Report(
            "margin",
            "Margin",
            "What clients were charged against what assistants are owed.",
            selectors.margin_tables,
            ("client", "assistant"),
            "Owed: time logged in the range at each assistant's pay rate (the rate a paid "
            "month was paid at; the current rate otherwise). Each currency on its own row.",
        ),
    ]
}


class ReportIndexView(StaffViewMixin, TemplateView):
    template_name = "reports/index.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            reports=REPORTS.values(), period=this_month(self.agency.time_zone), **kwargs
        )


class ReportView(StaffViewMixin, TemplateView):
    """One report: the range and filters form, its tables, and each table as CSV
    (`?format=csv&table=<key>`, same filters). Bad filters are a 400 with the reasons."""

    template_name = "reports/report.html"
    report = ""

    def get(self, request, *args, **kwargs):
        spec = REPORTS[self.report]
        form = ReportFilterForm(request.GET, agency=self.agency, filters=spec.filters)
        wants_csv = request.GET.get("format") == "csv"
        if not form.is_valid():
            if wants_csv:
                errors = "; ".join(e for errs in form.errors.values() for e in errs)
                return HttpResponse(errors, status=400, content_type="text/plain")
            context = self.get_context_data(spec=spec, form=form, tables=[])
            return self.render_to_response(context, status=400)
        period = form.cleaned_data["period"]
        tables = spec.build(agency=self.agency, period=period, **form.filters())
        if wants_csv:
            table = next((t for t in tables if t.key == request.GET.get("table")), tables[0])
            # The file opens on its header row (spreadsheets and imports expect it there);
            # what it holds, for which range and filters, is in its name.
            name = download_name(
                spec.slug,
                table.key,
                range_label(period),
                self.agency.slug,
                *[
                    form.fields[k].label_from_instance(form.cleaned_data[k])
                    for k in ("client", "service", "assistant")
                    if form.cleaned_data.get(k) is not None
                ],
            )
            return csv_response(table, filename=name)
        context = self.get_context_data(
            spec=spec,
            form=form,
            period=period,
            tables=tables,
            generated_at=timezone.now(),
            query=request.GET.urlencode(),
        )
        return self.render_to_response(context)


# Earnings, like contracts, run from 2000 to 2099: a month outside is the caller's mistake.
FIRST_MONTH, LAST_MONTH = dt.date(2000, 1, 1), dt.date(2099, 12, 1)


def _month_from(request, default: dt.date) -> dt.date:
    """The `month` query parameter ("2026-03"); absent is `default`, anything else that is
    not a month is the caller's mistake (a 400)."""
    value = request.GET.get("month") or request.POST.get("month")
    if not value:
        return default
    try:
        month = dt.datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise BadRequest("The month must look like 2026-03.") from None
    if not FIRST_MONTH <= month <= LAST_MONTH:
        raise BadRequest("The month must be from 2000 to 2099.")
    return month


class EarningsMixin:
    """One assistant's earnings: the signed-in assistant's own, or (staff) the one named
    by the URL's pk (a membership of this agency, else 404)."""

    own = True

    @cached_property
    def assistant(self):
        if self.own:
            return self.membership
        membership = (
            Membership.objects.filter(agency=self.agency, role=Role.ASSISTANT, pk=self.kwargs["pk"])
            .select_related("user")
            .first()
        )
        if membership is None:
            raise Http404("No such assistant.")
        return membership

    @cached_property
    def profile(self):
        return AssistantProfile.objects.filter(
            agency=self.agency, membership=self.assistant
        ).first()

    def statement_url(self, month: dt.date) -> str:
        if self.own:
            url = reverse("my_earnings_statement", args=[self.agency.slug])
        else:
            url = reverse(
                "assistant_earnings_statement", args=[self.agency.slug, self.assistant.pk]
            )
        return f"{url}?month={month:%Y-%m}"


class MyEarningsView(EarningsMixin, AgencyViewMixin, TemplateView):
    """An assistant's hours and earnings per month (the agency's calendar) and per client,
    with statements to download."""

    allowed_roles = frozenset({Role.ASSISTANT})
    template_name = "reports/earnings.html"

    def get_context_data(self, **kwargs):
        # Opens on the latest month with time logged (reports.earnings.opening_month).
        earned, selected = earnings_of(
            agency=self.agency, membership=self.assistant, month=_month_from(self.request, None)
        )
        for month in earned:
            month.statement_url = self.statement_url(month.month)
        selected.statement_url = self.statement_url(selected.month)
        return super().get_context_data(
            person=self.assistant,
            profile=self.profile,
            own=self.own,
            months=earned,
            selected=selected,
            viewer_time_zone=self.profile.time_zone if self.own and self.profile else None,
            **kwargs,
        )


class AssistantEarningsView(StaffViewMixin, MyEarningsView):
    allowed_roles = StaffViewMixin.allowed_roles
    own = False


class MyStatementView(EarningsMixin, AgencyViewMixin, TemplateView):
    """One month's statement: a printable page, or a CSV file (`?format=csv`)."""

    allowed_roles = frozenset({Role.ASSISTANT})
    template_name = "reports/earnings_statement.html"

    def get(self, request, *args, **kwargs):
        # Without a month, the statement is of the month the Earnings page opens on.
        _, earned = earnings_of(
            agency=self.agency, membership=self.assistant, month=_month_from(request, None)
        )
        month = earned.month
        if request.GET.get("format") == "csv":
            return self.csv(earned)
        return self.render_to_response(
            self.get_context_data(
                person=self.assistant,
                profile=self.profile,
                earned=earned,
                csv_url=f"{self.statement_url(month)}&format=csv",
                generated_at=timezone.now(),
            )
        )

    def csv(self, earned):
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        # The header row first; who, which month and the agency are in the file's name.
        writer.writerow(["Client", "Hours", "Rate per hour", "Amount", "Currency"])
        for row in earned.clients:
            writer.writerow(
                [
                    safe_text(row["client"]),
                    str((Decimal(row["minutes"]) / 60).quantize(Decimal("0.01"))),
                    str(to_major(row["rate"], row["currency"])),
                    str(to_major(row["amount"], row["currency"])),
                    row["currency"],
                ]
            )
        for currency, amount in earned.amount_rows:
            writer.writerow(
                [
                    "Total",
                    str((Decimal(earned.minutes) / 60).quantize(Decimal("0.01"))),
                    "",
                    str(to_major(amount, currency)),
                    currency,
                ]
            )
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        filename = download_name(
            "earnings",
            f"{earned.month:%Y-%m}",
            self.assistant.user.get_full_name() or f"assistant-{self.assistant.pk}",
            self.agency.slug,
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


class AssistantStatementView(StaffViewMixin, MyStatementView):
    allowed_roles = StaffViewMixin.allowed_roles
    own = False


class EarningsOverviewView(StaffViewMixin, TemplateView):
    """Every assistant's month, to check and mark paid out, 50 assistants a page by name.
    Defaults to last month."""

    template_name = "reports/earnings_overview.html"

    def get_context_data(self, **kwargs):
        months = last_months(self.agency.time_zone, EARNINGS_MONTHS)
        month = _month_from(self.request, months[-2])
        page = KeysetPaginator(
            overview_profiles(agency=self.agency, month=month),
            ordering=OVERVIEW_ORDER,
            per_page=OVERVIEW_PER_PAGE,
        ).page_for(self.request)
        rows = overview_rows(agency=self.agency, month=month, profiles=page.object_list)
        return super().get_context_data(
            month=month,
            months=months[::-1],
            rows=rows,
            page=page,
            payable=month < months[-1],
            **kwargs,
        )


class PayoutCreateView(StaffViewMixin, View):
    """POST: mark one assistant's month paid out (billing.payouts.payout_record)."""

    http_method_names = ["post"]

    def post(self, request, agency_slug, pk):
        membership = get_object_or_404(
            Membership.objects.select_related("user"),
            agency=self.agency,
            role=Role.ASSISTANT,
            pk=pk,
        )
        month = _month_from(request, None)
        if month is None:
            raise BadRequest("Say which month is paid.")
        try:
            payouts = payout_record(
                agency=self.agency,
                actor=request.user,
                membership=membership,
                month=month,
                note=request.POST.get("note", ""),
            )
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            amounts = ", ".join(format_money(p.amount, p.currency) for p in payouts)
            messages.success(
                request,
                f"{membership.user.get_full_name()}: {month:%B %Y} marked paid ({amounts}).",
            )
        url = reverse("earnings_overview", args=[self.agency.slug])
        return redirect(f"{url}?month={month:%Y-%m}")


class DashboardView(AgencyViewMixin, TemplateView):
    """Each role's home in the agency. Staff see the agency's numbers for the month (the
    agency's calendar, reports.dashboard) with charts drawn as inline SVG."""

    templates = {
        Role.OWNER: "dashboards/staff.html",
        Role.ADMIN: "dashboards/staff.html",
        Role.ASSISTANT: "dashboards/assistant.html",
        Role.CLIENT: "dashboards/client.html",
    }

    def get_template_names(self):
        return [self.templates[self.membership.role]]

    def get_context_data(self, **kwargs):
        if self.membership.is_staff_role:
            kwargs["numbers"] = staff_dashboard(agency=self.agency, now=timezone.now())
        elif self.membership.role == Role.CLIENT:
            client_id = self.membership.client_id
            counts = request_counts(agency=self.agency, client_id=client_id)
            kwargs["home"] = client_home(agency=self.agency, client_id=client_id, counts=counts)
        return super().get_context_data(**kwargs)


class OurAccountView(AgencyViewMixin, TemplateView):
    """A client member's view of their own client: this month's use of their contract
    (hours, tasks, caps), what is unbilled and what is owed; details and manual, read-only.

    The client comes from the membership, never from the URL, so there is nothing to
    change to see another client.
    """

    allowed_roles = frozenset({Role.CLIENT})
    template_name = "reports/our_account.html"

    def get_context_data(self, **kwargs):
        client = client_detail(agency=self.agency, pk=self.membership.client_id)
        return super().get_context_data(
            client=client,
            account=client_account(agency=self.agency, client=client, now=timezone.now()),
            manual_html=render_markdown(client.manual),
            # A client's people read times on their own business's clock.
            viewer_time_zone=client.time_zone,
            **kwargs,
        )
