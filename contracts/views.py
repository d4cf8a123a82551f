from django.contrib import messages
from django.db.models import Count
from django.forms.utils import ErrorDict
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from accounts.access import AgencyViewMixin, StaffViewMixin
from clients.models import Client
from contracts import proposals, selectors, services
from contracts.forms import (
    CategoryForm,
    ContractForm,
    LineForm,
    ServiceForm,
    TemplateFieldFormSet,
    TermsForm,
)
from contracts.models import ContractLine, ContractStatus, Service, ServiceContract
from contracts.request_templates import MAX_FIELDS, field_name_for
from core.errors import ApplicationError
from core.forms import add_application_error
from core.pagination import KeysetPaginator
from core.roles import Role
from core.times import local_today
from core.views import ServiceFormView

# -- the catalogue ----------------------------------------------------------------------


class ServiceListView(StaffViewMixin, TemplateView):
    template_name = "contracts/service_list.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            services=selectors.service_list(agency=self.agency, staffing=True), **kwargs
        )


class CategoryListView(StaffViewMixin, ServiceFormView):
    """The kinds of work the agency does; assistants' skills and services hang on them."""

    template_name = "contracts/category_list.html"
    form_class = CategoryForm
    submit_label = "Add category"

    def get_context_data(self, **kwargs):
        categories = selectors.category_list(agency=self.agency).annotate(
            service_count=Count("services", distinct=True)
        )
        return super().get_context_data(categories=categories, **kwargs)

    def perform(self, data):
        return services.service_category_create(agency=self.agency, actor=self.request.user, **data)

    def succeeded(self, category):
        messages.success(self.request, f"{category.name} added.")
        return redirect("category_list", agency_slug=self.agency.slug)


class ServiceEditView(StaffViewMixin, View):
    """Create or change a catalogue entry, with its request template as rows of fields."""

    template_name = "contracts/service_form.html"

    def get_service(self) -> Service | None:
        if "pk" not in self.kwargs:
            return None
        return get_object_or_404(Service, agency=self.agency, pk=self.kwargs["pk"])

    def get(self, request, **kwargs):
        service = self.get_service()
        initial = None
        rows = []
        if service is not None:
            initial = {
                f: getattr(service, f)
                for f in (
                    "name",
                    "category",
                    "description",
                    "default_pricing_model",
                    "default_price",
                    "default_turnaround_hours",
                    "is_active",
                )
            }
            rows = [
                {**field, "choices": ", ".join(field["choices"])}
                for field in service.request_template
            ]
        form = ServiceForm(agency=self.agency, initial=initial)
        formset = TemplateFieldFormSet(initial=rows, prefix="template")
        return self.render(service, form, formset)

    def post(self, request, **kwargs):
        service = self.get_service()
        if "add_field" in request.POST:
            return self.render_with_another_row(service)
        form = ServiceForm(request.POST, agency=self.agency)
        formset = TemplateFieldFormSet(request.POST, prefix="template")
        if form.is_valid() and formset.is_valid():
            rows = [
                (row_form, row_form.cleaned_data)
                for row_form in formset.forms
                if row_form.cleaned_data and not row_form.cleaned_data.get("DELETE")
            ]
            taken = {row["name"] for _form, row in rows if row.get("name")}
            template = []
            for _form, row in rows:
                name = row.get("name") or field_name_for(row["label"], taken)
                taken.add(name)
                template.append(
                    {
                        "name": name,
                        "label": row["label"],
                        "type": row["type"],
                        "required": row["required"],
                        "choices": [c for c in row["choices"].split(",")],
                    }
                )
            try:
                if service is None:
                    service = services.service_create(
                        agency=self.agency,
                        actor=request.user,
                        request_template=template,
                        **form.cleaned_data,
                    )
                else:
                    services.service_update(
                        agency=self.agency,
                        actor=request.user,
                        service=service,
                        request_template=template,
                        **form.cleaned_data,
                    )
            except ApplicationError as error:
                # At the top of the form, and beside the row it is about.
                add_application_error(form, error)
                row = error.extra.get("row")
                if row is not None and row < len(rows):
                    rows[row][0].add_error("label", error.message)
            else:
                messages.success(request, f"{service.name} saved.")
                return redirect("service_list", agency_slug=self.agency.slug)
        return self.render(service, form, formset)

    def render_with_another_row(self, service):
        """Without scripts, "Add a field" sends the form back to be shown with one more
        empty row; nothing is saved and nothing is marked wrong yet."""
        data = self.request.POST.copy()
        total = "template-TOTAL_FORMS"
        try:
            count = int(data.get(total, 0))
        except ValueError:
            count = 0
        data[total] = str(max(0, min(count, MAX_FIELDS - 1)) + 1)
        form = ServiceForm(agency=self.agency, initial=self.request.POST.dict())
        formset = TemplateFieldFormSet(data, prefix="template")
        # The rows keep what was typed but are not checked yet: that happens on saving.
        for row_form in formset.forms:
            row_form._errors = ErrorDict()
        formset._errors, formset._non_form_errors = [], formset.error_class()
        return self.render(service, form, formset)

    def render(self, service, form, formset):
        unstaffed = False
        if service is not None:
            unstaffed = not (
                selectors.service_list(agency=self.agency, staffing=True)
                .filter(pk=service.pk)
                .values_list("has_skilled_assistant", flat=True)
                .first()
            )
        return render(
            self.request,
            self.template_name,
            self.get_context_data(service=service, form=form, formset=formset, unstaffed=unstaffed),
        )


