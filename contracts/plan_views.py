"""Staff pages of the plans: list, draft, change, publish or archive, their services, and
a contract started from one for an existing client."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.views import View
from django.views.generic import TemplateView

from accounts.access import StaffViewMixin
from contracts import plans
from contracts.plan_forms import PlanContractForm, PlanForm, PlanLineForm
from contracts.plans import Plan, PlanLine, PlanStatus
from core.errors import ApplicationError
from core.views import ServiceFormView


class PlanListView(StaffViewMixin, TemplateView):
    """Every plan with its services: three queries however many there are (plans are a
    handful per agency, so the page lists them all)."""

    template_name = "contracts/plan_list.html"

    def get_context_data(self, **kwargs):
        archived = self.request.GET.get("archived") == "1"
        rows = plans.plan_list(agency=self.agency)
        rows = (
            rows.filter(status=PlanStatus.ARCHIVED)
            if archived
            else rows.exclude(status=PlanStatus.ARCHIVED)
        )
        rows = list(rows)
        for plan in rows:
            plan.monthly_fee = plans.plan_monthly_fee(plan)
        return super().get_context_data(plans=rows, archived=archived, **kwargs)


class PlanCreateView(StaffViewMixin, ServiceFormView):
    form_class = PlanForm
    title = "New plan"
    intro = "A contract template: its billing here, its services and prices next."
    submit_label = "Create draft plan"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "agency": self.agency}

    def perform(self, data):
        return plans.plan_create(agency=self.agency, actor=self.request.user, **data)

    def succeeded(self, plan):
        messages.success(self.request, f"Draft plan “{plan.name}” created. Add its services.")
        return redirect("plan_detail", agency_slug=self.agency.slug, pk=plan.pk)


class PlanMixin(StaffViewMixin):
    def get_plan(self) -> Plan:
        if not hasattr(self, "_plan"):
            self._plan = get_object_or_404(
                plans.plan_list(agency=self.agency), pk=self.kwargs["pk"]
            )
        return self._plan

    def back_to_plan(self):
        return redirect("plan_detail", agency_slug=self.agency.slug, pk=self.kwargs["pk"])


class PlanDetailView(PlanMixin, TemplateView):
    template_name = "contracts/plan_detail.html"

    def get_context_data(self, **kwargs):
        plan = self.get_plan()
        actions = []
        if plan.status == PlanStatus.DRAFT:
            actions.append(("plan_publish", "Publish on the public page"))
        if plan.status == PlanStatus.PUBLISHED:
            actions.append(("plan_unpublish", "Take off the public page"))
        if plan.status != PlanStatus.ARCHIVED:
            actions.append(("plan_archive", "Archive"))
        return super().get_context_data(
            plan=plan, monthly_fee=plans.plan_monthly_fee(plan), actions=actions, **kwargs
        )


class PlanUpdateView(PlanMixin, ServiceFormView):
    form_class = PlanForm
    title = "Change the plan"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "agency": self.agency, "plan": self.get_plan()}

    def get_initial(self):
        return {name: getattr(self.get_plan(), name) for name in plans.HEADER_FIELDS}

    def get_context_data(self, **kwargs):
        kwargs.setdefault("intro", "Contracts already started from this plan keep their own terms.")
        return super().get_context_data(**kwargs)

    def perform(self, data):
        return plans.plan_update(
            agency=self.agency, actor=self.request.user, plan=self.get_plan(), **data
        )

    def succeeded(self, plan):
        messages.success(self.request, "Plan saved.")
        return self.back_to_plan()


class PlanActionView(PlanMixin, View):
    """Publish, unpublish or archive (POST only)."""

    http_method_names = ["post"]
    action = ""
    DONE = {
        "publish": "The plan is on the public page.",
        "unpublish": "The plan is off the public page; it is a draft again.",
        "archive": "The plan is archived.",
    }

    def post(self, request, **kwargs):
        service = getattr(plans, f"plan_{self.action}")
        try:
            service(agency=self.agency, actor=request.user, plan=self.get_plan())
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, self.DONE[self.action])
        return self.back_to_plan()


class PlanLineCreateView(PlanMixin, ServiceFormView):
    form_class = PlanLineForm
    template_name = "contracts/plan_line_form.html"
    title = "Add a service to the plan"
    submit_label = "Add service"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "agency": self.agency, "plan": self.get_plan()}

    def get_context_data(self, **kwargs):
        return super().get_context_data(plan=self.get_plan(), **kwargs)

    def perform(self, data):
        return plans.plan_line_add(
            agency=self.agency, actor=self.request.user, plan=self.get_plan(), **data
        )

    def succeeded(self, line):
        messages.success(self.request, f"{line.service.name} added.")
        return self.back_to_plan()


class PlanLineMixin(PlanMixin):
    def get_line(self) -> PlanLine:
        lines = {line.pk: line for line in self.get_plan().lines.all()}
        line = lines.get(self.kwargs["plan_line_pk"])
        if line is None:
            raise Http404("No such service in this plan.")
        line.plan = self.get_plan()
        return line


class PlanLineUpdateView(PlanLineMixin, ServiceFormView):
    form_class = PlanLineForm
    template_name = "contracts/plan_line_form.html"
    submit_label = "Save terms"

    def get_form_kwargs(self):
        return {
            **super().get_form_kwargs(),
            "agency": self.agency,
            "plan": self.get_plan(),
            "with_service": False,
        }

    def get_initial(self):
        return self.get_line().terms()

    def get_context_data(self, **kwargs):
        line = self.get_line()
        kwargs.setdefault("title", f"Terms for {line.service.name}")
        return super().get_context_data(plan=self.get_plan(), line=line, **kwargs)

    def perform(self, data):
        return plans.plan_line_update(
            agency=self.agency, actor=self.request.user, line=self.get_line(), **data
        )

    def succeeded(self, line):
        messages.success(self.request, "Terms saved.")
        return self.back_to_plan()


class PlanLineRemoveView(PlanLineMixin, View):
    http_method_names = ["post"]

    def post(self, request, **kwargs):
        line = self.get_line()
        try:
            plans.plan_line_remove(agency=self.agency, actor=request.user, line=line)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"{line.service.name} taken out of the plan.")
        return self.back_to_plan()


class PlanContractCreateView(PlanMixin, ServiceFormView):
    """A draft contract for an existing client, prefilled from the plan; staff add or
    change what they need on the contract's own pages, then activate it."""

    form_class = PlanContractForm
    submit_label = "Create draft contract"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "agency": self.agency}

    def get_context_data(self, **kwargs):
        plan = self.get_plan()
        kwargs.setdefault("title", f"Start a contract from “{plan.name}”")
        kwargs.setdefault(
            "intro",
            f"A draft contract with the plan's {len(plan.lines.all())} service(s) and their "
            f"terms, billed {plan.get_billing_cadence_display().lower()}. The client must pay "
            f"in {plan.currency}.",
        )
        return super().get_context_data(**kwargs)

    def perform(self, data):
        return plans.contract_from_plan(
            agency=self.agency, actor=self.request.user, plan=self.get_plan(), **data
        )

    def succeeded(self, contract):
        messages.success(self.request, f"Draft “{contract.name}” created from the plan.")
        return redirect("contract_detail", agency_slug=self.agency.slug, pk=contract.pk)


