from django import forms

from clients.models import Client
from core.validators import time_zone_choices


class ClientForm(forms.ModelForm):
    time_zone = forms.ChoiceField(choices=time_zone_choices, initial="UTC")

    class Meta:
        model = Client
        fields = ["name", "billing_email", "time_zone", "currency"]

    def clean_currency(self):
        return self.cleaned_data["currency"].upper()