# -- contracts --------------------------------------------------------------------------


CONTRACTS_PER_PAGE = 50


class ContractListView(StaffViewMixin, TemplateView):
    template_name = "contracts/contract_list.html"

    def get_context_data(self, **kwargs):
        status = self.request.GET.get("status") or None
        if status not in ContractStatus.values:
            status = None
        now = timezone.now()
        # Newest first, by cursor: every page costs one query, and nothing counts them all.
        page = KeysetPaginator(
            selectors.contract_list(agency=self.agency, status=status),
            ordering=("-starts_on", "-pk"),
            per_page=CONTRACTS_PER_PAGE,
        ).page_for(self.request)
        for contract in page:
            contract.standing = selectors.contract_standing(contract, now)
        return super().get_context_data(
            contracts=page,
            page=page,
            status=status,
            statuses=ContractStatus.choices,
            **kwargs,
        )


class ContractCreateView(StaffViewMixin, ServiceFormView):
    form_class = ContractForm
    title = "Draft a contract"
    intro = "Add its services next, then activate it."
    submit_label = "Create draft"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "agency": self.agency}

    def get_initial(self):
        # The contract's days are the client's: it starts on the client's today, which west
        # of the agency may still be the agency's yesterday.
        client = self.chosen_client()
        initial = {"client": client.pk if client else None}
        if client is not None:
            initial["starts_on"] = local_today(client.time_zone)
        return initial

    def chosen_client(self):
        key = self.request.GET.get("client") if self.request.method == "GET" else None
        if not key or not str(key).isdigit():
            return None
        return Client.objects.filter(agency=self.agency, pk=key).first()

    def get_form(self, form_class=None):
        form = super().get_form(form_class)
        client = self.chosen_client()
        if client is not None:
            form.fields["starts_on"].help_text = (
                f"A day on {client.name}'s calendar ({client.time_zone}). "
                + selectors.start_in_zones(
                    form.initial["starts_on"], client.time_zone, self.agency.time_zone
                )
                + "."
            )
        return form

    def perform(self, data):
        return services.contract_create(agency=self.agency, actor=self.request.user, **data)

    def succeeded(self, contract):
        messages.success(self.request, f"Draft “{contract.name}” created. Add its services.")
        return redirect("contract_detail", agency_slug=self.agency.slug, pk=contract.pk)


class ContractMixin(StaffViewMixin):
    def get_contract(self) -> ServiceContract:
        if not hasattr(self, "_contract"):
            self._contract = get_object_or_404(
                selectors.with_lines(ServiceContract.objects.filter(agency=self.agency)),
                pk=self.kwargs["pk"],
            )
        return self._contract

    def back_to_contract(self):
        return redirect("contract_detail", agency_slug=self.agency.slug, pk=self.kwargs["pk"])


class ContractDetailView(ContractMixin, TemplateView):
    template_name = "contracts/contract_detail.html"

    def get_contract(self) -> ServiceContract:
        if not hasattr(self, "_contract"):
            self._contract = get_object_or_404(
                selectors.with_lines(
                    ServiceContract.objects.filter(agency=self.agency), staffing=True
                ),
                pk=self.kwargs["pk"],
            )
        return self._contract

    def get_context_data(self, **kwargs):
        contract = self.get_contract()
        now = timezone.now()
        lines = [
            {
                "line": line,
                "current": selectors.terms_in_force(line, now) or line.terms.all()[0],
                "scheduled": selectors.terms_scheduled(line, now),
                "versions": len(line.terms.all()),
                "unstaffed": line.removed_at is None
                and not selectors.line_has_assistant(contract, line),
            }
            for line in contract.lines.all()
        ]
        contract.line_count = sum(1 for row in lines if row["line"].removed_at is None)
        kwargs.update(
            standing=selectors.contract_standing(contract, now),
            start_note=selectors.start_in_zones(
                contract.starts_on, contract.client.time_zone, self.agency.time_zone
            ),
        )
        actions = [
            (to, label)
            for to, label in [
                (ContractStatus.ACTIVE, "Activate" if contract.status == "draft" else "Resume"),
                (ContractStatus.PAUSED, "Pause"),
                (ContractStatus.ENDED, "End contract"),
            ]
            if to in services.TRANSITIONS[contract.status]
        ]
        kwargs["proposals"] = list(contract.proposals.order_by("-version"))
        return super().get_context_data(contract=contract, lines=lines, actions=actions, **kwargs)


