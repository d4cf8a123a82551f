"""Pages of the people who do and run the work: the assistant's queue, the actions on the
task page (start, timer, log time, ask, complete, hand back, assign, cancel) and the admin
task list with its at-risk view. Rules live in tasks.services; these views parse, call and
answer, with htmx swaps where the queue page asks for them and a plain redirect otherwise."""

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import TemplateView
from django_htmx.http import HttpResponseClientRedirect

from accounts.access import AgencyViewMixin, StaffViewMixin
from accounts.models import Membership
from assistants.selectors import ASSISTANT_EXACT_FIELDS, ASSISTANT_SEARCH_FIELDS, assistant_choices
from clients.models import Client
from clients.selectors import CLIENT_SEARCH_FIELDS, client_choices
from contracts.models import Service
from core.errors import ApplicationError
from core.pagination import KeysetPaginator, bounded_count
from core.roles import STAFF_ROLES, Role
from core.templatetags.money import hours
from core.widgets import TEXT_SUFFIX, SearchChoiceField, clean_text
from tasks import queries, services
from tasks.models import Task, TaskStatus, TimeEntry
from tasks.selectors import active_tasks_of, pool_for
from tasks.templatetags.work_tags import ASSIGN_OTHER, clock
from tasks.views.shared import TaskMixin, task_url_prefix, viewer_time_zone

ASSISTANT_ONLY = frozenset({Role.ASSISTANT})
# The pool shows the most urgent slice; Take next always claims from the top of it.
POOL_SHOWN = 50
TASKS_PER_PAGE = 50


# -- the assistant's queue ---------------------------------------------------------------


@dataclass
class QueueRow:
    """A task as the queue shows it at one instant."""

    task: Task
    overdue: bool
    at_risk: bool
    client_working: bool
    is_mine: bool
    timer: TimeEntry | None  # the assistant's running timer, when it runs on this task
    timer_seconds: int = 0

    @property
    def timer_can_start(self) -> bool:
        return self.is_mine and self.timer is None and self.task.status in TIMER_STATUSES


TIMER_STATUSES = (TaskStatus.ASSIGNED, TaskStatus.IN_PROGRESS)


def _row(task, now, *, is_mine=False, running=None) -> QueueRow:
    timer = running if running is not None and running.task_id == task.pk else None
    return QueueRow(
        task=task,
        overdue=queries.is_overdue(task, now),
        at_risk=queries.is_at_risk(task, now),
        client_working=queries.is_client_working_day(task.client, now),
        is_mine=is_mine,
        timer=timer,
        timer_seconds=int((now - timer.started_at).total_seconds()) if timer else 0,
    )


def _queue_rows(tasks):
    # A queue row shows the client and the service; whose it is, the block says.
    return tasks.select_related("client", "service")


class QueueMixin(AgencyViewMixin):
    """What the queue page and its partials share: the assistant's clock and their blocks,
    each a fixed number of queries however many tasks there are."""

    allowed_roles = ASSISTANT_ONLY

    @property
    def profile(self):
        return getattr(self.membership, "assistant_profile", None)

    @cached_property
    def queue_urls(self) -> dict[str, str]:
        """The addresses the rows link to, made once per page: a row adds its task's id
        (and the action) to the prefix, the same address reverse() gives."""
        return {
            "task": task_url_prefix(self.agency),
            "timer_stop": reverse("assistant_timer_stop", kwargs={"agency_slug": self.agency.slug}),
        }

    @property
    def zone(self) -> str:
        # An assistant without a profile yet has no zone of their own: the agency's stands in.
        return viewer_time_zone(self.membership, self.agency, client=None)

    def mine_context(self, now) -> dict:
        running = queries.running_timer_of(agency=self.agency, membership=self.membership)
        tasks = active_tasks_of(agency=self.agency, membership=self.membership)
        rows = [_row(task, now, is_mine=True, running=running) for task in _queue_rows(tasks)]
        return {
            "queue_urls": self.queue_urls,
            "mine": rows,
            "running": running,
            "running_seconds": int((now - running.started_at).total_seconds()) if running else 0,
            "capacity": self.profile.capacity if self.profile else None,
            "zone": self.zone,
        }

    def pool_context(self, now) -> dict:
        tasks = _queue_rows(pool_for(agency=self.agency, membership=self.membership))
        return {
            "queue_urls": self.queue_urls,
            "pool": [_row(task, now) for task in tasks[:POOL_SHOWN]],
            "pool_shown": POOL_SHOWN,
            "zone": self.zone,
        }

    def swap_response(self):
        """The answer to an htmx button on the queue: both blocks and the messages, swapped
        in place (my tasks into the target, the pool and messages out of band)."""
        now = timezone.now()
        context = {"agency": self.agency, "membership": self.membership}
        context.update(self.mine_context(now), **self.pool_context(now))
        return render(self.request, "tasks/partials/queue_swap.html", context)

    def after_action(self, task_page=None):
        if self.request.htmx:
            return self.swap_response()
        if task_page is not None:
            return redirect("task_detail", agency_slug=self.agency.slug, pk=task_page.pk)
        target = self.request.POST.get("next", "")
        if target and url_has_allowed_host_and_scheme(
            target, allowed_hosts={self.request.get_host()}, require_https=self.request.is_secure()
        ):
            return redirect(target)
        return redirect("assistant_queue", agency_slug=self.agency.slug)


