from decimal import Decimal

from django import forms

from core.errors import ApplicationError
from core.money import minor_digits, to_minor


def add_application_error(form: forms.Form, error: ApplicationError) -> None:
    """Show a service's error next to the field it names, or at the top of the form."""
    field = error.extra.get("field")
    form.add_error(field if field in form.fields else None, error.message)


class MoneyField(forms.DecimalField):
    """An amount typed in major units ("12.50"), cleaned to minor units (1250).

    The currency comes from the form (set `field.currency` in the form's __init__), since
    the number of decimals depends on it.
    """

    def __init__(self, *, currency: str = "USD", **kwargs):
        kwargs.setdefault("min_value", Decimal(0))
        kwargs.setdefault("max_digits", 14)
        super().__init__(**kwargs)
        self.currency = currency

    def clean(self, value):
        amount = super().clean(value)
        if amount is None:
            return None
        try:
            return to_minor(amount, self.currency)
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None

    def prepare_value(self, value):
        if isinstance(value, int):
            return Decimal(value).scaleb(-minor_digits(self.currency))
        return value


class HoursField(forms.DecimalField):
    """A duration typed in hours ("7.5"), cleaned to whole minutes (450)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", Decimal(0))
        kwargs.setdefault("max_digits", 7)
        kwargs.setdefault("decimal_places", 2)
        super().__init__(**kwargs)

    def clean(self, value):
        hours = super().clean(value)
        if hours is None:
            return None
        minutes = hours * 60
        if minutes != minutes.to_integral_value():
            raise forms.ValidationError("Use whole minutes (e.g. 7.5 or 7.25 hours).")
        return int(minutes)

    def prepare_value(self, value):
        if isinstance(value, int):
            return Decimal(value) / 60
        return value
