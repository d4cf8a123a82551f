import datetime as dt

from django import forms

from contracts.models import QuoteRequest, QuoteRequestStatus
from contracts.proposals import DETAILS_LIMIT, NOTE_LIMIT, REASON_LIMIT
from core.times import local_midnight, local_today


class QuoteRequestForm(forms.Form):
    details = forms.CharField(
        label="What do you need?",
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=DETAILS_LIMIT,
        help_text="The work, how often, any deadlines: the agency answers with a proposal.",
    )


class ProposalSendForm(forms.Form):
    expires_on = forms.DateField(
        label="Open until",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The last day the client can accept, in the client's time zone.",
    )
    note = forms.CharField(
        label="Note to the client",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=NOTE_LIMIT,
        required=False,
    )
    quote_request = forms.ModelChoiceField(
        label="Answers the quote request",
        queryset=QuoteRequest.objects.none(),
        required=False,
        empty_label="None",
    )

    def __init__(self, *args, contract, **kwargs):
        super().__init__(*args, **kwargs)
        self.contract = contract
        zone = contract.client.time_zone
        self.fields["expires_on"].initial = local_today(zone) + dt.timedelta(days=14)
        self.fields["quote_request"].queryset = QuoteRequest.objects.filter(
            agency_id=contract.agency_id,
            client_id=contract.client_id,
            status__in=[QuoteRequestStatus.OPEN, QuoteRequestStatus.ANSWERED],
        ).order_by("-created_at", "-pk")
        self.fields["quote_request"].label_from_instance = lambda quote: (
            f"{quote.created_at:%d %b %Y}: {quote.details[:60]}"
        )

    def clean(self):
        data = super().clean()
        day = data.get("expires_on")
        if day is not None:
            # Open to the end of that day where the client is.
            data["expires_at"] = local_midnight(
                day + dt.timedelta(days=1), self.contract.client.time_zone
            )
        return data


class ProposalDeclineForm(forms.Form):
    reason = forms.CharField(
        label="Why not?",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=REASON_LIMIT,
        help_text="The agency reads this to offer something that fits.",
    )