class QueueView(QueueMixin, TemplateView):
    template_name = "tasks/queue.html"

    def get_context_data(self, **kwargs):
        now = timezone.now()
        kwargs.update(self.mine_context(now), **self.pool_context(now))
        return super().get_context_data(now=now, **kwargs)


class PoolPartialView(QueueMixin, TemplateView):
    """The pool block alone, which the queue page fetches again every minute."""

    template_name = "tasks/partials/queue_pool.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(**self.pool_context(timezone.now()), **kwargs)


class TakeNextView(QueueMixin, View):
    http_method_names = ["post"]

    def post(self, request, agency_slug):
        task = None
        try:
            task = services.task_take_next(
                agency=self.agency, actor=request.user, membership=self.membership
            )
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            if task is None:
                messages.info(request, "Nothing for you right now.")
            else:
                messages.success(request, f"“{task.title}” is yours now.")
        return self.after_action(task_page=task)


class TakeView(QueueMixin, TaskMixin, View):
    """Take the pool task in the URL, the one the assistant is looking at."""

    http_method_names = ["post"]

    def post(self, request, agency_slug, pk):
        task = self.get_task()
        try:
            services.task_take(
                agency=self.agency, actor=request.user, membership=self.membership, task=task
            )
        except ApplicationError as error:
            messages.error(request, error.message)
            return self.after_action()
        messages.success(request, f"“{task.title}” is yours now.")
        return self.after_action(task_page=task)


class TimerStartView(QueueMixin, TaskMixin, View):
    http_method_names = ["post"]

    def post(self, request, agency_slug, pk):
        task = self.get_task()
        try:
            services.timer_start(
                agency=self.agency, actor=request.user, membership=self.membership, task=task
            )
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Timer running on “{task.title}”.")
        return self.after_action()


class TimerStopView(QueueMixin, View):
    http_method_names = ["post"]

    def post(self, request, agency_slug):
        try:
            entry = services.timer_stop(
                agency=self.agency, actor=request.user, membership=self.membership
            )
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            if entry is None:
                messages.info(request, "No timer was running.")
            else:
                messages.success(
                    request,
                    f"Timer stopped after {clock(entry.duration_seconds)} on "
                    f"“{entry.task.title}”: {hours(entry.task.minutes_logged)} on it so far.",
                )
        return self.after_action()


# -- actions on the task page --------------------------------------------------------------


class TaskActionView(TaskMixin, View):
    """One button of the task page's work panel: call a service, say how it went, go back.

    `perform(task, data)` returns the success message; an ApplicationError becomes an
    error message. An htmx caller is told to load the page instead of swapping a redirect.
    """

    http_method_names = ["post"]
    allowed_roles = ASSISTANT_ONLY

    def post(self, request, agency_slug, pk):
        task = self.get_task()
        try:
            message = self.perform(task, request.POST)
        except ApplicationError as error:
            messages.error(request, error.message)
            return self.done(self.task_url())
        messages.success(request, message)
        return self.done(self.success_url())

    def perform(self, task, data) -> str:
        raise NotImplementedError

    def task_url(self) -> str:
        return reverse(
            "task_detail", kwargs={"agency_slug": self.agency.slug, "pk": self.kwargs["pk"]}
        )

    def success_url(self) -> str:
        return self.task_url()

    def done(self, url):
        return HttpResponseClientRedirect(url) if self.request.htmx else redirect(url)

    def service_kwargs(self, task) -> dict:
        return {
            "agency": self.agency,
            "actor": self.request.user,
            "membership": self.membership,
            "task": task,
        }


