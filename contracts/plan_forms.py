"""Forms of the plans and of the public page's settings. They parse; the rules live in
contracts.plans and contracts.public_page."""

from django import forms
from django.urls import reverse

from clients.models import Client
from clients.selectors import CLIENT_SEARCH_FIELDS, client_choices
from contracts.forms import TermsForm
from contracts.models import BillingCadence, CollectionMethod, Service
from contracts.plans import DESCRIPTION_MAX, Plan, PlanStatus
from contracts.public_page import LOGO_MAX_BYTES, PITCH_MAX, TURNAROUND_MAX, PublicPrice
from core.forms import MoneyField
from core.validators import BILLING_CURRENCIES
from core.widgets import SearchChoiceField


class PlanForm(forms.Form):
    name = forms.CharField(max_length=120, help_text="What visitors and staff call it.")
    description = forms.CharField(
        required=False,
        max_length=DESCRIPTION_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One or two sentences for the public page: who the plan suits.",
    )
    currency = forms.ChoiceField(
        choices=[(code, code) for code in sorted(BILLING_CURRENCIES)],
        help_text="Only clients paying in this currency can start on the plan.",
    )
    billing_cadence = forms.ChoiceField(choices=BillingCadence.choices)
    collection_method = forms.ChoiceField(choices=CollectionMethod.choices)
    days_until_due = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=365,
        initial=14,
        help_text="When invoices are sent: how many days the client has to pay.",
    )

    def __init__(self, *args, agency, plan: Plan | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].initial = agency.default_currency
        if plan is not None:
            # Its lines' prices are in its currency; a plan in another is a new plan.
            del self.fields["currency"]


class PlanLineForm(TermsForm):
    """A plan's service and its terms: the contract line's own fields, without a date."""

    service = forms.ModelChoiceField(queryset=Service.objects.none())

    field_order = ["service", "pricing_model"]

    def __init__(self, *args, agency, plan: Plan, with_service: bool = True, **kwargs):
        # TermsForm reads a contract for its currency and dates; a plan has no dates.
        forms.Form.__init__(self, *args, **kwargs)
        for name in self.MONEY:
            self.fields[name].currency = plan.currency
        del self.fields["effective_from"]
        if with_service:
            self.fields["service"].queryset = Service.objects.filter(
                agency=agency, is_active=True
            ).select_related("category")
        else:
            del self.fields["service"]


class PlanContractForm(forms.Form):
    """Start a contract for an existing client from a plan."""

    client = SearchChoiceField(
        queryset=Client.objects.none(),
        search_fields=CLIENT_SEARCH_FIELDS,
        placeholder="Type part of the client's name",
    )
    name = forms.CharField(max_length=120, required=False, help_text="Empty: the plan's name.")
    starts_on = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="A day on the client's calendar. Empty: the client's today.",
    )
    ends_on = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Leave empty for an open-ended contract.",
    )

    def __init__(self, *args, agency, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client"].set_search(
            queryset=client_choices(agency=agency),
            url=reverse("client_search", kwargs={"agency_slug": agency.slug}),
        )


class PublicPageForm(forms.Form):
    is_published = forms.BooleanField(
        required=False,
        label="Published",
        help_text="Anyone with the link may read the page; unticked, it does not exist.",
    )
    brand_colour = forms.CharField(
        max_length=7,
        label="Brand colour",
        widget=forms.TextInput(attrs={"type": "color"}),
        help_text="The header's colour; its text turns white or black, whichever reads best.",
    )
    logo = forms.FileField(
        required=False,
        help_text=f"A PNG, JPEG or WebP image of at most {LOGO_MAX_BYTES // 1024} KB.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
    )
    remove_logo = forms.BooleanField(required=False, label="Remove the current logo")
    pitch = forms.CharField(
        required=False,
        max_length=PITCH_MAX,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="A few lines on what you do and for whom. Markdown: **bold**, lists, links.",
    )
    contact_email = forms.EmailField(
        required=False,
        label="Contact e-mail",
        help_text="Where visitors who choose a plan write to you. Needed to publish.",
    )
    signups_need_approval = forms.BooleanField(
        required=False,
        label="Approve online sign-ups first",
        help_text="Ticked, a business that signs up gets a draft contract you activate; "
        "unticked, its contract starts at once.",
    )

    def __init__(self, *args, has_logo: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        # A plain file input: the current logo is shown beside it, and removed with a tick.
        self.fields["logo"].widget = forms.FileInput(attrs=self.fields["logo"].widget.attrs)
        if not has_logo:
            del self.fields["remove_logo"]


class ListedServiceForm(forms.Form):
    """One catalogue service's row on the public page's services form. Ids, not querysets:
    the choices are read once for all rows."""

    service_id = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**63 - 1)
    listed = forms.BooleanField(required=False, label="Listed")
    price_kind = forms.ChoiceField(choices=PublicPrice.choices, label="Price shown")
    price = MoneyField(required=False, decimal_places=3, label="Public price")
    plan_id = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="Plan", choices=()
    )
    turnaround = forms.CharField(
        required=False, max_length=TURNAROUND_MAX, label="Turnaround shown"
    )

    def __init__(self, *args, currency: str, plan_choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan_id"].choices = [("", "—"), *plan_choices]
        self.fields["price"].currency = currency


class BaseListedServiceFormSet(forms.BaseFormSet):
    def __init__(self, *args, agency, **kwargs):
        self.currency = agency.default_currency
        self.plan_choices = list(
            Plan.objects.filter(agency=agency)
            .exclude(status=PlanStatus.ARCHIVED)
            .values_list("pk", "name")
        )
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {
            **super().get_form_kwargs(index),
            "currency": self.currency,
            "plan_choices": self.plan_choices,
        }


ListedServiceFormSet = forms.formset_factory(
    ListedServiceForm, formset=BaseListedServiceFormSet, extra=0, max_num=1000, absolute_max=1000
)
