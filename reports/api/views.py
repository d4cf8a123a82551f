"""The reports API: the staff dashboard, every report and contractor earnings, with the
figures the pages show. Each endpoint calls the selectors its page calls, with the same
range, filters and defaults, so the JSON, the page and the CSV file cannot disagree."""

import datetime as dt

from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.response import Response

from accounts.api.access import AgencyAPIView, StaffAPIMixin
from accounts.models import Membership
from assistants.models import AssistantProfile
from core.api.pagination import KeysetPagination
from core.periods import last_months
from core.roles import Role
from reports.api.serializers import (
    DashboardSerializer,
    EarningsOverviewQuerySerializer,
    EarningsOverviewSerializer,
    EarningsQuerySerializer,
    EarningsSerializer,
    ReportIndexSerializer,
    ReportQuerySerializer,
    ReportSerializer,
)
from reports.dashboard import staff_dashboard
from reports.earnings import (
    EARNINGS_MONTHS,
    OVERVIEW_ORDER,
    earnings_of,
    overview_profiles,
    overview_rows,
)
from reports.forms import ReportFilterForm
from reports.views import FIRST_MONTH, LAST_MONTH, REPORTS

FILTERS = ("client", "service", "assistant")


class DashboardView(StaffAPIMixin, AgencyAPIView):
    """This month's figures of the staff dashboard: revenue, receivables, on-time rate, work
    at risk, retainers, and the charts' figures (twelve months of revenue and on-time rate,
    assistant utilisation)."""

    @extend_schema(responses=DashboardSerializer)
    def get(self, request, agency_slug):
        numbers = staff_dashboard(agency=self.agency, now=timezone.now())
        months = numbers["months"]
        body = {
            **{
                key: numbers[key]
                for key in (
                    "period",
                    "revenue",
                    "receivables",
                    "on_time",
                    "work",
                    "retainers",
                    "retainer_count",
                    "assistant_count",
                )
            },
            "revenue_by_month": [
                {
                    "currency": chart.table[0]["currency"],
                    "months": [
                        {"month": month, "billed": row["billed"], "unbilled": row["unbilled"]}
                        for month, row in zip(months, chart.table, strict=True)
                    ],
                }
                for chart in numbers["revenue_charts"]
            ],
            "on_time_by_month": [
                {**row, "month": month}
                for month, row in zip(months, numbers["on_time_chart"].table, strict=True)
            ],
            "utilisation": numbers["utilisation_chart"].table,
        }
        return Response(DashboardSerializer(body).data)


class ReportIndexView(StaffAPIMixin, AgencyAPIView):
    """The reports there are, each with its filters and its endpoint."""

    @extend_schema(responses=ReportIndexSerializer(many=True))
    def get(self, request, agency_slug):
        return Response(
            ReportIndexSerializer(
                [
                    {
                        "report": spec.slug,
                        "title": spec.title,
                        "summary": spec.summary,
                        "filters": list(spec.filters),
                        "url": reverse(f"api:{api_report_name(spec.slug)}", args=[agency_slug]),
                    }
                    for spec in REPORTS.values()
                ],
                many=True,
            ).data
        )


def api_report_name(slug: str) -> str:
    return f"report-{slug}"


class ReportView(StaffAPIMixin, AgencyAPIView):
    """One report's tables, as its page shows them (`?start=&end=` and its filters, read as
    the page reads them; bad ones are a 400 naming the field)."""

    report = ""

    def get(self, request, agency_slug):
        spec = REPORTS[self.report]
        form = ReportFilterForm(request.query_params, agency=self.agency, filters=spec.filters)
        if not form.is_valid():
            raise exceptions.ValidationError(
                {field: list(errors) for field, errors in form.errors.items()}
            )
        period = form.cleaned_data["period"]
        tables = spec.build(agency=self.agency, period=period, **form.filters())
        chosen = form.filters()
        return Response(
            ReportSerializer(
                {
                    "report": spec.slug,
                    "title": spec.title,
                    "explains": spec.explains,
                    "period": period,
                    "filters": {name: chosen.get(f"{name}_id") for name in FILTERS},
                    "tables": tables,
                }
            ).data
        )


def report_view(spec):
    """A view class of its own per report, so that the schema lists each report's filters
    and the isolation matrix checks each URL."""
    query = type(
        f"{spec.slug.title().replace('-', '')}ReportQuerySerializer",
        (ReportQuerySerializer,),
        {name: None for name in FILTERS if name not in spec.filters},
    )
    view = type(
        f"{spec.slug.title().replace('-', '')}ReportView",
        (ReportView,),
        {"report": spec.slug, "__doc__": f"{spec.title}: {spec.summary} {spec.explains}"},
    )
    view.get = extend_schema(
        operation_id=f"report_{spec.slug.replace('-', '_')}",
        parameters=[query],
        responses=ReportSerializer,
    )(_inherited_get(ReportView.get))
    return view


