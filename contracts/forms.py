from django import forms
from django.urls import reverse

from accounts.models import Membership
from clients.models import Client
from clients.selectors import CLIENT_SEARCH_FIELDS, client_choices
from contracts.models import (
    BillingCadence,
    CapBehaviour,
    CollectionMethod,
    PricingModel,
    Service,
    ServiceCategory,
    ServiceContract,
)
from contracts.request_templates import FIELD_TYPES, MAX_FIELDS
from core.forms import HoursField, MoneyField
from core.roles import Role
from core.times import local_midnight
from core.widgets import SearchChoiceField, SearchMultipleChoiceField


class CategoryForm(forms.Form):
    name = forms.CharField(max_length=80, label="New category")


class ServiceForm(forms.Form):
    name = forms.CharField(max_length=120)
    category = forms.ModelChoiceField(queryset=ServiceCategory.objects.none())
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    default_pricing_model = forms.ChoiceField(
        label="Default pricing",
        choices=[(PricingModel.HOURLY, "Hourly"), (PricingModel.FLAT, "Flat fee per task")],
    )
    default_price = MoneyField(
        label="Default price",
        decimal_places=3,
        help_text="Per task or per hour, in the agency's default currency.",
    )
    default_turnaround_hours = forms.IntegerField(
        label="Default turnaround (hours)", min_value=1, max_value=24 * 90, initial=48
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Offered to clients")

    def __init__(self, *args, agency, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = ServiceCategory.objects.filter(agency=agency)
        self.fields["default_price"].currency = agency.default_currency


class TemplateFieldForm(forms.Form):
    """One row of a service's request template. Its key is made from the label when the row
    is first saved and kept after (hidden), so answers already given keep their field."""

    name = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)
    label = forms.CharField(max_length=80)
    type = forms.ChoiceField(choices=list(FIELD_TYPES.items()), initial="text")
    required = forms.BooleanField(required=False)
    choices = forms.CharField(
        required=False,
        max_length=1000,
        help_text="For a choice field: options separated by commas.",
    )


# A few empty rows for a browser without scripts; with them, "Add a field" adds rows up to
# the template's limit.
TemplateFieldFormSet = forms.formset_factory(
    TemplateFieldForm,
    extra=3,
    max_num=MAX_FIELDS,
    absolute_max=MAX_FIELDS,
    validate_max=True,
    can_delete=True,
)


class ContractForm(forms.Form):
    client = SearchChoiceField(
        queryset=Client.objects.none(),
        search_fields=CLIENT_SEARCH_FIELDS,
        placeholder="Type part of the client's name",
    )
    name = forms.CharField(max_length=120, help_text="e.g. “2026 support retainer”.")
    starts_on = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="A day on the client's calendar (their time zone): the contract starts at "
        "00:00 there. Empty: the client's today.",
    )
    ends_on = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The last day, on the client's calendar. Leave empty for an open-ended contract.",
    )
    billing_cadence = forms.ChoiceField(choices=BillingCadence.choices)
    collection_method = forms.ChoiceField(
        choices=CollectionMethod.choices,
        help_text="Card on file: the client's people save the card on their invoices page. "
        "Until they do, their dashboard says so, and each invoice is sent by e-mail to pay "
        "with a link instead of failing.",
    )
    days_until_due = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=365,
        initial=14,
        help_text="When invoices are sent: how many days the client has to pay.",
    )
    requires_approval = forms.BooleanField(
        required=False,
        label="Bill on approval",
        help_text="Bill a task only once the client approves it (otherwise on completion).",
    )
    dedicated = SearchMultipleChoiceField(
        queryset=Membership.objects.none(),
        search_fields=("user__full_name", "user__email"),
        exact_fields=("user__email", "user__full_name"),
        placeholder="Type part of an assistant's name",
        required=False,
        label="Dedicated assistants",
        help_text="If any are chosen, only they take this client's work.",
    )

    def __init__(self, *args, agency, contract: ServiceContract | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client"].set_search(
            queryset=client_choices(agency=agency),
            url=reverse("client_search", kwargs={"agency_slug": agency.slug}),
        )
        # Active assistants only, as the service requires; the search offers no others.
        self.fields["dedicated"].set_search(
            queryset=Membership.objects.filter(agency=agency, role=Role.ASSISTANT, is_active=True)
            .select_related("user")
            .order_by("user__full_name", "user__email", "pk"),
            url=reverse("assistant_search", kwargs={"agency_slug": agency.slug}) + "?active=1",
        )
        self.fields["dedicated"].label_from_instance = lambda m: m.user.get_full_name()
        if contract is not None:
            del self.fields["client"]  # a contract never moves to another client
            self.fields["starts_on"].required = True


class TermsForm(forms.Form):
    """A line's pricing. Which fields are required depends on the pricing model; the
    service checks that, so the rule lives in one place."""

    pricing_model = forms.ChoiceField(choices=PricingModel.choices)
    flat_fee = MoneyField(required=False, decimal_places=3, label="Fee per task")
    hourly_rate = MoneyField(required=False, decimal_places=3, label="Hourly rate")
    rounding_increment_minutes = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=240,
        initial=15,
        label="Round time up to (minutes)",
    )
    minimum_minutes = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=24 * 60,
        initial=0,
        label="Minimum per task (minutes)",
    )
    retainer_fee = MoneyField(required=False, decimal_places=3, label="Monthly retainer fee")
    included_minutes = HoursField(required=False, label="Hours included per month")
    rollover_cap_minutes = HoursField(required=False, label="Rollover cap (hours)")
    overage_rate = MoneyField(required=False, decimal_places=3, label="Overage hourly rate")
    banked_hours_expire_after_months = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=120,
        label="Banked hours expire after (months)",
        help_text="Optional. Rolled-over hours older than this are gone; empty: never.",
    )
    top_up_rate = MoneyField(
        required=False,
        decimal_places=3,
        label="Top-up hourly price",
        help_text="Optional. What an extra hour the client buys costs; empty: the overage rate.",
    )
    monthly_budget_cap = MoneyField(
        required=False,
        decimal_places=3,
        label="Monthly budget cap",
        help_text="Optional. What this service may cost in a calendar month.",
    )
    cap_behaviour = forms.ChoiceField(choices=CapBehaviour.choices, label="At the cap")
    effective_from = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        label="Effective from",
        help_text="Live contracts: the day (client's time zone) the new terms start. "
        "Empty means now.",
    )

    MONEY = (
        "flat_fee",
        "hourly_rate",
        "retainer_fee",
        "overage_rate",
        "top_up_rate",
        "monthly_budget_cap",
    )

    def __init__(self, *args, contract: ServiceContract, **kwargs):
        super().__init__(*args, **kwargs)
        self.contract = contract
        for name in self.MONEY:
            self.fields[name].currency = contract.currency
        if contract.status == "draft":
            del self.fields["effective_from"]

    def clean_effective_from(self):
        day = self.cleaned_data.get("effective_from")
        if day is None:
            return None
        return local_midnight(day, self.contract.client.time_zone)


class LineForm(TermsForm):
    service = forms.ModelChoiceField(queryset=Service.objects.none())

    field_order = ["service", "pricing_model"]

    def __init__(self, *args, agency, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = Service.objects.filter(
            agency=agency, is_active=True
        ).select_related("category")
