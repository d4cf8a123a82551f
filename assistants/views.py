from dataclasses import dataclass
from datetime import datetime

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.functional import cached_property
from django.views import View
from django.views.generic import TemplateView

from accounts.access import AgencyViewMixin, StaffViewMixin
from accounts.models import Membership
from assistants import samples, services, time_off
from assistants.forms import (
    AssistantProfileForm,
    TimeOffDecisionForm,
    TimeOffRequestForm,
    WorkingHoursForm,
    WorkSampleForm,
)
from assistants.models import AssistantProfile, TimeOff, TimeOffStatus
from assistants.schedule import format_intervals, hours_on, is_on_shift, local_time
from assistants.selectors import (
    assistant_list,
    assistant_profile_get,
    assistant_search,
    assistants_on_shift,
    clients_workable_by,
    cover_candidates,
    cover_skills_needed,
    time_off_get,
    time_off_list,
    time_off_of,
)
from core.errors import ApplicationError
from core.pagination import KeysetPaginator
from core.rich_text import render_markdown
from core.roles import STAFF_ROLES, Role
from core.times import local_today
from core.views import ServiceFormView
from core.widgets import search_options_response, search_term


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


ASSISTANTS_PER_PAGE = 50
MANUALS_PER_PAGE = 50


class AssistantListView(StaffViewMixin, TemplateView):
    template_name = "assistants/assistant_list.html"
    STATUSES = {"all": None, "active": True, "inactive": False}

    def get_context_data(self, **kwargs):
        status = self.request.GET.get("status", "all")
        if status not in self.STATUSES:
            status = "all"
        now = timezone.now()
        page = KeysetPaginator(
            assistant_list(agency=self.agency, active=self.STATUSES[status]),
            ordering=("membership__user__full_name", "membership__user__email", "pk"),
            per_page=ASSISTANTS_PER_PAGE,
        ).page_for(self.request)
        return super().get_context_data(
            rows=[AssistantRow.at(profile, now) for profile in page],
            page=page,
            status=status,
            statuses=list(self.STATUSES),
            **kwargs,
        )


