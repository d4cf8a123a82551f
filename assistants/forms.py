from django import forms

from assistants.languages import LANGUAGE_CHOICES
from assistants.models import BIO_MAX_CHARS, SAMPLE_TITLE_MAX_CHARS, Specialisation
from assistants.samples import LINK_MAX_CHARS
from assistants.schedule import WEEKDAY_NAMES, WEEKDAYS, working_hours_errors
from contracts.models import ServiceCategory
from core.money import minor_digits, to_major, to_minor
from core.validators import CURRENCIES, time_zone_choices

INTERVALS_SHOWN = 2  # from/to pairs per weekday on the form; more appear if a day has more


class WorkingHoursForm(forms.Form):
    """Time zone plus one row per weekday of from/to pairs; empty pairs are a day off.

    The rows become the `working_hours` value in `clean()`; its rules are those of
    assistants.schedule, and each problem is shown on the row of its day.
    """

    time_zone = forms.ChoiceField(choices=time_zone_choices)
    # What clients read about the assistant (assistant and staff both write it).
    bio = forms.CharField(
        required=False,
        max_length=BIO_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=f"Plain text clients read before choosing you, at most {BIO_MAX_CHARS} "
        "characters.",
    )
    languages = forms.MultipleChoiceField(
        required=False,
        choices=LANGUAGE_CHOICES,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text="The languages the work can be done in (hold Ctrl or ⌘ to pick several).",
    )
    specialisations = forms.MultipleChoiceField(
        required=False,
        choices=Specialisation.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="Fields of work known well.",
    )

    def __init__(self, *args, profile, **kwargs):
        super().__init__(*args, **kwargs)
        self.profile = profile
        self.initial.setdefault("bio", profile.bio)
        self.initial.setdefault("languages", list(profile.languages or []))
        self.initial.setdefault("specialisations", list(profile.specialisations or []))
        hours = profile.working_hours or {}
        self.slots = max([INTERVALS_SHOWN, *(len(hours.get(day, [])) for day in WEEKDAYS)])
        self.day_errors: dict[str, list[str]] = {}
        for day in WEEKDAYS:
            intervals = hours.get(day, [])
            for n in range(self.slots):
                start, end = intervals[n] if n < len(intervals) else ("", "")
                for edge, value in (("from", start), ("to", end)):
                    self.fields[f"{day}_{n}_{edge}"] = forms.CharField(
                        required=False,
                        initial=value,
                        label=f"{WEEKDAY_NAMES[day]} {edge} ({n + 1})",
                        widget=forms.TextInput(
                            attrs={
                                "placeholder": "HH:MM",
                                "size": 5,
                                "maxlength": 5,
                                "inputmode": "numeric",
                                "autocomplete": "off",
                                "class": "clock",
                                "aria-label": f"{WEEKDAY_NAMES[day]} {edge} ({n + 1})",
                            }
                        ),
                    )
        self.fields["time_zone"].initial = profile.time_zone

    def hour_field_names(self) -> set[str]:
        return {
            f"{day}_{n}_{edge}"
            for day in WEEKDAYS
            for n in range(self.slots)
            for edge in ("from", "to")
        }

    def other_fields(self):
        """The visible fields that are not weekday hours, in declaration order."""
        hours = self.hour_field_names()
        return [field for field in self.visible_fields() if field.name not in hours]

    def hour_rows(self):
        return [
            {
                "day": day,
                "label": WEEKDAY_NAMES[day],
                "pairs": [
                    (self[f"{day}_{n}_from"], self[f"{day}_{n}_to"]) for n in range(self.slots)
                ],
                "errors": self.day_errors.get(day, []),
            }
            for day in WEEKDAYS
        ]

    def clean(self):
        cleaned = super().clean()
        hours = {}
        for day in WEEKDAYS:
            intervals = []
            for n in range(self.slots):
                start = (cleaned.get(f"{day}_{n}_from") or "").strip()
                end = (cleaned.get(f"{day}_{n}_to") or "").strip()
                if start and end:
                    intervals.append([start, end])
                elif start or end:
                    self.day_errors.setdefault(day, []).append(
                        "Give both a from and a to time, or leave both empty."
                    )
            hours[day] = intervals
        for day, messages in working_hours_errors(hours).items():
            self.day_errors.setdefault(day, []).extend(messages)
        if self.day_errors:
            self.add_error(None, "Check the working hours marked below.")
        else:
            cleaned["working_hours"] = hours
        return cleaned

    @staticmethod
    def service_data(cleaned: dict) -> dict:
        """The service's keyword arguments from this form's cleaned data."""
        return {
            "time_zone": cleaned["time_zone"],
            "working_hours": cleaned["working_hours"],
            "bio": cleaned["bio"],
            "languages": list(cleaned["languages"]),
            "specialisations": list(cleaned["specialisations"]),
        }


