from django import forms
from django.urls import reverse

from accounts.models import Agency, Invitation
from core.roles import INVITABLE_ROLE_CHOICES
from core.validators import time_zone_choices
from core.widgets import SearchChoiceField


class AgencyForm(forms.Form):
    name = forms.CharField(max_length=120, label="Agency name")
    slug = forms.SlugField(
        max_length=50,
        required=False,
        label="Web address",
        help_text="Used in links: /a/<address>/. Leave empty to derive it from the name.",
    )
    time_zone = forms.ChoiceField(choices=time_zone_choices, initial="UTC")
    default_currency = forms.CharField(
        max_length=3, initial="USD", help_text="ISO 4217 code, e.g. USD, EUR, GBP."
    )

    def clean_default_currency(self):
        value = self.cleaned_data["default_currency"].upper()
        Agency._meta.get_field("default_currency").run_validators(value)
        return value


class AgencyDetailsForm(forms.ModelForm):
    """What the agency's invoices and pages say of it."""

    time_zone = forms.ChoiceField(choices=time_zone_choices)

    class Meta:
        model = Agency
        fields = [
            "name",
            "time_zone",
            "default_currency",
            "billing_address",
            "tax_id",
            "bill_approved_time_only",
        ]
        labels = {"name": "Agency name", "billing_address": "Address"}
        widgets = {"billing_address": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "billing_address": "Printed on every invoice.",
            "tax_id": "Your VAT, GST or other tax number, printed on every invoice.",
            "default_currency": "For new clients; each client keeps its own.",
            "bill_approved_time_only": (
                "A finished task is charged once all its time is in approved timesheets."
            ),
        }

    def clean_default_currency(self):
        return self.cleaned_data["default_currency"].upper()


class InvitationForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=INVITABLE_ROLE_CHOICES)
    client = SearchChoiceField(
        queryset=None,  # the agency's clients, set per form
        required=False,
        search_fields=("name", "billing_email"),
        placeholder="Type part of the client's name",
        help_text="Required when inviting someone with the client role.",
    )

    def __init__(self, *args, agency, **kwargs):
        super().__init__(*args, **kwargs)
        # Clients sit above accounts: their model is reached through the invitation's
        # foreign key rather than imported.
        clients = Invitation._meta.get_field("client").related_model
        self.fields["client"].set_search(
            queryset=clients.objects.filter(agency=agency).order_by("name", "pk"),
            url=reverse("client_search", kwargs={"agency_slug": agency.slug}),
        )
