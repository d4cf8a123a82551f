from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Prefetch, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from accounts.access import AgencyViewMixin, StaffViewMixin
from billing.cards import (
    card_on_file_cached,
    card_portal_url,
    card_setup_finish,
    card_setup_start,
    needs_card_on_file,
)
from billing.charges import charge_list, charge_release, charge_write_off
from billing.credit_notes import CREDITABLE, MEMO_MAX, credit_note_issue
from billing.documents import invoice_document, invoice_pdf, pdf_filename
from billing.invoicing import VOIDABLE, invoice_client_now, invoice_resend, invoice_void
from billing.models import (
    Charge,
    ChargeStatus,
    CreditNote,
    CreditNoteReason,
    CreditSettlement,
    Invoice,
    InvoiceStatus,
    StripeAccount,
    StripeEvent,
    VoidedCharges,
)
from billing.selectors import invoice_list
from billing.stripe_access import stripe_account_check, stripe_account_connect, stripe_enabled_for
from clients.models import Client
from clients.permissions import ClientMayMixin, ClientRight
from clients.selectors import CLIENT_SEARCH_FIELDS, client_choices
from contracts.models import BillingCadence, CollectionMethod
from core.errors import ApplicationError
from core.forms import MoneyField, add_application_error
from core.money import format_money
from core.pagination import KeysetPaginator, bounded_count
from core.roles import Role
from core.widgets import SearchChoiceField, SearchSelect

# -- charges ----------------------------------------------------------------------------


class ClientFilterForm(forms.Form):
    """A list's client filter: a search field (an agency has a thousand clients, too many
    for a select); bad input is simply no filter."""

    client = SearchChoiceField(
        queryset=Client.objects.none(),
        required=False,
        search_fields=CLIENT_SEARCH_FIELDS,
        placeholder="All clients",
        widget=SearchSelect(attrs={"data-submit-on-pick": ""}),
    )

    def __init__(self, *args, agency, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client"].set_search(
            queryset=client_choices(agency=agency),
            url=reverse("client_search", kwargs={"agency_slug": agency.slug}),
        )

    def chosen(self):
        self.is_valid()
        return self.cleaned_data.get("client")


CHARGES_PER_PAGE = 50


class ChargeListView(StaffViewMixin, TemplateView):
    """What clients owe and what was forgiven: unbilled (pending) charges wait for their
    invoice; a pending charge can be written off with a reason."""

    template_name = "billing/charge_list.html"

    def get_context_data(self, **kwargs):
        status = self.request.GET.get("status") or None
        if status not in ChargeStatus.values:
            status = None
        client_form = ClientFilterForm(self.request.GET, agency=self.agency)
        client = client_form.chosen()
        charges = charge_list(agency=self.agency, status=status, client=client)
        # Keyset pages and a bounded count: an agency's charges grow without end, and page
        # numbers would count (and skip) all of them on every view.
        page = KeysetPaginator(
            charges, ordering=("-created_at", "-pk"), per_page=CHARGES_PER_PAGE
        ).page_for(self.request)
        # A weekly or monthly client with unbilled charges can be invoiced before beat
        # closes its period.
        can_invoice_now = (
            client is not None
            and Charge.objects.filter(
                agency=self.agency, client=client, status=ChargeStatus.PENDING, invoice=None
            )
            .exclude(contract_line__contract__billing_cadence=BillingCadence.PER_TASK)
            .exists()
        )
        return super().get_context_data(
            page=page,
            charges=page.object_list,
            total=bounded_count(charges),
            status=status,
            statuses=ChargeStatus.choices,
            client_form=client_form,
            client=client,
            filtered=bool(status or client),
            can_invoice_now=can_invoice_now,
            **kwargs,
        )


class InvoiceClientNowView(StaffViewMixin, View):
    """Close a weekly or monthly client's open period early: its invoice now."""

    http_method_names = ["post"]

    def post(self, request, agency_slug, client_pk):
        client = get_object_or_404(Client, agency=self.agency, pk=client_pk)
        try:
            made = invoice_client_now(agency=self.agency, actor=request.user, client=client)
        except ApplicationError as error:
            messages.error(request, error.message)
            listing = reverse("charge_list", args=[self.agency.slug])
            return redirect(f"{listing}?client={client.pk}")
        if not made:
            messages.info(request, f"{client.name}'s charges were invoiced meanwhile.")
            return redirect(reverse("invoice_list", args=[self.agency.slug]))
        messages.success(
            request, f"Invoiced {client.name} now: " + ", ".join(str(i) for i in made) + "."
        )
        return redirect(reverse("invoice_detail", args=[self.agency.slug, made[-1].pk]))


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