class TaskStartView(TaskActionView):
    def perform(self, task, data):
        # The service's transition table lets a finished task go back to in progress (that
        # is how a client's send-back works), so "start" must not reopen finished work.
        if task.status != TaskStatus.ASSIGNED:
            raise ApplicationError(
                f"Only an assigned task can be started; this one is "
                f"{task.get_status_display().lower()}.",
                code="task_transition_invalid",
            )
        services.task_start(**self.service_kwargs(task))
        return "Started. The task is in progress."


class TaskLogTimeView(TaskActionView):
    def perform(self, task, data):
        try:
            minutes = int(data.get("minutes", "").strip())
        except ValueError:
            raise ApplicationError(
                "Give the time as a whole number of minutes.",
                code="time_entry_out_of_range",
                extra={"field": "minutes"},
            ) from None
        services.time_entry_add(
            **self.service_kwargs(task),
            minutes=minutes,
            note=data.get("note", ""),
            worked_on=_day(data.get("worked_on")),
            start_time=_time_of_day(data.get("start_time")),
        )
        return f"Logged {minutes} min."


def _day(raw: str | None) -> dt.date | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ApplicationError(
            "Give the day as a date, such as 2026-03-02.",
            code="time_entry_day_invalid",
            extra={"field": "worked_on"},
        ) from None


def _time_of_day(raw: str | None) -> dt.time | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return dt.time.fromisoformat(raw).replace(tzinfo=None)
    except ValueError:
        raise ApplicationError(
            "Give the start as a time of day, such as 09:30.",
            code="time_entry_time_invalid",
            extra={"field": "start_time"},
        ) from None


def _duration(raw: str | None) -> int | None:
    """Seconds from "45" (minutes), "1:30" (hours and minutes) or "1:30:15"."""
    raw = (raw or "").strip()
    if not raw:
        return None
    parts = raw.split(":")
    if len(parts) <= 3 and all(part.isdigit() for part in parts):
        numbers = [int(part) for part in parts]
        if len(numbers) == 1:
            return numbers[0] * 60
        if all(n < 60 for n in numbers[1:]):
            hours, minutes, seconds = (*numbers, 0)[:3]
            return hours * 3600 + minutes * 60 + seconds
    raise ApplicationError(
        "Give the time as minutes (45), or hours and minutes (1:30), or with seconds (1:30:15).",
        code="time_entry_out_of_range",
        extra={"field": "duration"},
    )


class TimeEntryChangeView(TaskActionView):
    """A correction of one time entry from the task page's time section: its assistant's
    own, or anyone's for staff, until the time is billed (the service decides)."""

    allowed_roles = STAFF_ROLES | ASSISTANT_ONLY

    def post(self, request, agency_slug, pk, entry_pk):
        return super().post(request, agency_slug, pk)

    def entry(self, task) -> TimeEntry:
        entry = (
            TimeEntry.objects.filter(agency=self.agency, task=task, pk=self.kwargs["entry_pk"])
            .select_related("assistant__assistant_profile")
            .first()
        )
        if entry is None:
            raise Http404("No such time entry.")
        return entry

    def task_url(self) -> str:
        return super().task_url() + "#time"


class TimeEntryEditView(TimeEntryChangeView):
    def perform(self, task, data):
        entry = self.entry(task)
        # What the form showed comes back unchanged: only what was edited is a change.
        shown = entry.started_at.astimezone(ZoneInfo(entry_zone(entry, self.agency)))
        start_time = _time_of_day(data.get("start_time"))
        if start_time is not None and start_time == shown.time().replace(second=0, microsecond=0):
            start_time = None
        services.time_entry_update(
            agency=self.agency,
            actor=self.request.user,
            membership=self.membership,
            entry=entry,
            seconds=_duration(data.get("duration")),
            worked_on=_day(data.get("worked_on")),
            start_time=start_time,
            note=data.get("note") if "note" in data else None,
        )
        return "Time entry corrected."


class TimeEntryDeleteView(TimeEntryChangeView):
    def perform(self, task, data):
        services.time_entry_delete(
            agency=self.agency,
            actor=self.request.user,
            membership=self.membership,
            entry=self.entry(task),
        )
        return "Time entry deleted."


def entry_zone(entry: TimeEntry, agency) -> str:
    """The zone an entry's day and start are read in: its assistant's."""
    profile = getattr(entry.assistant, "assistant_profile", None)
    return profile.time_zone if profile is not None else agency.time_zone


class TaskAskView(TaskActionView):
    def perform(self, task, data):
        services.task_ask_client(**self.service_kwargs(task), question=data.get("question", ""))
        return "Question sent. The task waits for the client's answer."


class TaskCompleteView(TaskActionView):
    def perform(self, task, data):
        services.task_complete(**self.service_kwargs(task), summary=data.get("summary", ""))
        return "Completed. The client has your summary."


