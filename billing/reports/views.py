from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpResponse
from django.utils import timezone
from django.views.generic import TemplateView

from accounts.access import StaffViewMixin
from billing.reports import selectors
from billing.reports.forms import ReportFilterForm
from billing.reports.tables import csv_response
from core.periods import this_month


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
            "client's approval past a budget cap). A task's charge counts on the day it "
            "was made; a retainer fee in the month it pays for. Written-off charges and "
            "charges on voided invoices are never revenue.",
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
            name = f"{self.agency.slug}-{spec.slug}-{table.key}-{period.start}-{period.end}.csv"
            preamble = [
                [f"{self.agency.name}: {table.title}"],
                [f"From {period.start} to {period.end} ({self.agency.time_zone})"],
                *[
                    [f"{form.fields[k].label or k.title()}: {form.cleaned_data[k]}"]
                    for k in ("client", "service", "assistant")
                    if form.cleaned_data.get(k) is not None
                ],
            ]
            return csv_response(table, filename=name, preamble=preamble)
        context = self.get_context_data(
            spec=spec,
            form=form,
            period=period,
            tables=tables,
            generated_at=timezone.now(),
            query=request.GET.urlencode(),
        )
        return self.render_to_response(context)