class ChargeReleaseView(ClientMayMixin, AgencyViewMixin, View):
    """Approve a charge held at the budget cap: the client's own yes, or staff recording it."""

    allowed_roles = frozenset({Role.OWNER, Role.ADMIN, Role.CLIENT})
    client_right = ClientRight.APPROVE
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


class OurInvoicesView(ClientMayMixin, AgencyViewMixin, TemplateView):
    """A client member's invoices from the agency (drafts stay internal), with a link to
    pay the open ones on Stripe's page, and the card on file (where Stripe comes back to
    after a card is saved: ?card_setup=<session id>)."""

    allowed_roles = frozenset({Role.CLIENT})
    client_right = ClientRight.INVOICES
    template_name = "billing/our_invoices.html"

    def get(self, request, *args, **kwargs):
        if "card_setup" in request.GET:
            return _card_setup_returned(request, self.agency, self.membership.client)
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        client = self.membership.client
        page = Paginator(
            invoice_list(agency=self.agency, client=client, include_drafts=False),
            INVOICES_PER_PAGE,
        ).get_page(self.request.GET.get("page"))
        held = charge_list(agency=self.agency, status=ChargeStatus.HELD, client=client)
        return super().get_context_data(
            page=page,
            invoices=page.object_list,
            client=client,
            held=held,
            cards=_card_box(self.agency, client),
            **kwargs,
        )


class OurInvoiceDetailView(ClientMayMixin, AgencyViewMixin, TemplateView):
    allowed_roles = frozenset({Role.CLIENT})
    client_right = ClientRight.INVOICES
    template_name = "billing/our_invoice_detail.html"

    def get_context_data(self, **kwargs):
        client = self.membership.client
        invoice = get_object_or_404(
            invoice_without_lines(
                invoice_list(agency=self.agency, client=client, include_drafts=False)
            ),
            pk=self.kwargs["pk"],
        )
        return super().get_context_data(
            invoice=invoice,
            client=client,
            lines=invoice_lines_page(self.request, invoice),
            **kwargs,
        )


