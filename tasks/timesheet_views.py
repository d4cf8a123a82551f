"""Timesheet pages: the assistant's own weeks (submit one), and staff's list of submitted
weeks with the review page (approve, or return with a note). The rules live in
tasks.timesheets; these views parse, call and answer."""

import datetime as dt

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect
from django.urls import path, reverse
from django.views import View
from django.views.generic import TemplateView

from accounts.access import AgencyViewMixin, StaffViewMixin
from accounts.models import Membership
from core.errors import ApplicationError
from core.pagination import KeysetPaginator, bounded_count
from core.roles import Role
from tasks import timesheets
from tasks.models import Timesheet, TimesheetStatus

ASSISTANT_ONLY = frozenset({Role.ASSISTANT})
TIMESHEETS_PER_PAGE = 50


def _monday(value: str | None, *, default: dt.date) -> dt.date:
    """A week named by any of its days (YYYY-MM-DD); ValueError for anything else."""
    if not value:
        return default
    day = dt.date.fromisoformat(value)
    return day - dt.timedelta(days=day.weekday())


class MyTimesheetsView(AgencyViewMixin, TemplateView):
    """The assistant's week (this one unless ?week= names another) and their recent weeks."""

    allowed_roles = ASSISTANT_ONLY
    template_name = "tasks/timesheets/mine.html"

    def get(self, request, *args, **kwargs):
        current = timesheets.this_monday(agency=self.agency, membership=self.membership)
        try:
            self.monday = _monday(request.GET.get("week"), default=current)
        except ValueError:
            return HttpResponseBadRequest("The week must be a date written YYYY-MM-DD.")
        self.current = current
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        week = timesheets.week_of(
            agency=self.agency, membership=self.membership, monday=self.monday
        )
        return super().get_context_data(
            week=week,
            is_current=self.monday == self.current,
            future=self.monday > self.current,
            weeks=timesheets.recent_weeks(agency=self.agency, membership=self.membership),
            previous_week=self.monday - dt.timedelta(weeks=1),
            next_week=self.monday + dt.timedelta(weeks=1),
            **kwargs,
        )


class TimesheetSubmitView(AgencyViewMixin, View):
    allowed_roles = ASSISTANT_ONLY

    def post(self, request, agency_slug):
        back = reverse("my_timesheets", kwargs={"agency_slug": agency_slug})
        try:
            monday = dt.date.fromisoformat(request.POST.get("week_start", ""))
        except ValueError:
            messages.error(request, "Choose the week to submit.")
            return redirect(back)
        try:
            timesheets.timesheet_submit(
                agency=self.agency,
                actor=request.user,
                membership=self.membership,
                week_start=monday,
            )
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"The week of {monday:%-d %B} is submitted for approval.")
        return redirect(f"{back}?week={monday.isoformat()}")


class TimesheetFilterForm(forms.Form):
    status = forms.ChoiceField(
        required=False,
        choices=[("", "Any status")]
        + [(s.value, s.label) for s in TimesheetStatus if s != TimesheetStatus.DRAFT],
    )
    assistant = forms.ModelChoiceField(
        required=False, queryset=Membership.objects.none(), empty_label="Any assistant"
    )

    def __init__(self, *args, agency, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assistant"].queryset = (
            Membership.objects.filter(agency=agency, role=Role.ASSISTANT)
            .select_related("user")
            .order_by("user__full_name", "user__email")
        )
        self.fields["assistant"].label_from_instance = lambda m: (
            m.user.get_full_name() or m.user.email
        )


class TimesheetListView(StaffViewMixin, TemplateView):
    """Staff's timesheets: the weeks waiting for a decision first, then the newest."""

    template_name = "tasks/timesheets/list.html"

    def get_context_data(self, **kwargs):
        form = TimesheetFilterForm(self.request.GET, agency=self.agency)
        form.is_valid()  # a value that is not a choice is shown as an error and ignored
        data = getattr(form, "cleaned_data", {})
        assistant = data.get("assistant")
        sheets = timesheets.timesheet_list(
            agency=self.agency,
            status=data.get("status") or None,
            assistant_id=assistant.pk if assistant else None,
        )
        page = KeysetPaginator(
            sheets, ordering=timesheets.LIST_ORDER, per_page=TIMESHEETS_PER_PAGE
        ).page_for(self.request)
        rows = list(page)
        minutes = timesheets.sheet_minutes(agency=self.agency, sheets=rows)
        return super().get_context_data(
            page=page,
            rows=[(sheet, minutes.get(sheet.pk, 0)) for sheet in rows],
            total=bounded_count(sheets),
            filter_form=form,
            filtered=bool(data.get("status") or assistant),
            **kwargs,
        )


class OneTimesheetMixin(StaffViewMixin):
    def timesheet(self) -> Timesheet:
        sheet = (
            Timesheet.objects.filter(agency=self.agency, pk=self.kwargs["pk"])
            .select_related("assistant__user", "decided_by")
            .first()
        )
        if sheet is None:
            raise Http404("No such timesheet.")
        return sheet


class TimesheetDetailView(OneTimesheetMixin, TemplateView):
    template_name = "tasks/timesheets/review.html"

    def get_context_data(self, **kwargs):
        sheet = self.timesheet()
        week = timesheets.week_of(
            agency=self.agency, membership=sheet.assistant, monday=sheet.week_start, sheet=sheet
        )
        return super().get_context_data(sheet=sheet, week=week, **kwargs)


class TimesheetDecideView(OneTimesheetMixin, View):
    decide = None
    done = ""

    def post(self, request, agency_slug, pk):
        sheet = self.timesheet()
        back = reverse("timesheet_detail", kwargs={"agency_slug": agency_slug, "pk": sheet.pk})
        try:
            self.decide(
                agency=self.agency,
                actor=request.user,
                membership=self.membership,
                timesheet=sheet,
                note=request.POST.get("note", ""),
            )
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, self.done)
        return redirect(back)


class TimesheetApproveView(TimesheetDecideView):
    decide = staticmethod(timesheets.timesheet_approve)
    done = "Approved: the assistant is told, and the week's time is locked."


class TimesheetReturnView(TimesheetDecideView):
    decide = staticmethod(timesheets.timesheet_return)
    done = "Returned: the assistant is told what to correct."


urlpatterns = [
    path("timesheets/mine/", MyTimesheetsView.as_view(), name="my_timesheets"),
    path("timesheets/mine/submit/", TimesheetSubmitView.as_view(), name="my_timesheet_submit"),
    path("timesheets/", TimesheetListView.as_view(), name="timesheet_list"),
    path("timesheets/<int:pk>/", TimesheetDetailView.as_view(), name="timesheet_detail"),
    path("timesheets/<int:pk>/approve/", TimesheetApproveView.as_view(), name="timesheet_approve"),
    path("timesheets/<int:pk>/return/", TimesheetReturnView.as_view(), name="timesheet_return"),
]
