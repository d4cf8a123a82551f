from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.views import View
from django.views.generic import TemplateView

from accounts.access import AgencyViewMixin, StaffViewMixin
from billing import selectors, services
from billing.charges import charge_list, charge_release, charge_write_off
from billing.forms import (
    CategoryForm,
    ContractForm,
    LineForm,
    ServiceForm,
    TemplateFieldFormSet,
    TermsForm,
)
from billing.invoicing import VOIDABLE, invoice_resend, invoice_void
from billing.models import (
    Charge,
    ChargeStatus,
    CollectionMethod,
    ContractLine,
    ContractStatus,
    Invoice,
    InvoiceStatus,
    Service,
    ServiceContract,
    StripeAccount,
    StripeEvent,
)
from billing.selectors import invoice_list
from billing.stripe_access import stripe_account_check, stripe_account_connect
from clients.models import Client
from core.errors import ApplicationError
from core.forms import add_application_error
from core.roles import Role
from core.views import ServiceFormView

# -- the catalogue ----------------------------------------------------------------------


class ServiceListView(StaffViewMixin, TemplateView):
    template_name = "billing/service_list.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            services=selectors.service_list(agency=self.agency), **kwargs
        )


class CategoryListView(StaffViewMixin, ServiceFormView):
    """The kinds of work the agency does; assistants' skills and services hang on them."""

    template_name = "billing/category_list.html"
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

    template_name = "billing/service_form.html"

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
        form = ServiceForm(request.POST, agency=self.agency)
        formset = TemplateFieldFormSet(request.POST, prefix="template")
        if form.is_valid() and formset.is_valid():
            template = [
                {
                    "name": _field_name(row["label"]),
                    "label": row["label"],
                    "type": row["type"],
                    "required": row["required"],
                    "choices": [c for c in row["choices"].split(",")],
                }
                for row in formset.cleaned_data
                if row and not row.get("DELETE")
            ]
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
                add_application_error(form, error)
            else:
                messages.success(request, f"{service.name} saved.")
                return redirect("service_list", agency_slug=self.agency.slug)
        return self.render(service, form, formset)

    def render(self, service, form, formset):
        return render(
            self.request,
            self.template_name,
            self.get_context_data(service=service, form=form, formset=formset),
        )


def _field_name(label: str) -> str:
    name = slugify(label).replace("-", "_")
    return name if name[:1].isalpha() else f"field_{name}"


# -- contracts --------------------------------------------------------------------------