def _document(request, agency, invoice, back: str) -> HttpResponse:
    """The invoice's printable page, or with ?format=pdf the same as a PDF file; private,
    like every invoice, so never kept by a shared cache."""
    if request.GET.get("format") == "pdf":
        try:
            body = invoice_pdf(agency=agency, invoice=invoice)
        except ApplicationError as error:
            messages.error(request, error.message)
            return redirect(back)
        response = HttpResponse(body, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{pdf_filename(invoice)}"'
    else:
        response = HttpResponse(
            invoice_document(agency=agency, invoice=invoice, back=back, request=request)
        )
    response["Cache-Control"] = "private, no-store"
    return response


class OurInvoiceDocumentView(ClientMayMixin, AgencyViewMixin, View):
    allowed_roles = frozenset({Role.CLIENT})
    client_right = ClientRight.INVOICES
    http_method_names = ["get"]

    def get(self, request, agency_slug, pk):
        client = self.membership.client
        invoice = get_object_or_404(
            invoice_list(agency=self.agency, client=client, include_drafts=False), pk=pk
        )
        back = reverse("our_invoice_detail", args=[self.agency.slug, invoice.pk])
        return _document(request, self.agency, invoice, back)


class InvoiceDocumentView(StaffViewMixin, View):
    http_method_names = ["get"]

    def get(self, request, agency_slug, pk):
        invoice = get_object_or_404(invoice_list(agency=self.agency), pk=pk)
        back = reverse("invoice_detail", args=[self.agency.slug, invoice.pk])
        return _document(request, self.agency, invoice, back)


class InvoiceListView(StaffViewMixin, TemplateView):
    template_name = "billing/invoice_list.html"

    def get_context_data(self, **kwargs):
        status = self.request.GET.get("status") or None
        if status not in InvoiceStatus.values:
            status = None
        client_form = ClientFilterForm(self.request.GET, agency=self.agency)
        client = client_form.chosen()
        # A line count, not every line of every invoice on the page loaded to count them;
        # counted per row shown (a subquery), never grouped over every invoice's lines.
        lines = (
            Charge.objects.filter(invoice=OuterRef("pk"))
            .order_by()
            .values("invoice")
            .annotate(count=Count("pk"))
            .values("count")
        )
        invoices = (
            invoice_list(agency=self.agency, status=status, client=client)
            .prefetch_related(None)
            .annotate(line_count=Coalesce(Subquery(lines), 0))
        )
        page = Paginator(invoices, INVOICES_PER_PAGE).get_page(self.request.GET.get("page"))
        return super().get_context_data(
            page=page,
            invoices=page.object_list,
            status=status,
            statuses=InvoiceStatus.choices,
            client_form=client_form,
            client=client,
            filtered=bool(status or client),
            **kwargs,
        )


class CreditNoteForm(forms.Form):
    """A credit on an invoice: a line (charge) in whole or part, or an amount."""

    charge = forms.TypedChoiceField(
        label="Line", required=False, coerce=int, empty_value=None, choices=()
    )
    amount = MoneyField(
        label="Amount",
        required=False,
        decimal_places=3,
        help_text="Empty: the whole line. A line's amount as the line shows it: its tax is "
        "credited with it.",
    )
    reason = forms.ChoiceField(choices=CreditNoteReason.choices)
    memo = forms.CharField(
        label="Note to the client", max_length=MEMO_MAX, widget=forms.Textarea(attrs={"rows": 2})
    )
    settlement = forms.ChoiceField(
        label="The money",
        required=False,
        choices=[
            (CreditSettlement.REFUND, CreditSettlement.REFUND.label),
            (CreditSettlement.BALANCE, CreditSettlement.BALANCE.label),
        ],
    )

    def __init__(self, *args, invoice: Invoice, lines=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.invoice = invoice
        self.fields["amount"].currency = invoice.currency
        # The lines on the page shown, not every line: an invoice may have hundreds. A line
        # sent from another page of them is still one of the invoice's.
        choices = [(charge.pk, charge.description) for charge in lines]
        posted = str(self.data.get("charge", "")) if self.is_bound else ""
        if posted.isdigit() and int(posted) not in {pk for pk, _ in choices}:
            charge = Charge.objects.filter(
                agency_id=invoice.agency_id, invoice=invoice, pk=int(posted)
            ).first()
            if charge is not None:
                choices.append((charge.pk, charge.description))
        self.fields["charge"].choices = [("", "No line: an amount off the invoice"), *choices]
        self.fields["charge"].help_text = "One of the lines on this page of the invoice."
        if invoice.status != InvoiceStatus.PAID:
            del self.fields["settlement"]


LINES_PER_PAGE = 50


def invoice_without_lines(invoices):
    """The invoice selector's rows without every line loaded: its page shows one page of
    lines (invoice_lines_page) and takes its totals from the invoice's own figures."""
    return invoices.prefetch_related(None).prefetch_related(
        Prefetch(
            "credit_notes",
            queryset=CreditNote.objects.select_related("charge").order_by("created_at", "pk"),
        )
    )


def invoice_lines_page(request, invoice):
    """One page of the invoice's lines, in the order the invoice lists them."""
    return KeysetPaginator(
        Charge.objects.filter(agency_id=invoice.agency_id, invoice=invoice).select_related(
            "task", "contract_line__service", "terms"
        ),
        ordering=("created_at", "pk"),
        per_page=LINES_PER_PAGE,
        cursor_param="lines",
    ).page_for(request)


class InvoiceDetailView(StaffViewMixin, TemplateView):
    template_name = "billing/invoice_detail.html"

    def get_context_data(self, **kwargs):
        invoice = get_object_or_404(
            invoice_without_lines(invoice_list(agency=self.agency)), pk=self.kwargs["pk"]
        )
        lines = invoice_lines_page(self.request, invoice)
        kwargs.setdefault("lines", lines)
        if invoice.status in CREDITABLE and invoice.stripe_invoice_id:
            kwargs.setdefault("credit_form", CreditNoteForm(invoice=invoice, lines=lines))
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
            charges=self.request.POST.get("charges", VoidedCharges.REBILL),
        )
        if self.request.POST.get("charges") == VoidedCharges.WRITE_OFF:
            return f"Invoice {invoice} voided; its charges are written off."
        return f"Invoice {invoice} voided; its charges go on the next invoice."


class InvoiceCreditView(InvoiceDetailView):
    """Issue a credit note; a form error shows the invoice page again with what was typed."""

    http_method_names = ["post"]

    def post(self, request, agency_slug, pk):
        invoice = get_object_or_404(Invoice, agency=self.agency, pk=pk)
        form = CreditNoteForm(request.POST, invoice=invoice)
        if form.is_valid():
            data = form.cleaned_data
            charge = None
            if data["charge"] is not None:
                charge = Charge.objects.filter(
                    agency=self.agency, invoice=invoice, pk=data["charge"]
                ).first()
            try:
                note = credit_note_issue(
                    agency=self.agency,
                    actor=request.user,
                    invoice=invoice,
                    charge=charge,
                    amount=data["amount"],
                    reason=data["reason"],
                    memo=data["memo"],
                    settlement=data.get("settlement"),
                )
            except ApplicationError as error:
                add_application_error(form, error)
            else:
                amount = format_money(note.amount, note.currency)
                messages.success(request, f"Credit note {note} for {amount} issued.")
                return redirect("invoice_detail", agency_slug=self.agency.slug, pk=invoice.pk)
        context = self.get_context_data(credit_form=form)
        return self.render_to_response(context, status=400)


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


# -- the client's card on file ----------------------------------------------------------


def _see_other(url: str) -> HttpResponse:
    """Off to Stripe's page after a POST (303: the browser follows it with a GET)."""
    return HttpResponse(status=303, headers={"Location": url})


def _card_box(agency, client) -> dict:
    """What the invoices page says of the card on file, as Stripe has it (cached briefly;
    saving a card or opening the portal drops the copy, so coming back reads it afresh)."""
    if not stripe_enabled_for(agency):
        return {"enabled": False}
    box = {
        "enabled": True,
        "card": None,
        "error": "",
        "needed": False,
        # The portal (every saved card, which is the default) is there once a card was.
        "has_customer": bool(client.stripe_customer_id),
    }
    try:
        box["card"] = card_on_file_cached(agency=agency, client=client)
    except ApplicationError as error:
        box["error"] = error.message
    else:
        box["needed"] = box["card"] is None and needs_card_on_file(agency=agency, client=client)
    return box


def _card_setup_returned(request, agency, client) -> HttpResponse:
    """Back from Stripe's page: the card saved there becomes the one on file; then the
    invoices page without the session id, so that a reload does not ask again."""
    returned = request.GET.get("card_setup", "")
    if returned == "cancelled":
        messages.info(request, "No card was saved.")
    else:
        try:
            card_setup_finish(agency=agency, client=client, session_id=returned, actor=request.user)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, "Card saved.")
    return redirect("our_invoices", agency_slug=agency.slug)