class AssistantOnShiftView(StaffViewMixin, TemplateView):
    """Who is working right now, whatever their zone."""

    template_name = "assistants/on_shift.html"

    def get_context_data(self, **kwargs):
        now = timezone.now()
        # Who is on shift is decided in Python over the agency's active profiles (see the
        # selector), so the list is already in hand: numbered pages of it cost nothing more.
        page = Paginator(assistants_on_shift(agency=self.agency, at=now), ASSISTANTS_PER_PAGE)
        page = page.get_page(self.request.GET.get("page"))
        return super().get_context_data(
            rows=[AssistantRow.at(profile, now) for profile in page],
            page=page,
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
        kwargs.setdefault(
            "samples", list(samples.work_samples_of(agency=self.agency, profile=self.profile))
        )
        kwargs.setdefault("sample_form", WorkSampleForm())
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
    submit_label = "Save my profile"

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
        kwargs.setdefault(
            "samples", list(samples.work_samples_of(agency=self.agency, profile=self.profile))
        )
        kwargs.setdefault("sample_form", WorkSampleForm())
        return super().get_context_data(**kwargs)

    def perform(self, data):
        return services.assistant_profile_update_own(
            agency=self.agency,
            actor=self.request.user,
            profile=self.profile,
            **WorkingHoursForm.service_data(data),
        )

    def succeeded(self, profile):
        messages.success(self.request, "Your profile is saved.")
        return redirect("my_assistant_profile", agency_slug=self.agency.slug)


# -- work samples -------------------------------------------------------------------------


class _SampleEditMixin:
    """Samples are added and removed by the assistant (their own) and by staff; for anyone
    else the profile might as well not exist (404)."""

    allowed_roles = frozenset({*STAFF_ROLES, Role.ASSISTANT})
    http_method_names = ["post"]

    def back(self, profile):
        if self.membership.pk == profile.membership_id:
            return redirect("my_assistant_profile", agency_slug=self.agency.slug)
        return redirect("assistant_edit", agency_slug=self.agency.slug, pk=profile.pk)

    def editable(self, profile):
        if profile is None or not samples.may_edit_profile(
            membership=self.membership, profile=profile
        ):
            raise Http404("No such assistant.")
        return profile


class WorkSampleAddView(_SampleEditMixin, AgencyViewMixin, View):
    def post(self, request, agency_slug, pk):
        profile = self.editable(assistant_profile_get(agency=self.agency, pk=pk))
        form = WorkSampleForm(request.POST, request.FILES)
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
            return self.back(profile)
        try:
            sample = samples.work_sample_add(
                agency=self.agency,
                actor=request.user,
                membership=self.membership,
                profile=profile,
                title=form.cleaned_data["title"],
                url=form.cleaned_data["url"],
                upload=form.cleaned_data["file"],
            )
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Added “{sample.title}”.")
        return self.back(profile)


class WorkSampleDeleteView(_SampleEditMixin, AgencyViewMixin, View):
    def post(self, request, agency_slug, pk):
        sample = samples.work_sample_get(agency=self.agency, pk=pk)
        profile = self.editable(sample.profile if sample else None)
        try:
            samples.work_sample_delete(
                agency=self.agency, actor=request.user, membership=self.membership, sample=sample
            )
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Removed “{sample.title}”.")
        return self.back(profile)


class AssistantPublicProfileView(AgencyViewMixin, TemplateView):
    """What clients weigh about an assistant: bio, languages, specialisations, rating and
    samples, to anyone who may see the assistant (404 to others)."""

    template_name = "assistants/public_profile.html"

    def get_context_data(self, **kwargs):
        profile = assistant_profile_get(agency=self.agency, pk=self.kwargs["pk"])
        if profile is None or not samples.profile_visible_to(
            agency=self.agency, membership=self.membership, profile=profile
        ):
            raise Http404("No such assistant.")
        return super().get_context_data(
            profile=profile,
            samples=list(samples.work_samples_of(agency=self.agency, profile=profile)),
            **kwargs,
        )


class WorkSampleFileView(AgencyViewMixin, View):
    """A sample's file, private: only to those who may see the assistant (404 to others,
    who are not told that it exists)."""

    def get(self, request, agency_slug, pk):
        sample = samples.work_sample_get(agency=self.agency, pk=pk)
        if sample is None or not samples.profile_visible_to(
            agency=self.agency, membership=self.membership, profile=sample.profile
        ):
            raise Http404("No such sample.")
        return samples.work_sample_download(sample)


# -- earnings ---------------------------------------------------------------------------


class ManualListView(AgencyViewMixin, TemplateView):
    """An assistant's shelf of client manuals: one per client whose work they may take."""

    allowed_roles = frozenset({Role.ASSISTANT})
    template_name = "assistants/manual_list.html"

    def get_context_data(self, **kwargs):
        page = KeysetPaginator(
            clients_workable_by(agency=self.agency, membership=self.membership),
            ordering=("name", "pk"),
            per_page=MANUALS_PER_PAGE,
        ).page_for(self.request)
        return super().get_context_data(
            clients=page,
            page=page,
            **kwargs,
        )


class ManualView(AgencyViewMixin, TemplateView):
    """One client's manual, for an assistant who may work for that client (else 404)."""

    allowed_roles = frozenset({Role.ASSISTANT})
    template_name = "assistants/manual_view.html"

    def get_context_data(self, **kwargs):
        workable = clients_workable_by(agency=self.agency, membership=self.membership)
        client = get_object_or_404(
            workable.select_related("manual_updated_by"), pk=self.kwargs["pk"]
        )
        return super().get_context_data(
            client=client,
            manual_html=render_markdown(client.manual),
            viewer_time_zone=self.agency.time_zone,
            **kwargs,
        )


class AssistantSearchView(StaffViewMixin, View):
    """The assistants whose name or e-mail contains what was typed, as the options of a
    search field (core.widgets). Staff only. `active=1`: only current assistants, for a
    field that may choose only them (a filter may name a former one)."""

    def get(self, request, agency_slug):
        return search_options_response(
            request,
            assistant_search(
                agency=self.agency,
                term=search_term(request),
                active_only=request.GET.get("active") == "1",
            ),
            label=lambda membership: membership.user.get_full_name(),
            hint=lambda membership: (
                membership.user.email + ("" if membership.is_active else " · former")
            ),
            noun="assistant",
        )


# -- time off ---------------------------------------------------------------------------

TIME_OFF_PER_PAGE = 25


class MyTimeOffView(AgencyViewMixin, ServiceFormView):
    """An assistant's time off: ask for days, see what was decided, cancel what has not
    begun."""

    allowed_roles = frozenset({Role.ASSISTANT})
    form_class = TimeOffRequestForm
    template_name = "assistants/my_time_off.html"
    title = "My time off"
    submit_label = "Ask for time off"

    @cached_property
    def profile(self):
        return services.assistant_profile_ensure(
            agency=self.agency, membership=self.membership, actor=self.request.user
        )

    def get_context_data(self, **kwargs):
        now = timezone.now()
        page = Paginator(
            time_off_of(agency=self.agency, membership=self.membership), TIME_OFF_PER_PAGE
        ).get_page(self.request.GET.get("page"))
        kwargs.setdefault("profile", self.profile)
        kwargs.setdefault("today", local_today(self.profile.time_zone, now))
        return super().get_context_data(
            page=page,
            rows=[TimeOffRow(time_off, now) for time_off in page],
            **kwargs,
        )

    def perform(self, data):
        return time_off.time_off_request(
            agency=self.agency,
            actor=self.request.user,
            membership=self.membership,
            starts_on=data["starts_on"],
            ends_on=data["ends_on"],
            note=data.get("note", ""),
        )

    def succeeded(self, asked):
        messages.success(
            self.request,
            f"Asked for {time_off.day_range(asked)}. Your agency will approve or decline it.",
        )
        return redirect("my_time_off", agency_slug=self.agency.slug)


class MyTimeOffCancelView(AgencyViewMixin, View):
    """The assistant withdraws a request of theirs that has not begun."""

    allowed_roles = frozenset({Role.ASSISTANT})
    http_method_names = ["post"]

    def post(self, request, agency_slug, pk):
        asked = get_object_or_404(
            time_off_of(agency=self.agency, membership=self.membership), pk=pk
        )
        try:
            time_off.time_off_cancel(
                agency=self.agency,
                actor=request.user,
                membership=self.membership,
                time_off=asked,
            )
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Cancelled your time off of {time_off.day_range(asked)}.")
        return redirect("my_time_off", agency_slug=self.agency.slug)


@dataclass
class TimeOffRow:
    """A request as a list shows it: whether it may still be cancelled."""

    time_off: TimeOff
    now: datetime

    @property
    def days(self) -> str:
        return time_off.day_range(self.time_off)

    @property
    def cancellable(self) -> bool:
        return self.time_off.is_open and self.time_off.starts_at > self.now

    @property
    def in_force(self) -> bool:
        return (
            self.time_off.status == TimeOffStatus.APPROVED
            and self.time_off.starts_at <= self.now < self.time_off.ends_at
        )


class TimeOffListView(StaffViewMixin, TemplateView):
    """Every request of the agency's assistants, those waiting for a decision first."""

    template_name = "assistants/time_off_list.html"
    STATUSES = ("all", *TimeOffStatus.values)

    def get_context_data(self, **kwargs):
        status = self.request.GET.get("status", "all")
        if status not in self.STATUSES:
            status = "all"
        now = timezone.now()
        page = Paginator(
            time_off_list(agency=self.agency, status=None if status == "all" else status),
            TIME_OFF_PER_PAGE,
        ).get_page(self.request.GET.get("page"))
        return super().get_context_data(
            page=page,
            rows=[TimeOffRow(request, now) for request in page],
            status=status,
            statuses=[("all", "All"), *TimeOffStatus.choices],
            **kwargs,
        )


class TimeOffReviewView(StaffViewMixin, ServiceFormView):
    """One request, with Approve (naming a cover, or the skill pool) and Decline."""

    form_class = TimeOffDecisionForm
    template_name = "assistants/time_off_review.html"

    @cached_property
    def time_off(self):
        found = time_off_get(agency=self.agency, pk=self.kwargs["pk"])
        if found is None:
            raise Http404("No such time off.")
        return found

    def get_form_kwargs(self):
        covers = (
            Membership.objects.filter(
                pk__in=cover_candidates(agency=self.agency, time_off=self.time_off).values(
                    "membership"
                )
            )
            .select_related("user")
            .order_by("user__full_name", "user__email", "pk")
        )
        return {**super().get_form_kwargs(), "covers": covers}

    def get_context_data(self, **kwargs):
        asked = self.time_off
        kwargs.setdefault("title", f"Time off: {asked.assistant.user}")
        return super().get_context_data(
            time_off=asked,
            row=TimeOffRow(asked, timezone.now()),
            needed=list(cover_skills_needed(agency=self.agency, membership=asked.assistant)),
            clients=time_off.clients_dedicated_to(agency=self.agency, membership=asked.assistant),
            **kwargs,
        )

    def perform(self, data):
        if data["decision"] == TimeOffDecisionForm.DECLINE:
            return time_off.time_off_decline(
                agency=self.agency,
                actor=self.request.user,
                time_off=self.time_off,
                note=data.get("decision_note", ""),
            )
        return time_off.time_off_approve(
            agency=self.agency,
            actor=self.request.user,
            time_off=self.time_off,
            cover=data.get("cover"),
            note=data.get("decision_note", ""),
        )

    def succeeded(self, asked):
        who = asked.assistant.user
        if asked.status == TimeOffStatus.DECLINED:
            messages.success(self.request, f"Declined {who}'s time off.")
        else:
            cover = asked.cover.user if asked.cover_id else "the skill pool"
            messages.success(
                self.request,
                f"Approved {who}'s time off of {time_off.day_range(asked)}; "
                f"{cover} takes their dedicated work meanwhile.",
            )
        return redirect("time_off_list", agency_slug=self.agency.slug)