class ContractListView(StaffViewMixin, TemplateView):
    template_name = "billing/contract_list.html"

    def get_context_data(self, **kwargs):
        status = self.request.GET.get("status") or None
        if status not in ContractStatus.values:
            status = None
        return super().get_context_data(
            contracts=selectors.contract_list(agency=self.agency, status=status),
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
        return {"client": self.request.GET.get("client"), "starts_on": timezone.localdate()}

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
    template_name = "billing/contract_detail.html"

    def get_context_data(self, **kwargs):
        contract = self.get_contract()
        now = timezone.now()
        lines = [
            {
                "line": line,
                "current": selectors.terms_in_force(line, now) or line.terms.all()[0],
                "scheduled": selectors.terms_scheduled(line, now),
                "versions": len(line.terms.all()),
            }
            for line in contract.lines.all()
        ]
        actions = [
            (to, label)
            for to, label in [
                (ContractStatus.ACTIVE, "Activate" if contract.status == "draft" else "Resume"),
                (ContractStatus.PAUSED, "Pause"),
                (ContractStatus.ENDED, "End contract"),
            ]
            if to in services.TRANSITIONS[contract.status]
        ]
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

    def get_context_data(self, **kwargs):
        if self.get_contract().status != ContractStatus.DRAFT:
            kwargs.setdefault(
                "intro",
                "This contract is live: only its name, end date and dedicated "
                "assistants can change. Prices change per service, from a date.",
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
    template_name = "billing/terms_form.html"
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
    template_name = "billing/terms_form.html"
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
    template_name = "billing/our_contracts.html"

    def get_context_data(self, **kwargs):
        now = timezone.now()
        contracts = selectors.with_lines(
            selectors.contract_list(
                agency=self.agency, client=self.membership.client, include_drafts=False
            )
        )
        for contract in contracts:
            contract.current_lines = [
                (line, selectors.terms_in_force(line, now))
                for line in contract.lines.all()
                if line.removed_at is None
            ]
        return super().get_context_data(contracts=contracts, **kwargs)


# -- charges ----------------------------------------------------------------------------

CHARGES_PER_PAGE = 50


class ChargeListView(StaffViewMixin, TemplateView):
    """What clients owe and what was forgiven: unbilled (pending) charges wait for their
    invoice; a pending charge can be written off with a reason."""

    template_name = "billing/charge_list.html"

    def get_context_data(self, **kwargs):
        status = self.request.GET.get("status") or None
        if status not in ChargeStatus.values:
            status = None
        clients = list(Client.objects.filter(agency=self.agency).order_by("name"))
        client = next((c for c in clients if str(c.pk) == self.request.GET.get("client")), None)
        page = Paginator(
            charge_list(agency=self.agency, status=status, client=client), CHARGES_PER_PAGE
        ).get_page(self.request.GET.get("page"))
        return super().get_context_data(
            page=page,
            charges=page.object_list,
            status=status,
            statuses=ChargeStatus.choices,
            clients=clients,
            client=client,
            filtered=bool(status or client),
            **kwargs,
        )


class ChargeWriteOffView(StaffViewMixin, View):
    http_method_names = ["post"]

    def post(self, request, agency_slug, pk):
        charge = get_object_or_404(Charge, agency=self.agency, pk=pk)
        try:
            charge_write_off(
                agency=self.agency,
                actor=request.user,
                charge=charge,
                reason=request.POST.get("reason", ""),
            )
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"“{charge.description}” written off.")
        # Back to the list as it was filtered, and never anywhere else.
        listing = reverse("charge_list", args=[self.agency.slug])
        back = request.POST.get("next", "")
        return redirect(back if back.startswith(listing + "?") else listing)


class ChargeReleaseView(AgencyViewMixin, View):
    """Approve a charge held at the budget cap: the client's own yes, or staff recording it."""

    allowed_roles = frozenset({Role.OWNER, Role.ADMIN, Role.CLIENT})
    http_method_names = ["post"]

    def post(self, request, agency_slug, pk):
        is_client = self.membership.role == Role.CLIENT
        client = self.membership.client if is_client else None
        charge = get_object_or_404(charge_list(agency=self.agency, client=client), pk=pk)
        try:
            charge_release(agency=self.agency, actor=request.user, charge=charge)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"“{charge.description}” approved: it will be invoiced.")
        if is_client:
            return redirect("our_invoices", agency_slug=self.agency.slug)
        listing = reverse("charge_list", args=[self.agency.slug])
        back = request.POST.get("next", "")
        return redirect(back if back.startswith(listing + "?") else listing)


# -- invoices ---------------------------------------------------------------------------

INVOICES_PER_PAGE = 50


class OurInvoicesView(AgencyViewMixin, TemplateView):
    """A client member's invoices from the agency (drafts stay internal), with a link to
    pay the open ones on Stripe's page."""

    allowed_roles = frozenset({Role.CLIENT})
    template_name = "billing/our_invoices.html"

    def get_context_data(self, **kwargs):
        client = self.membership.client
        page = Paginator(
            invoice_list(agency=self.agency, client=client, include_drafts=False),
            INVOICES_PER_PAGE,
        ).get_page(self.request.GET.get("page"))
        held = charge_list(agency=self.agency, status=ChargeStatus.HELD, client=client)
        return super().get_context_data(
            page=page, invoices=page.object_list, client=client, held=held, **kwargs
        )


class OurInvoiceDetailView(AgencyViewMixin, TemplateView):
    allowed_roles = frozenset({Role.CLIENT})
    template_name = "billing/our_invoice_detail.html"

    def get_context_data(self, **kwargs):
        client = self.membership.client
        invoice = get_object_or_404(
            invoice_list(agency=self.agency, client=client, include_drafts=False),
            pk=self.kwargs["pk"],
        )
        return super().get_context_data(invoice=invoice, client=client, **kwargs)


