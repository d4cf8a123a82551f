"""Staff pages for the agency's tax rates and each client's tax details (billing.tax)."""

from django import forms
from django.contrib import messages
from django.db.models import F
from django.shortcuts import get_object_or_404, redirect
from django.views import View
from django.views.generic import TemplateView

from accounts.access import StaffViewMixin
from billing.models import ClientTaxRate, TaxRate
from billing.tax import (
    TAX_ID_CHOICES,
    client_tax_update,
    tax_rate_archive,
    tax_rate_create,
    tax_rate_update,
)
from clients.models import Client, TaxStatus
from core.errors import ApplicationError
from core.forms import add_application_error


class TaxRateForm(forms.Form):
    display_name = forms.CharField(label="Name on invoices", max_length=50)
    # Checked by billing.tax (0 to 100, at most four decimals), so its message shows here.
    percentage = forms.CharField(label="Percentage", max_length=20)
    inclusive = forms.TypedChoiceField(
        label="The price",
        choices=[("false", "Tax is added on top (exclusive)"), ("true", "Includes the tax")],
        coerce=lambda value: value == "true",
        initial="false",
    )
    country = forms.CharField(label="Country (two letters)", max_length=2, required=False)
    jurisdiction = forms.CharField(max_length=50, required=False)
    description = forms.CharField(max_length=255, required=False)


def tax_rate_list(agency):
    return (
        TaxRate.objects.filter(agency=agency)
        .select_related("replaces")
        .order_by(F("archived_at").asc(nulls_first=True), "display_name", "percentage", "pk")
    )


class TaxRateListView(StaffViewMixin, TemplateView):
    """The agency's tax rates, in force first, and a form to add one."""

    template_name = "billing/tax_rates.html"

    def get_context_data(self, **kwargs):
        kwargs.setdefault("form", TaxRateForm())
        return super().get_context_data(rates=tax_rate_list(self.agency), **kwargs)

    def post(self, request, agency_slug):
        form = TaxRateForm(request.POST)
        if form.is_valid():
            try:
                rate = tax_rate_create(agency=self.agency, actor=request.user, **form.cleaned_data)
            except ApplicationError as error:
                add_application_error(form, error)
            else:
                messages.success(request, f"Tax rate {rate} added.")
                return redirect("tax_rate_list", agency_slug=self.agency.slug)
        return self.render_to_response(self.get_context_data(form=form), status=400)


class TaxRateEditView(StaffViewMixin, TemplateView):
    """Change a rate: a new percentage or inclusiveness makes a new rate in its place."""

    template_name = "billing/tax_rate_edit.html"

    def rate(self):
        return get_object_or_404(TaxRate, agency=self.agency, pk=self.kwargs["pk"])

    def get_context_data(self, **kwargs):
        rate = kwargs.pop("rate", None) or self.rate()
        initial = {
            "display_name": rate.display_name,
            "percentage": f"{rate.percentage.normalize():f}",
            "inclusive": "true" if rate.inclusive else "false",
            "country": rate.country,
            "jurisdiction": rate.jurisdiction,
            "description": rate.description,
        }
        kwargs.setdefault("form", TaxRateForm(initial=initial))
        return super().get_context_data(rate=rate, **kwargs)

    def post(self, request, agency_slug, pk):
        rate = self.rate()
        form = TaxRateForm(request.POST)
        if form.is_valid():
            try:
                now = tax_rate_update(
                    agency=self.agency, actor=request.user, tax_rate=rate, **form.cleaned_data
                )
            except ApplicationError as error:
                add_application_error(form, error)
            else:
                if now.pk != rate.pk:
                    messages.success(request, f"{rate} archived; {now} takes its place.")
                else:
                    messages.success(request, f"Tax rate {now} saved.")
                return redirect("tax_rate_list", agency_slug=self.agency.slug)
        return self.render_to_response(self.get_context_data(rate=rate, form=form), status=400)


class TaxRateArchiveView(StaffViewMixin, View):
    http_method_names = ["post"]

    def post(self, request, agency_slug, pk):
        rate = get_object_or_404(TaxRate, agency=self.agency, pk=pk)
        tax_rate_archive(agency=self.agency, actor=request.user, tax_rate=rate)
        messages.success(request, f"Tax rate {rate} archived: new work no longer carries it.")
        return redirect("tax_rate_list", agency_slug=self.agency.slug)


class ClientTaxForm(forms.Form):
    tax_status = forms.ChoiceField(label="Tax status", choices=TaxStatus.choices)
    tax_id_type = forms.ChoiceField(label="Kind of tax id", choices=TAX_ID_CHOICES, required=False)
    tax_id = forms.CharField(label="Tax id", max_length=64, required=False)
    tax_rates = forms.MultipleChoiceField(
        label="Rates on its work",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="New work carries these; work charged already keeps its own.",
    )

    def __init__(self, *args, rates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tax_rates"].choices = [(str(rate.pk), str(rate)) for rate in rates]


class ClientTaxView(StaffViewMixin, TemplateView):
    """A client's tax status, tax id and default rates."""

    template_name = "billing/client_tax.html"

    def client(self):
        return get_object_or_404(Client, agency=self.agency, pk=self.kwargs["client_pk"])

    def rates(self):
        return list(TaxRate.objects.filter(agency=self.agency, archived_at__isnull=True))

    def get_context_data(self, **kwargs):
        client = kwargs.pop("client", None) or self.client()
        chosen = ClientTaxRate.objects.filter(agency=self.agency, client=client).values_list(
            "tax_rate_id", flat=True
        )
        initial = {
            "tax_status": client.tax_status,
            "tax_id_type": client.tax_id_type,
            "tax_id": client.tax_id,
            "tax_rates": [str(pk) for pk in chosen],
        }
        kwargs.setdefault("form", ClientTaxForm(initial=initial, rates=self.rates()))
        return super().get_context_data(client=client, **kwargs)

    def post(self, request, agency_slug, client_pk):
        client = self.client()
        form = ClientTaxForm(request.POST, rates=self.rates())
        if form.is_valid():
            try:
                client_tax_update(
                    agency=self.agency,
                    actor=request.user,
                    client=client,
                    tax_status=form.cleaned_data["tax_status"],
                    tax_id_type=form.cleaned_data["tax_id_type"],
                    tax_id=form.cleaned_data["tax_id"],
                    tax_rate_ids=form.cleaned_data["tax_rates"],
                )
            except ApplicationError as error:
                add_application_error(form, error)
            else:
                messages.success(request, f"{client.name}'s tax details saved.")
                return redirect("client_tax", agency_slug=self.agency.slug, client_pk=client.pk)
        return self.render_to_response(self.get_context_data(client=client, form=form), status=400)
