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


RIGHT_LABELS = {
    "may_request": ("May request work", "Ask for new work, one-off or recurring."),
    "may_approve": ("May approve work", "Approve finished work or send it back."),
    "may_see_invoices": (
        "May see invoices",
        "Invoices and their documents, the card on file, top-ups and credit notes.",
    ),
}


def _right_field(name: str, initial: bool) -> forms.BooleanField:
    label, help_text = RIGHT_LABELS[name]
    return forms.BooleanField(required=False, initial=initial, label=label, help_text=help_text)


class ColleagueInviteForm(forms.Form):
    """Invite a colleague to the client's team, with what they may do."""

    email = forms.EmailField(label="Their e-mail address")
    may_request = _right_field("may_request", True)
    may_approve = _right_field("may_approve", True)
    may_see_invoices = _right_field("may_see_invoices", False)


class MemberRightsForm(forms.Form):
    """What one of a client's people may do; owners may do everything."""

    is_owner = forms.BooleanField(
        required=False,
        label="Owner",
        help_text="Owners hold every right and decide who is on the team and what each may do.",
    )
    may_request = _right_field("may_request", True)
    may_approve = _right_field("may_approve", True)
    may_see_invoices = _right_field("may_see_invoices", False)