class InvoiceListView(StaffViewMixin, TemplateView):
    template_name = "billing/invoice_list.html"

    def get_context_data(self, **kwargs):
        status = self.request.GET.get("status") or None
        if status not in InvoiceStatus.values:
            status = None
        clients = list(Client.objects.filter(agency=self.agency).order_by("name"))
        client = next((c for c in clients if str(c.pk) == self.request.GET.get("client")), None)
        page = Paginator(
            invoice_list(agency=self.agency, status=status, client=client), INVOICES_PER_PAGE
        ).get_page(self.request.GET.get("page"))
        return super().get_context_data(
            page=page,
            invoices=page.object_list,
            status=status,
            statuses=InvoiceStatus.choices,
            clients=clients,
            client=client,
            filtered=bool(status or client),
            **kwargs,
        )


class InvoiceDetailView(StaffViewMixin, TemplateView):
    template_name = "billing/invoice_detail.html"

    def get_context_data(self, **kwargs):
        invoice = get_object_or_404(invoice_list(agency=self.agency), pk=self.kwargs["pk"])
        events = []
        if invoice.stripe_invoice_id:
            events = StripeEvent.objects.filter(
                agency=self.agency, object_id=invoice.stripe_invoice_id
            )
        return super().get_context_data(
            invoice=invoice,
            events=events,
            can_void=invoice.status in VOIDABLE,
            can_resend=invoice.status == InvoiceStatus.OPEN
            and invoice.collection_method == CollectionMethod.SEND_INVOICE,
            **kwargs,
        )


class InvoiceActionView(StaffViewMixin, View):
    """POST only: act on one invoice through a service, then back to its page."""

    http_method_names = ["post"]

    def act(self, invoice: Invoice) -> str:
        raise NotImplementedError

    def post(self, request, agency_slug, pk):
        invoice = get_object_or_404(Invoice, agency=self.agency, pk=pk)
        try:
            done = self.act(invoice)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, done)
        return redirect("invoice_detail", agency_slug=self.agency.slug, pk=invoice.pk)


class InvoiceVoidView(InvoiceActionView):
    def act(self, invoice):
        invoice_void(
            agency=self.agency,
            actor=self.request.user,
            invoice=invoice,
            reason=self.request.POST.get("reason", ""),
        )
        return f"Invoice {invoice} voided."


class InvoiceResendView(InvoiceActionView):
    def act(self, invoice):
        invoice_resend(agency=self.agency, actor=self.request.user, invoice=invoice)
        return f"Invoice {invoice} sent to {invoice.client.name} again."


# -- the agency's Stripe account --------------------------------------------------------


class StripeConnectForm(forms.Form):
    # Secrets are write-only: never rendered back into the page, even after an error.
    secret_key = forms.CharField(
        label="Secret key",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="From Stripe's dashboard, Developers → API keys: sk_live_… or a restricted "
        "rk_live_… key with customer and invoice access.",
    )
    webhook_secret = forms.CharField(
        label="Webhook signing secret",
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="whsec_…, shown when you add the webhook endpoint below in Stripe.",
    )


class StripeSettingsView(StaffViewMixin, TemplateView):
    """Which Stripe account bills for the agency: its own (connect, replace, test it) or
    the platform's."""

    template_name = "billing/stripe_settings.html"

    def get_context_data(self, **kwargs):
        kwargs.setdefault("form", StripeConnectForm())
        return super().get_context_data(
            account=StripeAccount.objects.filter(agency=self.agency)
            .select_related("connected_by")
            .first(),
            platform_configured=bool(settings.STRIPE_SECRET_KEY),
            webhook_url=self.request.build_absolute_uri(
                reverse("stripe_webhook", args=[self.agency.slug])
            ),
            **kwargs,
        )

    def post(self, request, agency_slug):
        back = redirect("stripe_settings", agency_slug=self.agency.slug)
        if request.POST.get("action") == "check":
            try:
                account = stripe_account_check(agency=self.agency, actor=request.user)
            except ApplicationError as error:
                messages.error(request, error.message)
            else:
                if account.last_check_ok:
                    messages.success(request, "Stripe accepted the key.")
                else:
                    messages.error(request, account.last_check_error)
            return back
        form = StripeConnectForm(request.POST)
        if form.is_valid():
            try:
                account = stripe_account_connect(
                    agency=self.agency, actor=request.user, **form.cleaned_data
                )
            except ApplicationError as error:
                add_application_error(form, error)
            else:
                messages.success(request, f"Stripe account {account.masked_key} connected.")
                return back
        return self.render_to_response(self.get_context_data(form=form))
