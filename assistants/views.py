import csv
import datetime as dt
import io
from dataclasses import dataclass
from datetime import datetime
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
from assistants import services
from assistants.earnings import month_overview, months_of
from assistants.forms import AssistantProfileForm, WorkingHoursForm
from assistants.models import AssistantProfile
from assistants.schedule import format_intervals, hours_on, is_on_shift, local_time
from assistants.selectors import assistant_list, assistant_profile_get, assistants_on_shift
from billing.reports.tables import safe_text
from core.errors import ApplicationError
from core.money import format_money, to_major
from core.periods import last_months
from core.roles import Role
from core.views import ServiceFormView


@dataclass
class AssistantRow:
    """A profile as a page shows it at one instant: their clock, today's hours, on shift."""

    profile: AssistantProfile
    local: datetime
    today: str
    on_shift: bool

    @property
    def clock(self) -> str:
        """ "Tue 21:05 PST": formatted here, since the date filter would turn it back to UTC."""
        return f"{self.local:%a %H:%M} {self.local.tzname()}"

    @classmethod
    def at(cls, profile, now):
        return cls(
            profile=profile,
            local=local_time(profile, now),
            today=format_intervals(hours_on(profile, now)),
            on_shift=is_on_shift(profile, now),
        )


class AssistantListView(StaffViewMixin, TemplateView):
    template_name = "assistants/assistant_list.html"
    STATUSES = {"all": None, "active": True, "inactive": False}

    def get_context_data(self, **kwargs):
        status = self.request.GET.get("status", "all")
        if status not in self.STATUSES:
            status = "all"
        now = timezone.now()
        profiles = assistant_list(agency=self.agency, active=self.STATUSES[status])
        return super().get_context_data(
            rows=[AssistantRow.at(profile, now) for profile in profiles],
            status=status,
            statuses=list(self.STATUSES),
            **kwargs,
        )


class AssistantOnShiftView(StaffViewMixin, TemplateView):
    """Who is working right now, whatever their zone."""

    template_name = "assistants/on_shift.html"

    def get_context_data(self, **kwargs):
        now = timezone.now()
        profiles = assistants_on_shift(agency=self.agency, at=now)
        return super().get_context_data(
            rows=[AssistantRow.at(profile, now) for profile in profiles],
            now=now,
            **kwargs,
        )


class AssistantEditView(StaffViewMixin, ServiceFormView):
    form_class = AssistantProfileForm
    template_name = "assistants/profile_form.html"
    submit_label = "Save profile"

    @cached_property
    def profile(self):
        profile = assistant_profile_get(agency=self.agency, pk=self.kwargs["pk"])
        if profile is None:
            raise Http404("No such assistant.")
        return profile

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "agency": self.agency, "profile": self.profile}

    def get_context_data(self, **kwargs):
        user = self.profile.membership.user
        kwargs.setdefault("title", f"{user.get_full_name()}: assistant profile")
        kwargs.setdefault("intro", f"{user.email} · working hours are in their own time zone.")
        kwargs.setdefault("profile", self.profile)
        return super().get_context_data(**kwargs)

    def perform(self, data):
        return services.assistant_profile_update(
            agency=self.agency,
            actor=self.request.user,
            profile=self.profile,
            **AssistantProfileForm.service_data(data),
        )

    def succeeded(self, profile):
        messages.success(
            self.request, f"Saved {profile.membership.user.get_full_name()}'s profile."
        )
        return redirect("assistant_list", agency_slug=self.agency.slug)


class MyAssistantProfileView(AgencyViewMixin, ServiceFormView):
    """An assistant's own profile: all of it to read, zone and working hours to change."""

    allowed_roles = frozenset({Role.ASSISTANT})
    form_class = WorkingHoursForm
    template_name = "assistants/my_profile.html"
    title = "My profile"
    submit_label = "Save my hours"

    @cached_property
    def profile(self):
        # Every assistant membership has a profile (made on joining, backfilled by a
        # migration); ensure() covers one that reached the role some other way.
        profile = services.assistant_profile_ensure(
            agency=self.agency, membership=self.membership, actor=self.request.user
        )
        profile.membership = self.membership
        return profile

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "profile": self.profile}

    def get_context_data(self, **kwargs):
        now = timezone.now()
        kwargs.setdefault("profile", self.profile)
        kwargs.setdefault("row", AssistantRow.at(self.profile, now))
        return super().get_context_data(**kwargs)

    def perform(self, data):
        return services.assistant_profile_update_own(
            agency=self.agency,
            actor=self.request.user,
            profile=self.profile,
            **WorkingHoursForm.service_data(data),
        )

    def succeeded(self, profile):
        messages.success(self.request, "Your time zone and working hours are saved.")
        return redirect("my_assistant_profile", agency_slug=self.agency.slug)


# -- earnings ---------------------------------------------------------------------------

EARNINGS_MONTHS = 12


def _month_from(request, default: dt.date) -> dt.date:
    """The `month` query parameter ("2026-03"); absent is `default`, anything else that is
    not a month is the caller's mistake (a 400)."""
    value = request.GET.get("month") or request.POST.get("month")
    if not value:
        return default
    try:
        return dt.datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise BadRequest("The month must look like 2026-03.") from None


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
    template_name = "assistants/earnings.html"

    def get_context_data(self, **kwargs):
        months = last_months(self.agency.time_zone, EARNINGS_MONTHS)
        earned = months_of(agency=self.agency, membership=self.assistant, months=months)
        chosen = _month_from(self.request, months[-1])
        selected = next((e for e in earned if e.month == chosen), None)
        if selected is None:  # an older month: its own, two more queries
            selected = months_of(agency=self.agency, membership=self.assistant, months=[chosen])[0]
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
    template_name = "assistants/earnings_statement.html"

    def get(self, request, *args, **kwargs):
        default = last_months(self.agency.time_zone, 2)[0]  # last month: the one to be paid
        month = _month_from(request, default)
        earned = months_of(agency=self.agency, membership=self.assistant, months=[month])[0]
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
        name = self.assistant.user.get_full_name()
        writer.writerow([safe_text(f"{self.agency.name}: earnings statement")])
        writer.writerow([safe_text(f"Assistant: {name} <{self.assistant.user.email}>")])
        writer.writerow([f"Month: {earned.month:%B %Y} ({self.agency.time_zone})"])
        if earned.payout:
            writer.writerow([f"Paid on {earned.payout.paid_at:%Y-%m-%d}"])
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
        filename = f"{self.agency.slug}-earnings-{self.assistant.pk}-{earned.month:%Y-%m}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


class AssistantStatementView(StaffViewMixin, MyStatementView):
    allowed_roles = StaffViewMixin.allowed_roles
    own = False


class EarningsOverviewView(StaffViewMixin, TemplateView):
    """Every assistant's month, to check and mark paid out. Defaults to last month."""

    template_name = "assistants/earnings_overview.html"

    def get_context_data(self, **kwargs):
        months = last_months(self.agency.time_zone, EARNINGS_MONTHS)
        month = _month_from(self.request, months[-2])
        rows = month_overview(agency=self.agency, month=month)
        return super().get_context_data(
            month=month,
            months=months[::-1],
            rows=rows,
            payable=month < months[-1],
            **kwargs,
        )


class PayoutCreateView(StaffViewMixin, View):
    """POST: mark one assistant's month paid out (assistants.services.payout_record)."""

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
            payouts = services.payout_record(
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
