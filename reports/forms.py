import datetime as dt

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.urls import reverse

from accounts.models import Membership
from assistants.selectors import ASSISTANT_EXACT_FIELDS, ASSISTANT_SEARCH_FIELDS, assistant_choices
from clients.models import Client
from clients.selectors import CLIENT_SEARCH_FIELDS, client_choices
from contracts.models import Service
from core.periods import Period, this_month
from core.widgets import SearchChoiceField

# The longest range a report covers: three years keeps any report's work bounded.
MAX_DAYS = 366 * 3
# Reports, like contracts, cover days from 2000 to 2099.
FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2099, 12, 31)
IN_RANGE = [
    MinValueValidator(FIRST_DAY, "A report starts in 2000 or later."),
    MaxValueValidator(LAST_DAY, "A report ends in 2099 or earlier."),
]


class PersonChoiceField(SearchChoiceField):
    def __init__(self, **kwargs):
        super().__init__(
            search_fields=ASSISTANT_SEARCH_FIELDS, exact_fields=ASSISTANT_EXACT_FIELDS, **kwargs
        )

    def label_from_instance(self, membership):
        return membership.user.get_full_name()


class ReportFilterForm(forms.Form):
    """A report's range (agency's calendar, both days included) and filters. Every field is
    optional: an empty range is this month."""

    start = forms.DateField(
        label="From",
        required=False,
        widget=forms.DateInput({"type": "date"}),
        validators=IN_RANGE,
    )
    end = forms.DateField(
        label="To", required=False, widget=forms.DateInput({"type": "date"}), validators=IN_RANGE
    )
    client = SearchChoiceField(
        queryset=Client.objects.none(),
        required=False,
        search_fields=CLIENT_SEARCH_FIELDS,
        placeholder="All clients",
    )
    service = forms.ModelChoiceField(queryset=Service.objects.none(), required=False)
    assistant = PersonChoiceField(
        queryset=Membership.objects.none(), required=False, placeholder="All assistants"
    )

    def __init__(self, *args, agency, filters: tuple[str, ...], **kwargs):
        super().__init__(*args, **kwargs)
        self.agency = agency
        for name in ("client", "service", "assistant"):
            if name not in filters:
                del self.fields[name]
        if "client" in self.fields:
            self.fields["client"].set_search(
                queryset=client_choices(agency=agency),
                url=reverse("client_search", kwargs={"agency_slug": agency.slug}),
            )
        if "service" in self.fields:
            self.fields["service"].queryset = Service.objects.filter(agency=agency).order_by("name")
            self.fields["service"].empty_label = "All services"
        if "assistant" in self.fields:
            self.fields["assistant"].set_search(
                queryset=assistant_choices(agency=agency),
                url=reverse("assistant_search", kwargs={"agency_slug": agency.slug}),
            )

    def clean(self):
        data = super().clean()
        default = this_month(self.agency.time_zone)
        start = data.get("start") or (default.start if not data.get("end") else None)
        end = data.get("end") or (default.end if not data.get("start") else None)
        if start is None:  # only an end: the month it falls in, up to it
            start = end.replace(day=1)
        if end is None:  # only a start: a month from it
            end = min(start + dt.timedelta(days=30), LAST_DAY)
        if start > end:
            raise forms.ValidationError("The range must start on or before its last day.")
        if (end - start).days + 1 > MAX_DAYS:
            raise forms.ValidationError("A report covers at most three years.")
        data["period"] = Period(start, end, self.agency.time_zone)
        return data

    def filters(self) -> dict:
        """The chosen filters as ids for the selectors."""
        return {
            f"{name}_id": self.cleaned_data[name].pk
            for name in ("client", "service", "assistant")
            if self.cleaned_data.get(name) is not None
        }