class TaskReleaseView(TaskActionView):
    def perform(self, task, data):
        services.task_release(**self.service_kwargs(task), note=data.get("note", ""))
        return f"“{task.title}” is back in the pool."

    def success_url(self):
        # The task may leave what this assistant can see (e.g. work assigned outside their
        # skills); their queue is where they go on from anyway.
        return reverse("assistant_queue", kwargs={"agency_slug": self.agency.slug})


class TaskAssignView(TaskActionView):
    allowed_roles = STAFF_ROLES

    def perform(self, task, data):
        assignee = self.other_assignee(data)
        raw = data.get("assignee", "")
        if assignee is None and raw.isdigit():
            assignee = (
                Membership.objects.filter(agency=self.agency, pk=int(raw))
                .select_related("user")
                .first()
            )
        if assignee is None:
            raise ApplicationError(
                "Choose an assistant of the agency.",
                code="task_assignee_invalid",
                extra={"field": "assignee"},
            )
        services.task_assign(
            agency=self.agency,
            actor=self.request.user,
            task=task,
            assignee=assignee,
            note=data.get("note", ""),
        )
        return f"Assigned to {assignee.user.get_full_name() or assignee.user.email}."

    def other_assignee(self, data) -> Membership | None:
        """The assistant found through the form's search field, when one was picked or
        typed there (it wins over the select, which lists only those who may do the task)."""
        if not (data.get(ASSIGN_OTHER) or clean_text(data.get(ASSIGN_OTHER + TEXT_SUFFIX))):
            return None
        form = OtherAssigneeForm(data, agency=self.agency)
        if not form.is_valid():
            raise ApplicationError(
                form.errors[ASSIGN_OTHER][0],
                code="task_assignee_invalid",
                extra={"field": "assignee"},
            )
        return form.cleaned_data[ASSIGN_OTHER]