class AssistantProfileForm(WorkingHoursForm):
    """Everything staff set on an assistant's profile. The pay rate is typed in major units
    ("12.50") and stored in minor units, with the currency's own number of decimals."""

    skills = forms.ModelMultipleChoiceField(
        queryset=ServiceCategory.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="The kinds of work this assistant may be given.",
    )
    capacity = forms.IntegerField(
        min_value=1, max_value=999, help_text="Most active tasks at once."
    )
    pay_rate = forms.DecimalField(
        min_value=0,
        max_digits=12,
        label="Pay rate per hour",
        help_text="What the agency pays this contractor per hour, e.g. 12.50.",
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    pay_currency = forms.CharField(max_length=3, help_text="ISO 4217 code, e.g. USD, EUR, PHP.")
    is_active = forms.BooleanField(
        required=False, label="Active", help_text="Inactive assistants are not offered work."
    )

    field_order = ["skills", "time_zone", "capacity", "pay_rate", "pay_currency", "is_active"]

    def __init__(self, *args, agency, profile, **kwargs):
        super().__init__(*args, profile=profile, **kwargs)
        self.fields["skills"].queryset = ServiceCategory.objects.filter(agency=agency)
        self.initial.setdefault("skills", [category.pk for category in profile.skills.all()])
        self.initial.setdefault("capacity", profile.capacity)
        self.initial.setdefault("pay_rate", to_major(profile.pay_rate, profile.pay_currency))
        self.initial.setdefault("pay_currency", profile.pay_currency)
        self.initial.setdefault("is_active", profile.is_active)

    def clean_pay_currency(self):
        value = self.cleaned_data["pay_currency"].strip().upper()
        if value not in CURRENCIES:
            raise forms.ValidationError(f"{value} is not an ISO 4217 currency code.")
        return value

    def clean(self):
        cleaned = super().clean()
        currency, amount = cleaned.get("pay_currency"), cleaned.get("pay_rate")
        if currency and amount is not None:
            try:
                cleaned["pay_rate_minor"] = to_minor(amount, currency)
            except ValueError as error:
                places = minor_digits(currency)
                example = "12" if places == 0 else "12." + "5".ljust(places, "0")
                self.add_error("pay_rate", f"{error} Try e.g. {example}.")
        return cleaned

    @staticmethod
    def service_data(data: dict) -> dict:
        return {
            **WorkingHoursForm.service_data(data),
            "skills": list(data["skills"]),
            "capacity": data["capacity"],
            "pay_rate": data["pay_rate_minor"],
            "pay_currency": data["pay_currency"],
            "is_active": data["is_active"],
        }


class DateInput(forms.DateInput):
    input_type = "date"


class TimeOffRequestForm(forms.Form):
    """An assistant's days off: first and last day on their own calendar, and a note."""

    starts_on = forms.DateField(label="First day off", widget=DateInput())
    ends_on = forms.DateField(label="Last day off", widget=DateInput())
    note = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Optional: anything your agency should know.",
    )

    def clean(self):
        cleaned = super().clean()
        starts_on, ends_on = cleaned.get("starts_on"), cleaned.get("ends_on")
        if starts_on and ends_on and ends_on < starts_on:
            self.add_error("ends_on", "The last day cannot be before the first.")
        return cleaned


class TimeOffDecisionForm(forms.Form):
    """Staff approve (with a cover, or the skill pool) or decline a waiting request."""

    # Which of the form's two buttons was pressed comes as `decision`.
    APPROVE, DECLINE = "approve", "decline"

    cover = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="Nobody: the skill pool takes the work",
        help_text="Only active assistants with every skill the dedicated work needs, and "
        "not away themselves then, are offered.",
    )
    decision_note = forms.CharField(
        required=False,
        max_length=500,
        label="Note to the assistant",
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, covers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cover"].queryset = covers
        self.fields["cover"].label_from_instance = lambda m: m.user.get_full_name() or m.user.email

    def clean(self):
        cleaned = super().clean()
        decision = self.data.get("decision")
        if decision not in (self.APPROVE, self.DECLINE):
            raise forms.ValidationError("Press Approve or Decline.")
        cleaned["decision"] = decision
        return cleaned


class WorkSampleForm(forms.Form):
    """A sample of past work: a title, and a file or a link (one of the two)."""

    title = forms.CharField(max_length=SAMPLE_TITLE_MAX_CHARS)
    url = forms.CharField(
        required=False,
        max_length=LINK_MAX_CHARS,
        label="Link",
        help_text="A web address starting with http:// or https://.",
        widget=forms.URLInput(),
    )
    file = forms.FileField(required=False, help_text="Or a file, checked as task files are.")

    def clean(self):
        cleaned = super().clean()
        if bool((cleaned.get("url") or "").strip()) == bool(cleaned.get("file")):
            raise forms.ValidationError("Add either a file or a link.")
        return cleaned
