"""The company half of the sign-up page; the account half is allauth's own sign-up form."""

import uuid

from django import forms

from core.validators import time_zone_choices


class SignupCompanyForm(forms.Form):
    name = forms.CharField(max_length=120, label="Company name")
    time_zone = forms.ChoiceField(
        choices=time_zone_choices,
        initial="UTC",
        error_messages={"invalid_choice": "%(value)s is not a known time zone."},
    )
    currency = forms.CharField(max_length=3, label="Currency")
    # The same page sent twice (a double click, a resend) is one sign-up.
    key = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, plan, **kwargs):
        super().__init__(*args, **kwargs)
        self.plan = plan
        self.fields["currency"].help_text = f"This plan is priced in {plan.currency}."
        self.fields["currency"].widget = forms.Select(choices=[(plan.currency, plan.currency)])
        self.fields["currency"].initial = plan.currency
        self.fields["key"].initial = uuid.uuid4()

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give your company's name.")
        return name

    def clean_currency(self):
        value = (self.cleaned_data["currency"] or "").strip().upper()
        if value != self.plan.currency:
            raise forms.ValidationError(
                f"This plan is priced in {self.plan.currency}; choose {self.plan.currency}."
            )
        return value