def _inherited_get(get):
    def handler(self, request, agency_slug):
        return get(self, request, agency_slug)

    return handler


# -- contractor earnings ----------------------------------------------------------------------


def month_asked(request, query_class=EarningsQuerySerializer) -> dt.date | None:
    """The `month` parameter ("2026-03"), or None; anything else (in it or in the other
    parameters `query_class` reads) is a 400 naming it."""
    query = query_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    value = query.validated_data.get("month")
    if value is None:
        return None
    try:
        month = dt.datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        month = None
    if month is None or not FIRST_MONTH <= month <= LAST_MONTH:
        raise exceptions.ValidationError({"month": ["A month from 2000-01 to 2099-12."]})
    return month


def person(membership, profile) -> dict:
    return {
        "membership": membership.pk,
        "name": membership.user.get_full_name(),
        "email": membership.user.email,
        "pay_rate": profile.pay_rate if profile else None,
        "pay_currency": profile.pay_currency if profile else None,
    }


def amounts(rows) -> list[dict]:
    return [{"currency": currency, "amount": amount} for currency, amount in rows]


def month_data(earned) -> dict:
    return {
        "month": earned.month,
        "minutes": earned.minutes,
        "amounts": amounts(earned.amount_rows),
        "paid": earned.paid,
        "paid_at": earned.payout.paid_at if earned.payout else None,
        "unpaid_minutes": earned.unpaid_minutes,
        "clients": earned.clients,
    }


class MyEarningsView(AgencyAPIView):
    """The signed-in assistant's hours and earnings: the last twelve months and one month
    by client (`?month=`, else the latest month with time logged)."""

    allowed_roles = frozenset({Role.ASSISTANT})
    own = True

    @cached_property
    def assistant(self):
        if self.own:
            return self.membership
        found = (
            Membership.objects.filter(agency=self.agency, role=Role.ASSISTANT, pk=self.kwargs["pk"])
            .select_related("user")
            .first()
        )
        if found is None:
            raise Http404("No such assistant.")
        return found

    def answer(self, request):
        month = month_asked(request)
        profile = AssistantProfile.objects.filter(
            agency=self.agency, membership=self.assistant
        ).first()
        earned, selected = earnings_of(agency=self.agency, membership=self.assistant, month=month)
        return Response(
            EarningsSerializer(
                {
                    "assistant": person(self.assistant, profile),
                    "time_zone": self.agency.time_zone,
                    "months": [month_data(e) for e in earned],
                    "selected": month_data(selected),
                }
            ).data
        )

    @extend_schema(parameters=[EarningsQuerySerializer], responses=EarningsSerializer)
    def get(self, request, agency_slug):
        return self.answer(request)


class AssistantEarningsView(StaffAPIMixin, MyEarningsView):
    """One assistant's hours and earnings, as they see them (the id is their membership's,
    as `membership` in `assistants/`)."""

    allowed_roles = StaffAPIMixin.allowed_roles
    own = False

    @extend_schema(
        operation_id="earnings_of_assistant",
        parameters=[EarningsQuerySerializer],
        responses=EarningsSerializer,
    )
    def get(self, request, agency_slug, pk):
        return self.answer(request)


class EarningsOverviewView(StaffAPIMixin, AgencyAPIView):
    """Every assistant's month (`?month=`, else last month: the one to pay out), as staff
    check it before marking it paid: 50 assistants a page by name, as the page lists them,
    with the same figures; `next` and `previous` link the pages."""

    @extend_schema(
        operation_id="earnings_overview",
        parameters=[EarningsOverviewQuerySerializer],
        responses=EarningsOverviewSerializer,
    )
    def get(self, request, agency_slug):
        months = last_months(self.agency.time_zone, EARNINGS_MONTHS)
        month = month_asked(request, EarningsOverviewQuerySerializer) or months[-2]
        pages = KeysetPagination()
        profiles = pages.paginate_queryset(
            overview_profiles(agency=self.agency, month=month).order_by(*OVERVIEW_ORDER),
            request,
            view=self,
        )
        rows = overview_rows(agency=self.agency, month=month, profiles=profiles)
        return Response(
            EarningsOverviewSerializer(
                {
                    "month": month,
                    "payable": month < months[-1],
                    "next": pages.get_next_link(),
                    "previous": pages.get_previous_link(),
                    "assistants": [
                        {
                            "assistant": person(row.profile.membership, row.profile),
                            "minutes": row.minutes,
                            "amounts": amounts(row.amount_rows),
                            "paid": row.paid,
                            "paid_at": row.payouts[0].paid_at if row.payouts else None,
                        }
                        for row in rows
                    ],
                }
            ).data
        )