# Pages inside one agency, mounted under /a/<agency_slug>/ (contracts.urls).
urlpatterns = [
    path("plans/", PlanListView.as_view(), name="plan_list"),
    path("plans/new/", PlanCreateView.as_view(), name="plan_create"),
    path("plans/<int:pk>/", PlanDetailView.as_view(), name="plan_detail"),
    path("plans/<int:pk>/edit/", PlanUpdateView.as_view(), name="plan_update"),
    path("plans/<int:pk>/publish/", PlanActionView.as_view(action="publish"), name="plan_publish"),
    path(
        "plans/<int:pk>/unpublish/",
        PlanActionView.as_view(action="unpublish"),
        name="plan_unpublish",
    ),
    path("plans/<int:pk>/archive/", PlanActionView.as_view(action="archive"), name="plan_archive"),
    path("plans/<int:pk>/services/new/", PlanLineCreateView.as_view(), name="plan_line_create"),
    path(
        "plans/<int:pk>/services/<int:plan_line_pk>/",
        PlanLineUpdateView.as_view(),
        name="plan_line_update",
    ),
    path(
        "plans/<int:pk>/services/<int:plan_line_pk>/remove/",
        PlanLineRemoveView.as_view(),
        name="plan_line_remove",
    ),
    path("plans/<int:pk>/contract/", PlanContractCreateView.as_view(), name="plan_contract_create"),
]
