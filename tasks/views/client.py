"""The client's request portal: their requests, the request form, recurring requests, and
the approve / send back / cancel actions on the task page.

Every page acts for the client of the signed-in membership, never for a client named in
the URL, so there is nothing to change in an address to reach another client's work.
"""

import datetime as dt
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.views import View
from django.views.generic import TemplateView

from accounts.access import AgencyViewMixin
from clients.permissions import ClientMayMixin, ClientRight
from contracts.models import ContractTerms, PricingModel, Service
from contracts.pricing import task_estimate
from contracts.request_templates import template_form_fields
from contracts.selectors import terms_in_force
from core.errors import ApplicationError
from core.forms import MoneyField
from core.pagination import KeysetPaginator
from core.roles import Role
from core.views import ServiceFormView
from tasks import recurring as recurring_services
from tasks import services
from tasks.models import Priority, RecurringRequest, Task, TaskStatus
from tasks.selectors import (
    REQUEST_GROUPS,
    live_lines_for_client,
    request_tab_counts,
    with_list_data,
)
from tasks.views.shared import TaskMixin, task_url_prefix

CLIENT_ONLY = frozenset({Role.CLIENT})
PAGE_SIZE = 50
# The request list, newest first, paged by keyset through the index task_client_newest.
NEWEST_FIRST = ("-created_at", "-pk")

# -- forms ---------------------------------------------------------------------------------


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """<input type=file multiple>, cleaned to a list of uploads (empty when none)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        uploads = data if isinstance(data, list | tuple) else [data]
        clean_one = super().clean
        return [clean_one(upload, initial) for upload in uploads if upload]


class ServiceRequestForm(forms.Form):
    """What a single and a recurring request share: a contracted service and its own
    request-form fields, which follow the chosen service (swapped in by htmx)."""

    TEMPLATE_PREFIX = "tpl_"
    # A service's errors name the model's fields; some are typed in other form fields.
    ERROR_FIELDS: dict[str, str] = {}

    service = forms.ModelChoiceField(queryset=Service.objects.none(), empty_label=None)
    title = forms.CharField(max_length=200)
    details = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
        help_text="What should be done, and anything the assistant needs to know.",
    )
    priority = forms.TypedChoiceField(choices=Priority.choices, coerce=int, initial=Priority.NORMAL)

    def __init__(self, *args, agency, client, fields_url: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.agency, self.client = agency, client
        contracted = live_lines_for_client(agency=agency, client=client).values("service")
        self.fields["service"].queryset = Service.objects.filter(
            agency=agency, pk__in=contracted
        ).order_by("name")
        self.fields["service"].widget.attrs.update(
            {
                "hx-get": fields_url,
                "hx-trigger": "change",
                "hx-target": "#service-fields",
                "hx-swap": "innerHTML",
            }
        )
        self.template_names = []
        service = self.chosen_service
        if service is not None:
            for name, field in template_form_fields(service.request_template).items():
                self.fields[self.TEMPLATE_PREFIX + name] = field
                self.template_names.append(name)

    @cached_property
    def chosen_service(self) -> Service | None:
        """The service whose fields the form shows: the one posted or asked for if the
        client may request it (else none); on a fresh form, the first one they may."""
        key = self["service"].value()
        services_offered = list(self.fields["service"].queryset)
        for service in services_offered:
            if str(service.pk) == str(key):
                return service
        nothing_chosen = not self.is_bound and key in (None, "")
        return services_offered[0] if services_offered and nothing_chosen else None

    @property
    def template_fields(self):
        """The chosen service's own fields: the htmx-swapped part of the form."""
        return [self[self.TEMPLATE_PREFIX + name] for name in self.template_names]

    due_fields = ()

    def template_data(self) -> dict:
        prefix = self.TEMPLATE_PREFIX
        return {name: self.cleaned_data.get(prefix + name) for name in self.template_names}

    def add_service_error(self, error: ApplicationError) -> None:
        """Show a service's refusal next to the field it names, or at the top."""
        field = error.extra.get("field")
        if error.code == "task_template_invalid":
            field = f"{self.TEMPLATE_PREFIX}{field}"
        else:
            field = self.ERROR_FIELDS.get(field, field)
        self.add_error(field if field in self.fields else None, error.message)