class OtherAssigneeForm(forms.Form):
    other_assignee = SearchChoiceField(
        queryset=Membership.objects.none(),
        search_fields=ASSISTANT_SEARCH_FIELDS,
        exact_fields=ASSISTANT_EXACT_FIELDS,
    )

    def __init__(self, *args, agency, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields[ASSIGN_OTHER].set_search(
            queryset=assistant_choices(agency=agency, active_only=True),
            url=reverse("assistant_search", kwargs={"agency_slug": agency.slug}),
        )
        self.fields[ASSIGN_OTHER].label_from_instance = lambda m: (
            m.user.get_full_name() or m.user.email
        )


class TaskCancelView(TaskActionView):
    allowed_roles = STAFF_ROLES

    def perform(self, task, data):
        services.task_cancel(**self.service_kwargs(task), reason=data.get("reason", ""))
        return "Cancelled."


# -- the admin task list ---------------------------------------------------------------------


class TaskFilterForm(forms.Form):
    """The list's filters, read from the query string; bad input is simply left out."""

    ANY = ""
    # Search fields, not selects: an agency has a thousand clients and hundreds of
    # assistants, and a select of them all was most of the page.
    client = SearchChoiceField(
        queryset=Client.objects.none(),
        required=False,
        search_fields=CLIENT_SEARCH_FIELDS,
        placeholder="Any client",
    )
    assignee = SearchChoiceField(
        queryset=Membership.objects.none(),
        required=False,
        label="Assistant",
        search_fields=ASSISTANT_SEARCH_FIELDS,
        exact_fields=ASSISTANT_EXACT_FIELDS,
        placeholder="Anyone",
    )
    status = forms.ChoiceField(
        required=False,
        choices=[(queries.OPEN, "Open"), *TaskStatus.choices, ("all", "Any status")],
    )
    service = forms.ModelChoiceField(queryset=Service.objects.none(), required=False)
    due = forms.ChoiceField(required=False, choices=list(queries.DUE_FILTERS.items()))

    # What the page shows with no query string: the work still needing someone.
    DEFAULT_STATUS = queries.OPEN
    DEFAULT_FILTERS = {
        "client_id": None,
        "assignee_id": None,
        "service_id": None,
        "status": DEFAULT_STATUS,
        "due": "all",
    }

    def __init__(self, *args, agency, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client"].set_search(
            queryset=client_choices(agency=agency),
            url=reverse("client_search", kwargs={"agency_slug": agency.slug}),
        )
        self.fields["assignee"].set_search(
            queryset=assistant_choices(agency=agency),
            url=reverse("assistant_search", kwargs={"agency_slug": agency.slug}),
        )
        self.fields["assignee"].label_from_instance = lambda m: (
            m.user.get_full_name() or m.user.email
        )
        self.fields["service"].queryset = Service.objects.filter(agency=agency).order_by("name")
        self.fields["service"].empty_label = "Any service"

    def filters(self) -> dict:
        self.is_valid()
        data = self.cleaned_data
        status = data.get("status") or self.DEFAULT_STATUS
        client, assignee, service = data.get("client"), data.get("assignee"), data.get("service")
        return {
            "client_id": client.pk if client else None,
            "assignee_id": assignee.pk if assignee else None,
            "service_id": service.pk if service else None,
            "status": None if status == "all" else status,
            "due": data.get("due") or "all",
        }


@dataclass
class ListRow:
    task: Task
    overdue: bool
    at_risk: bool
    waiting_too_long: bool


def _list_rows(tasks, now) -> list[ListRow]:
    return [
        ListRow(
            task=task,
            overdue=queries.is_overdue(task, now),
            at_risk=queries.is_at_risk(task, now),
            waiting_too_long=queries.is_waiting_too_long(task, now),
        )
        for task in tasks
    ]


class TaskListView(StaffViewMixin, TemplateView):
    template_name = "tasks/task_list.html"

    def get_context_data(self, **kwargs):
        now = timezone.now()
        filter_form = TaskFilterForm(self.request.GET, agency=self.agency)
        filters = filter_form.filters()
        tasks = queries.task_list(agency=self.agency, now=now, **filters)
        page = _keyset_page(tasks, self.request)
        return super().get_context_data(
            page=page,
            total=bounded_count(tasks),
            rows=_list_rows(page, now),
            task_url_prefix=task_url_prefix(self.agency),
            filter_form=filter_form,
            filtered=filters != TaskFilterForm.DEFAULT_FILTERS,
            at_risk_view=False,
            **kwargs,
        )


class TaskAtRiskView(StaffViewMixin, TemplateView):
    template_name = "tasks/task_list.html"

    def get_context_data(self, **kwargs):
        now = timezone.now()
        tasks = queries.tasks_at_risk(agency=self.agency, now=now)
        page = _keyset_page(tasks, self.request)
        return super().get_context_data(
            page=page,
            total=bounded_count(tasks),
            rows=_list_rows(page, now),
            task_url_prefix=task_url_prefix(self.agency),
            at_risk_view=True,
            at_risk_hours=int(queries.AT_RISK_WITHIN / dt.timedelta(hours=1)),
            unassigned_hours=int(queries.UNASSIGNED_TOO_LONG / dt.timedelta(hours=1)),
            **kwargs,
        )


def _keyset_page(tasks, request):
    """A page of the staff lists: by keyset, so page 2,000 costs what page 1 does."""
    return KeysetPaginator(
        tasks, ordering=queries.TASK_LIST_ORDER, per_page=TASKS_PER_PAGE
    ).page_for(request)


urlpatterns = [
    path("queue/", QueueView.as_view(), name="assistant_queue"),
    path("queue/pool/", PoolPartialView.as_view(), name="assistant_pool_partial"),
    path("queue/take-next/", TakeNextView.as_view(), name="assistant_take_next"),
    path("queue/timer/stop/", TimerStopView.as_view(), name="assistant_timer_stop"),
    path("tasks/<int:pk>/take/", TakeView.as_view(), name="task_take"),
    path("tasks/<int:pk>/timer/start/", TimerStartView.as_view(), name="task_timer_start"),
    path("tasks/<int:pk>/start/", TaskStartView.as_view(), name="task_start"),
    path("tasks/<int:pk>/log-time/", TaskLogTimeView.as_view(), name="task_log_time"),
    path(
        "tasks/<int:pk>/time/<int:entry_pk>/edit/",
        TimeEntryEditView.as_view(),
        name="task_time_edit",
    ),
    path(
        "tasks/<int:pk>/time/<int:entry_pk>/delete/",
        TimeEntryDeleteView.as_view(),
        name="task_time_delete",
    ),
    path("tasks/<int:pk>/ask/", TaskAskView.as_view(), name="task_ask"),
    path("tasks/<int:pk>/complete/", TaskCompleteView.as_view(), name="task_complete"),
    path("tasks/<int:pk>/release/", TaskReleaseView.as_view(), name="task_release"),
    path("tasks/<int:pk>/assign/", TaskAssignView.as_view(), name="task_assign"),
    path("tasks/<int:pk>/cancel/", TaskCancelView.as_view(), name="task_cancel"),
    path("tasks/", TaskListView.as_view(), name="task_list"),
    path("tasks/at-risk/", TaskAtRiskView.as_view(), name="task_at_risk"),
]