class CardSetupView(ClientMayMixin, AgencyViewMixin, View):
    """Off to Stripe's page to save a card (or a new one in place of the card on file).
    Only the client's own people: staff never handle a client's card, assistants never
    see billing."""

    allowed_roles = frozenset({Role.CLIENT})
    client_right = ClientRight.INVOICES
    http_method_names = ["post"]

    def post(self, request, agency_slug):
        back = reverse("our_invoices", args=[self.agency.slug])
        here = request.build_absolute_uri(back)
        try:
            url = card_setup_start(
                agency=self.agency,
                actor=request.user,
                client=self.membership.client,
                success_url=f"{here}?card_setup={{CHECKOUT_SESSION_ID}}",
                cancel_url=f"{here}?card_setup=cancelled",
            )
        except ApplicationError as error:
            messages.error(request, error.message)
            return redirect(back)
        return _see_other(url)


class CardPortalView(ClientMayMixin, AgencyViewMixin, View):
    """Off to Stripe's customer portal, to make another card the default or remove one."""

    allowed_roles = frozenset({Role.CLIENT})
    client_right = ClientRight.INVOICES
    http_method_names = ["post"]

    def post(self, request, agency_slug):
        back = reverse("our_invoices", args=[self.agency.slug])
        try:
            url = card_portal_url(
                agency=self.agency,
                client=self.membership.client,
                return_url=request.build_absolute_uri(back),
            )
        except ApplicationError as error:
            messages.error(request, error.message)
            return redirect(back)
        return _see_other(url)