class TaskRequestForm(ServiceRequestForm):
    ERROR_FIELDS = {"due_at": "due_date", "file": "attachments"}

    due_date = forms.DateField(
        label="Due date",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    due_time = forms.TimeField(
        label="Due time",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    max_budget = MoneyField(
        label="Budget (optional)",
        required=False,
        help_text="The most this may cost; the assistant asks you before going over.",
    )
    attachments = MultipleFileField(label="Files (optional)")
    over_cap_approved = forms.BooleanField(
        required=False,
        label="I approve going over this service's monthly budget",
        help_text="Shown when this request would pass the budget your contract sets.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["max_budget"].currency = self.client.currency
        self.fields["max_budget"].label = f"Budget in {self.client.currency} (optional)"
        zone = self.client.time_zone
        self.fields["due_date"].help_text = f"Your time zone: {zone}."
        limit = settings.ATTACHMENT_MAX_BYTES // (1024 * 1024)
        self.fields["attachments"].help_text = (
            f"Up to {limit} MB each: " + ", ".join(sorted(settings.ATTACHMENT_EXTENSIONS)) + "."
        )
        if self.is_bound and self.files:
            # a browser never re-sends files on a page shown again for its errors
            self.fields["attachments"].help_text += " Choose your files again before sending."
        service = self.chosen_service
        if service is not None and not self.is_bound:
            # The service's usual turnaround from now, on the client's own clock.
            due = timezone.now() + dt.timedelta(hours=service.default_turnaround_hours)
            local = due.astimezone(ZoneInfo(zone))
            self.initial["due_date"] = local.date()
            self.initial["due_time"] = local.time().replace(second=0, microsecond=0)

    @property
    def due_fields(self):
        """Swapped with the template fields: their default follows the service's turnaround."""
        return [self["due_date"], self["due_time"]]

    def clean_attachments(self):
        uploads = self.cleaned_data["attachments"]
        refusals = []
        for upload in uploads:
            try:
                services.attachment_check(upload)
            except ApplicationError as refusal:
                refusals.append(f"{upload.name}: {refusal.message}")
        if refusals:
            raise forms.ValidationError(refusals)
        return uploads

    def clean(self):
        data = super().clean()
        day, time = data.get("due_date"), data.get("due_time")
        if (day is None) != (time is None) and not self.has_error("due_date"):
            self.add_error(
                "due_date" if day is None else "due_time",
                "Give both the date and the time, or neither for the usual turnaround.",
            )
        return data

    def due_at(self):
        day, time = self.cleaned_data.get("due_date"), self.cleaned_data.get("due_time")
        if day is None or time is None:
            return None  # the service's usual turnaround
        return dt.datetime.combine(day, time, tzinfo=ZoneInfo(self.client.time_zone))


class RecurringRequestForm(ServiceRequestForm):
    frequency = forms.ChoiceField(
        choices=RecurringRequest.Frequency.choices, widget=forms.RadioSelect, initial="weekly"
    )
    weekday = forms.TypedChoiceField(
        label="Day of the week",
        choices=[("", "—"), *enumerate(recurring_services.WEEKDAYS)],
        coerce=int,
        empty_value=None,
        required=False,
        help_text="For a weekly request.",
    )
    day_of_month = forms.TypedChoiceField(
        label="Day of the month",
        choices=[("", "—"), *((day, day) for day in range(1, 29))],
        coerce=int,
        empty_value=None,
        required=False,
        help_text="For a monthly request (1 to 28: every month has it).",
    )
    time_of_day = forms.TimeField(
        label="Time of day", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_of_day"].help_text = f"Your time zone: {self.client.time_zone}."
        self.fields["service"].widget.attrs["hx-get"] += "?kind=recurring"


# -- pages ---------------------------------------------------------------------------------


class ClientMixin(AgencyViewMixin):
    allowed_roles = CLIENT_ONLY

    @cached_property
    def client(self):
        return self.membership.client

    def get_context_data(self, **kwargs):
        kwargs.setdefault("client", self.client)
        # A client's people read times on their own business's clock.
        kwargs.setdefault("viewer_time_zone", self.client.time_zone)
        return super().get_context_data(**kwargs)


class ClientTaskListView(ClientMixin, TemplateView):
    template_name = "tasks/client_task_list.html"

    def get_context_data(self, **kwargs):
        show = self.request.GET.get("show", "all")
        if show not in REQUEST_GROUPS:
            show = "all"
        tasks = Task.objects.filter(agency=self.agency, client=self.client)
        if show != "all":
            tasks = tasks.filter(REQUEST_GROUPS[show][1])
        tasks = with_list_data(tasks).prefetch_related(
            # every terms version of each row's line, newest first, for terms_in_force
            Prefetch(
                "contract_line__terms", queryset=ContractTerms.objects.order_by("-effective_from")
            )
        )
        page = KeysetPaginator(tasks, ordering=NEWEST_FIRST, per_page=PAGE_SIZE).page_for(
            self.request
        )
        now = timezone.now()
        for task in page:
            task.is_overdue = task.is_open and task.due_at < now
            task.cost = self._cost(task, now)
        counts = request_tab_counts(agency=self.agency, client_id=self.client.pk)
        tabs = [("all", "All", None)] + [
            (key, label, counts.get(key)) for key, (label, _) in REQUEST_GROUPS.items()
        ]
        return super().get_context_data(
            page=page,
            show=show,
            tabs=tabs,
            task_url_prefix=task_url_prefix(self.agency),
            **kwargs,
        )

    @staticmethod
    def _cost(task, now):
        """("amount", minor units) / ("retainer", None) / ("none", None) for one row."""
        if task.status == TaskStatus.CANCELLED:
            return ("none", None)
        terms = terms_in_force(task.contract_line, task.completed_at or now)
        if terms is None:
            return ("none", None)
        estimate = task_estimate(terms, task.minutes_logged)
        if estimate is None or terms.pricing_model == PricingModel.RETAINER:
            return ("retainer", None)
        return ("amount", estimate)


class ClientFormMixin(ClientMixin):
    def get_form_kwargs(self):
        return {
            **super().get_form_kwargs(),
            "agency": self.agency,
            "client": self.client,
            "fields_url": reverse("client_task_fields", kwargs={"agency_slug": self.agency.slug}),
        }

    def get_context_data(self, **kwargs):
        form = kwargs.setdefault("form", self.get_form())
        kwargs.setdefault("has_services", bool(form.fields["service"].choices))
        return super().get_context_data(**kwargs)

    def form_valid(self, form):
        try:
            result = self.perform(form)
        except ApplicationError as error:
            form.add_service_error(error)
            return self.form_invalid(form)
        return self.succeeded(result)


class ClientTaskCreateView(ClientMayMixin, ClientFormMixin, ServiceFormView):
    client_right = ClientRight.REQUEST
    form_class = TaskRequestForm
    template_name = "tasks/client_task_form.html"
    title = "New request"

    def get_initial(self):
        return {"service": self.request.GET.get("service")}

    def perform(self, form):
        data = form.cleaned_data
        stored = []
        try:
            # All or nothing: the task, its files and their audit rows commit together.
            with transaction.atomic():
                task = services.task_request(
                    agency=self.agency,
                    actor=self.request.user,
                    client=self.client,
                    service=data["service"],
                    title=data["title"],
                    details=data["details"],
                    due_at=form.due_at(),
                    priority=data["priority"],
                    max_budget=data["max_budget"],
                    over_cap_approved=data["over_cap_approved"],
                    template_data=form.template_data(),
                )
                for upload in data["attachments"]:
                    stored.append(
                        services.attachment_add(
                            agency=self.agency, actor=self.request.user, task=task, upload=upload
                        )
                    )
        except Exception:
            # Rolled-back rows take no files with them: remove what was already stored.
            for attachment in stored:
                attachment.file.delete(save=False)
            raise
        return task

    def succeeded(self, task):
        messages.success(self.request, f"Request “{task.title}” sent.")
        return redirect("task_detail", agency_slug=self.agency.slug, pk=task.pk)


class ClientTaskFieldsView(ClientMayMixin, ClientMixin, TemplateView):
    """The request-form fields of one service (htmx swaps them in when the service
    changes); a service the client may not request gets no fields."""

    template_name = "tasks/partials/client_service_fields.html"
    client_right = ClientRight.REQUEST

    def get_context_data(self, **kwargs):
        form_class = (
            RecurringRequestForm if self.request.GET.get("kind") == "recurring" else TaskRequestForm
        )
        form = form_class(
            initial={"service": self.request.GET.get("service")},
            agency=self.agency,
            client=self.client,
            fields_url=reverse("client_task_fields", kwargs={"agency_slug": self.agency.slug}),
        )
        return super().get_context_data(form=form, **kwargs)


# -- actions on the task page --------------------------------------------------------------


class ClientTaskActionView(TaskMixin, View):
    allowed_roles = CLIENT_ONLY
    http_method_names = ["post"]
    done_message = ""

    def post(self, request, agency_slug, pk):
        try:
            self.act(self.get_task(), request.POST)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, self.done_message)
        return self.back()

    def act(self, task, data):
        raise NotImplementedError


class TaskApproveView(ClientMayMixin, ClientTaskActionView):
    client_right = ClientRight.APPROVE
    done_message = "Approved. Thank you!"

    def act(self, task, data):
        services.task_approve(
            agency=self.agency,
            actor=self.request.user,
            task=task,
            rating=data.get("rating") or None,
            rating_comment=data.get("rating_comment", ""),
        )


class TaskSendBackView(ClientMayMixin, ClientTaskActionView):
    client_right = ClientRight.APPROVE
    done_message = "Sent back to the assistant with your note."

    def act(self, task, data):
        services.task_send_back(
            agency=self.agency, actor=self.request.user, task=task, reason=data.get("reason", "")
        )


class TaskCancelRequestView(ClientTaskActionView):
    done_message = "Request cancelled."

    def act(self, task, data):
        services.task_cancel(
            agency=self.agency,
            actor=self.request.user,
            membership=self.membership,
            task=task,
            reason=data.get("reason", ""),
        )


# -- recurring requests --------------------------------------------------------------------


class RecurringListView(ClientMixin, TemplateView):
    template_name = "tasks/recurring_list.html"

    def get_context_data(self, **kwargs):
        recurring = list(
            RecurringRequest.objects.filter(agency=self.agency, client=self.client)
            .select_related("service", "client")
            .order_by("-is_active", "next_run_at", "pk")
        )
        for item in recurring:
            item.schedule = recurring_services.schedule_label(item)
        return super().get_context_data(recurring_requests=recurring, **kwargs)


class RecurringCreateView(ClientMayMixin, ClientFormMixin, ServiceFormView):
    client_right = ClientRight.REQUEST
    form_class = RecurringRequestForm
    template_name = "tasks/recurring_form.html"
    title = "New recurring request"

    def get_initial(self):
        return {"service": self.request.GET.get("service"), "time_of_day": dt.time(9, 0)}

    def perform(self, form):
        data = form.cleaned_data
        return recurring_services.recurring_create(
            agency=self.agency,
            actor=self.request.user,
            client=self.client,
            service=data["service"],
            title=data["title"],
            details=data["details"],
            template_data=form.template_data(),
            priority=data["priority"],
            frequency=data["frequency"],
            weekday=data["weekday"],
            day_of_month=data["day_of_month"],
            time_of_day=data["time_of_day"],
        )

    def succeeded(self, recurring):
        messages.success(self.request, f"“{recurring.title}” will be requested on schedule.")
        return redirect("recurring_list", agency_slug=self.agency.slug)


class RecurringSetActiveView(ClientMayMixin, ClientMixin, View):
    client_right = ClientRight.REQUEST
    http_method_names = ["post"]
    active = True

    def post(self, request, agency_slug, pk):
        recurring = get_object_or_404(
            RecurringRequest, agency=self.agency, client=self.client, pk=pk
        )
        try:
            recurring = recurring_services.recurring_set_active(
                agency=self.agency, actor=request.user, recurring=recurring, active=self.active
            )
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request, f"“{recurring.title}” {'resumed' if self.active else 'paused'}."
            )
        return redirect("recurring_list", agency_slug=self.agency.slug)


urlpatterns = [
    path("requests/", ClientTaskListView.as_view(), name="client_task_list"),
    path("requests/new/", ClientTaskCreateView.as_view(), name="client_task_create"),
    path("requests/new/fields/", ClientTaskFieldsView.as_view(), name="client_task_fields"),
    path("requests/recurring/", RecurringListView.as_view(), name="recurring_list"),
    path("requests/recurring/new/", RecurringCreateView.as_view(), name="recurring_create"),
    path(
        "requests/recurring/<int:pk>/pause/",
        RecurringSetActiveView.as_view(active=False),
        name="recurring_pause",
    ),
    path(
        "requests/recurring/<int:pk>/resume/",
        RecurringSetActiveView.as_view(active=True),
        name="recurring_resume",
    ),
    path("tasks/<int:pk>/approve/", TaskApproveView.as_view(), name="task_approve"),
    path("tasks/<int:pk>/send-back/", TaskSendBackView.as_view(), name="task_send_back"),
    path(
        "tasks/<int:pk>/cancel-request/",
        TaskCancelRequestView.as_view(),
        name="task_cancel_request",
    ),
]
