"""The agency's late-payment settings page (staff): a late fee and pausing new requests."""

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.shortcuts import redirect

from accounts.access import StaffViewMixin
from billing.late_fees import MAX_DAYS, late_payment_policy_update, policy_for
from billing.models import LateFeeKind
from clients.models import Client
from core.forms import MoneyField
from core.views import ServiceFormView


def billing_currencies(agency) -> list[str]:
    """The currencies the agency bills in: its own and its clients'."""
    found = set(Client.objects.filter(agency=agency).values_list("currency", flat=True))
    return sorted(found | {agency.default_currency})


class LatePaymentForm(forms.Form):
    fee_kind = forms.ChoiceField(
        choices=LateFeeKind.choices, widget=forms.RadioSelect, label="Late fee"
    )
    percent = forms.DecimalField(
        required=False,
        min_value=Decimal("0.01"),
        max_value=Decimal(100),
        decimal_places=2,
        label="Percentage of what is still due",
    )
    fee_after_days = forms.IntegerField(
        min_value=0, max_value=MAX_DAYS, label="Add the fee this many days past the due date"
    )
    pause_requests = forms.BooleanField(
        required=False, label="Pause new requests from a client with an invoice long overdue"
    )
    pause_after_days = forms.IntegerField(
        min_value=0, max_value=MAX_DAYS, label="Pause once an invoice is this many days overdue"
    )

    def __init__(self, *args, currencies: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.currencies = currencies
        for currency in currencies:
            self.fields[f"fixed_{currency}"] = MoneyField(
                required=False,
                currency=currency,
                decimal_places=3,
                label=f"Fixed fee in {currency}",
                help_text="An invoice in a currency with no amount gets no fixed fee.",
            )

    def fixed_amounts(self) -> dict:
        return {
            currency: self.cleaned_data.get(f"fixed_{currency}")
            for currency in self.currencies
            if self.cleaned_data.get(f"fixed_{currency}") is not None
        }


class LatePaymentSettingsView(StaffViewMixin, ServiceFormView):
    form_class = LatePaymentForm
    title = "Late payment"
    intro = (
        "A late fee is added once to each invoice still unpaid that many days after it was "
        "due, as a charge of its own: on the client's next invoice (weekly and monthly "
        "billing) or an invoice of its own (per-task billing). Clients see the fee and any "
        "pause on their dashboard, invoices page and reminders before either applies. Staff "
        "can still request work for a paused client; the pause lifts the moment the invoice "
        "is paid, voided or marked uncollectible."
    )
    submit_label = "Save late-payment settings"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "currencies": billing_currencies(self.agency)}

    def get_initial(self):
        policy = policy_for(self.agency)
        if policy is None:
            return {"fee_kind": LateFeeKind.NONE, "fee_after_days": 7, "pause_after_days": 30}
        initial = {
            "fee_kind": policy.fee_kind,
            "fee_after_days": policy.fee_after_days,
            "pause_requests": policy.pause_requests,
            "pause_after_days": policy.pause_after_days,
            "percent": Decimal(policy.percent_basis_points) / 100
            if policy.percent_basis_points
            else None,
        }
        for currency, amount in policy.fixed_amounts.items():
            initial[f"fixed_{currency}"] = amount
        return initial

    def form_valid(self, form):
        self.form = form
        return super().form_valid(form)

    def perform(self, data):
        percent = data.get("percent")
        return late_payment_policy_update(
            agency=self.agency,
            actor=self.request.user,
            fee_kind=data["fee_kind"],
            fixed_amounts=self.form.fixed_amounts(),
            percent_basis_points=int(percent * 100) if percent is not None else None,
            fee_after_days=data["fee_after_days"],
            pause_requests=data["pause_requests"],
            pause_after_days=data["pause_after_days"],
        )

    def succeeded(self, policy):
        messages.success(self.request, "Late-payment settings saved.")
        return redirect("late_payment_settings", agency_slug=self.agency.slug)
