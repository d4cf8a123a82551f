from django import forms

from clients.models import MANUAL_MAX_LENGTH, Client
from core.validators import time_zone_choices


class ClientForm(forms.ModelForm):
    time_zone = forms.ChoiceField(choices=time_zone_choices, initial="UTC")

    class Meta:
        model = Client
        fields = ["name", "billing_email", "time_zone", "currency", "billing_address", "tax_id"]
        labels = {"billing_email": "Billing e-mail"}
        widgets = {"billing_address": forms.Textarea(attrs={"rows": 3})}
        help_texts = {"tax_id": "VAT, GST or other tax number, shown on its invoices."}

    def clean_currency(self):
        return self.cleaned_data["currency"].upper()


class ClientUpdateForm(ClientForm):
    class Meta(ClientForm.Meta):
        fields = [*ClientForm.Meta.fields, "status"]
        help_texts = {
            "status": "An inactive client keeps its history, and its people can still sign in "
            "and read it.",
            "currency": "Contracts keep the currency they were made in; new ones use this.",
        }


class ClientManualForm(forms.Form):
    manual = forms.CharField(
        label="Client manual",
        required=False,
        strip=False,
        max_length=MANUAL_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "true"}),
    )


class ClientFilterForm(forms.Form):
    """The list page's filters, read from the query string."""

    ALL = "all"
    # What the page shows with no query string: the clients the agency works for now.
    DEFAULT_FILTERS = {"status": Client.Status.ACTIVE, "search": ""}

    status = forms.ChoiceField(
        choices=[*Client.Status.choices, (ALL, "All")], required=False, initial=Client.Status.ACTIVE
    )
    q = forms.CharField(label="Search", required=False, max_length=100)

    def filters(self) -> dict:
        """What to pass to the client_list selector; bad input falls back to the defaults."""
        self.is_valid()  # a field with bad input is simply left out of cleaned_data
        data = self.cleaned_data
        status = data.get("status") or Client.Status.ACTIVE
        search = data.get("q", "").strip()
        return {"status": None if status == self.ALL else status, "search": search}