class ContractUpdateView(ContractMixin, ServiceFormView):
    form_class = ContractForm
    title = "Change the contract"
    submit_label = "Save"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "agency": self.agency, "contract": self.get_contract()}

    def get_initial(self):
        contract = self.get_contract()
        return {
            **{f: getattr(contract, f) for f in services.HEADER_FIELDS},
            "dedicated": [d.membership for d in contract.dedicated.all()],
        }

    def get_form(self, form_class=None):
        form = super().get_form(form_class)
        contract = self.get_contract()
        form.fields["starts_on"].help_text = (
            f"A day on {contract.client.name}'s calendar ({contract.client.time_zone}). "
            + selectors.start_in_zones(
                contract.starts_on, contract.client.time_zone, self.agency.time_zone
            )
            + "."
        )
        return form

    def get_context_data(self, **kwargs):
        if self.get_contract().status != ContractStatus.DRAFT:
            kwargs.setdefault(
                "intro",
                "This contract is live: only its name, end date and dedicated "
                "assistants can change, and its start date while no work has been done "
                "under it. Prices change per service, from a date.",
            )
        return super().get_context_data(**kwargs)

    def perform(self, data):
        return services.contract_update(
            agency=self.agency, actor=self.request.user, contract=self.get_contract(), **data
        )

    def succeeded(self, contract):
        messages.success(self.request, "Contract saved.")
        return self.back_to_contract()


class ContractTransitionView(ContractMixin, View):
    http_method_names = ["post"]

    def post(self, request, agency_slug, pk, to):
        contract = self.get_contract()
        if to not in ContractStatus.values:
            messages.error(request, "Unknown contract status.")
            return self.back_to_contract()
        try:
            services.contract_transition(
                agency=self.agency, actor=request.user, contract=contract, to=to
            )
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"The contract is now {contract.get_status_display()}.")
        return self.back_to_contract()


class LineCreateView(ContractMixin, ServiceFormView):
    form_class = LineForm
    template_name = "contracts/terms_form.html"
    title = "Add a service"
    submit_label = "Add service"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "agency": self.agency, "contract": self.get_contract()}

    def get_context_data(self, **kwargs):
        return super().get_context_data(contract=self.get_contract(), **kwargs)

    def perform(self, data):
        return services.contract_line_add(
            agency=self.agency, actor=self.request.user, contract=self.get_contract(), **data
        )

    def succeeded(self, line):
        messages.success(self.request, f"{line.service.name} added.")
        return self.back_to_contract()


class TermsChangeView(ContractMixin, ServiceFormView):
    form_class = TermsForm
    template_name = "contracts/terms_form.html"
    submit_label = "Save terms"

    def get_line(self) -> ContractLine:
        lines = {line.pk: line for line in self.get_contract().lines.all()}
        line = lines.get(self.kwargs["line_pk"])
        if line is None:
            raise Http404("No such line.")
        return line

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "contract": self.get_contract()}

    def get_initial(self):
        line = self.get_line()
        current = selectors.terms_in_force(line, timezone.now()) or line.terms.all()[0]
        return {f: getattr(current, f) for f in services.ALL_TERMS_FIELDS | {"pricing_model"}}

    def get_context_data(self, **kwargs):
        line = self.get_line()
        kwargs.setdefault("title", f"Terms for {line.service.name}")
        return super().get_context_data(contract=self.get_contract(), line=line, **kwargs)

    def perform(self, data):
        return services.contract_line_terms_change(
            agency=self.agency, actor=self.request.user, line=self.get_line(), **data
        )

    def succeeded(self, version):
        messages.success(self.request, "Terms saved.")
        return self.back_to_contract()


class LineRemoveView(ContractMixin, View):
    http_method_names = ["post"]

    def post(self, request, agency_slug, pk, line_pk):
        line = get_object_or_404(ContractLine, agency=self.agency, contract_id=pk, pk=line_pk)
        try:
            services.contract_line_remove(agency=self.agency, actor=request.user, line=line)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"{line.service.name} taken off the contract.")
        return self.back_to_contract()


class OurContractsView(AgencyViewMixin, TemplateView):
    """A client member reads their own client's contracts (drafts stay internal)."""

    allowed_roles = frozenset({Role.CLIENT})
    template_name = "contracts/our_contracts.html"

    def get_context_data(self, **kwargs):
        now = timezone.now()
        contracts = selectors.with_lines(
            selectors.contract_list(
                agency=self.agency, client=self.membership.client, include_drafts=False
            )
        )
        for contract in contracts:
            contract.standing = selectors.contract_standing(contract, now)
            contract.current_lines = [
                (line, selectors.terms_in_force(line, now))
                for line in contract.lines.all()
                if line.removed_at is None
            ]
        kwargs.update(proposals.client_proposals_context(self.agency, self.membership.client))
        return super().get_context_data(contracts=contracts, **kwargs)
