import uuid

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MinValueValidator
from django.db import models

from assistants.schedule import default_working_hours, validate_working_hours
from core.models import TenantModel
from core.money import format_money
from core.validators import validate_currency, validate_time_zone

# What clients read on an assistant's profile: a short bio, and a title per work sample.
BIO_MAX_CHARS = 1000
SAMPLE_TITLE_MAX_CHARS = 200


class Specialisation(models.TextChoices):
    """Fields of work an assistant knows well: a fixed list, so that nobody types them in."""

    LEGAL = "legal", "Legal"
    MEDICAL = "medical", "Medical"
    BOOKKEEPING = "bookkeeping", "Bookkeeping"
    REAL_ESTATE = "real_estate", "Real estate"
    ECOMMERCE = "ecommerce", "E-commerce"
    MARKETING = "marketing", "Marketing"
    TECHNICAL = "technical", "Technical"


def validate_languages(value) -> None:
    from assistants.languages import LANGUAGE_NAMES

    if not isinstance(value, list) or not all(isinstance(code, str) for code in value):
        raise ValidationError("Languages are a list of ISO 639-1 codes.")
    unknown = [code for code in value if code not in LANGUAGE_NAMES]
    if unknown:
        raise ValidationError(
            "%(codes)s: not ISO 639-1 language codes.", params={"codes": ", ".join(unknown)}
        )
    if len(set(value)) != len(value):
        raise ValidationError("Give each language once.")


def validate_specialisations(value) -> None:
    if not isinstance(value, list) or not all(isinstance(code, str) for code in value):
        raise ValidationError("Specialisations are a list of codes.")
    unknown = [code for code in value if code not in Specialisation.values]
    if unknown:
        raise ValidationError(
            "%(codes)s: not specialisations. Choose from %(known)s.",
            params={"codes": ", ".join(unknown), "known": ", ".join(Specialisation.values)},
        )
    if len(set(value)) != len(value):
        raise ValidationError("Give each specialisation once.")


class AssistantProfile(TenantModel):
    """How an assistant works for one agency: skills, zone, weekly hours, load and pay.

    One per assistant membership (a person who works for two agencies has two). Assistants
    are contractors: `pay_rate` is what the agency owes them per hour, in minor units of
    `pay_currency`, and has nothing to do with what clients are charged.
    """

    membership = models.OneToOneField(
        "accounts.Membership", on_delete=models.CASCADE, related_name="assistant_profile"
    )
    skills = models.ManyToManyField(
        "contracts.ServiceCategory",
        through="assistants.AssistantSkill",
        related_name="assistant_profiles",
        blank=True,
    )
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    working_hours = models.JSONField(
        default=default_working_hours,
        validators=[validate_working_hours],
        help_text="Per weekday (mon..sun), [from, to] HH:MM intervals in the assistant's zone.",
    )
    capacity = models.PositiveSmallIntegerField(
        default=5,
        validators=[MinValueValidator(1, "Capacity must be at least one task.")],
        help_text="How many active tasks this assistant may hold at once.",
    )
    pay_rate = models.PositiveIntegerField(
        default=0,
        validators=[MinValueValidator(0, "The pay rate cannot be negative.")],
        help_text="Hourly pay owed to the assistant, in minor units of the pay currency.",
    )
    pay_currency = models.CharField(max_length=3, default="USD", validators=[validate_currency])
    is_active = models.BooleanField(default=True)
    bio = models.TextField(
        blank=True,
        validators=[
            MaxLengthValidator(BIO_MAX_CHARS, f"Keep the bio to {BIO_MAX_CHARS} characters.")
        ],
        help_text=f"Plain text, at most {BIO_MAX_CHARS} characters.",
    )
    languages = models.JSONField(
        default=list, blank=True, validators=[validate_languages], help_text="ISO 639-1 codes."
    )
    specialisations = models.JSONField(
        default=list, blank=True, validators=[validate_specialisations]
    )
    # Clients' ratings of this assistant's approved work (tasks.ratings), kept here in the
    # rating's own transaction so that lists show the average without a query per row.
    rating_count = models.PositiveIntegerField(default=0, editable=False)
    rating_sum = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # The one-to-one already makes membership unique; this states the tenant rule
            # (unique within the agency) and indexes (agency, membership) lookups.
            models.UniqueConstraint(
                fields=["agency", "membership"], name="assistant_profile_one_per_membership"
            ),
            models.CheckConstraint(
                condition=models.Q(capacity__gte=1), name="assistant_capacity_at_least_one"
            ),
            models.CheckConstraint(
                condition=models.Q(pay_rate__gte=0), name="assistant_pay_rate_not_negative"
            ),
        ]
        indexes = [models.Index(fields=["agency", "is_active"], name="assistant_agency_active")]

    def __str__(self) -> str:
        return str(self.membership.user)

    @property
    def pay_rate_display(self) -> str:
        return format_money(self.pay_rate, self.pay_currency)

    @property
    def rating_average(self) -> float | None:
        return round(self.rating_sum / self.rating_count, 1) if self.rating_count else None

    @property
    def language_names(self) -> list[str]:
        from assistants.languages import LANGUAGE_NAMES

        return [LANGUAGE_NAMES.get(code, code) for code in self.languages or []]

    @property
    def specialisation_names(self) -> list[str]:
        labels = dict(Specialisation.choices)
        return [labels.get(code, code) for code in self.specialisations or []]


class AssistantSkill(TenantModel):
    """One skill of one assistant. The agency is on the row, as on every tenant table, and
    (agency, category) is indexed for routing work to people who can do it."""

    profile = models.ForeignKey(
        AssistantProfile, on_delete=models.CASCADE, related_name="assistant_skills"
    )
    category = models.ForeignKey(
        "contracts.ServiceCategory", on_delete=models.CASCADE, related_name="assistant_skills"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "profile", "category"], name="assistant_skill_once"
            ),
        ]
        indexes = [models.Index(fields=["agency", "category"], name="assistant_skill_category")]

    def __str__(self) -> str:
        return f"{self.profile_id} · {self.category_id}"


class Payout(TenantModel):
    """An assistant's earnings of one month (the agency's calendar month), marked paid.

    The minutes, the rate and the amount are a snapshot taken when staff mark the month
    paid: a later change of the pay rate never rewrites what was paid. A month not yet
    paid is priced at the assistant's current rate. One row per assistant, month and
    currency, so a month is never paid twice.
    """

    assistant = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="payouts"
    )
    period_start = models.DateField(help_text="First day of the month paid for.")
    currency = models.CharField(max_length=3, validators=[validate_currency])
    minutes = models.PositiveIntegerField()
    rate = models.PositiveIntegerField(help_text="Minor units per hour, as paid.")
    amount = models.PositiveIntegerField(help_text="Minor units of `currency`.")
    note = models.CharField(max_length=500, blank=True)
    paid_at = models.DateTimeField()
    paid_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "assistant", "period_start", "currency"],
                name="payout_once_per_assistant_month_currency",
            ),
            models.CheckConstraint(
                condition=models.Q(period_start__day=1), name="payout_period_is_a_month"
            ),
        ]
        indexes = [models.Index(fields=["agency", "period_start"], name="payout_agency_period")]
        ordering = ["-period_start", "pk"]

    def __str__(self) -> str:
        return f"{self.assistant_id} · {self.period_start:%Y-%m} · {self.currency}"


class TimeOffStatus(models.TextChoices):
    PENDING = "pending", "Waiting for approval"
    APPROVED = "approved", "Approved"
    DECLINED = "declined", "Declined"
    CANCELLED = "cancelled", "Cancelled"


class TimeOff(TenantModel):
    """Days an assistant will not work, as they asked for them and as staff decided.

    The dates are whole days on the assistant's own calendar (`time_zone`, their zone when
    they asked), first and last day included; `starts_at` and `ends_at` are the same span
    as UTC instants (the first day's local midnight, the midnight after the last day), so
    that routing asks "is this moment inside it" with an index and no zone arithmetic.

    While approved time off is in force, the work of the contracts dedicated to the
    assistant goes to `cover`, or to the skill pool when nobody is named
    (assistants.selectors.dedicated_takers).
    """

    assistant = models.ForeignKey(
        "accounts.Membership", on_delete=models.CASCADE, related_name="time_off"
    )
    starts_on = models.DateField(help_text="First day away, on the assistant's calendar.")
    ends_on = models.DateField(help_text="Last day away, on the assistant's calendar.")
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone])
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    note = models.CharField(max_length=500, blank=True)
    status = models.CharField(
        max_length=16, choices=TimeOffStatus.choices, default=TimeOffStatus.PENDING
    )
    cover = models.ForeignKey(
        "accounts.Membership",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="time_off_covered",
        help_text="Who takes the dedicated work meanwhile; nobody: the skill pool.",
    )
    decision_note = models.CharField(max_length=500, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")),
                name="time_off_ends_on_or_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="time_off_instants_in_order",
            ),
            models.CheckConstraint(
                condition=~models.Q(cover=models.F("assistant")),
                name="time_off_cover_is_someone_else",
            ),
        ]
        indexes = [
            # routing: approved time off in force at a moment
            models.Index(fields=["agency", "status", "ends_at"], name="time_off_in_force"),
            # overlap checks and an assistant's own list
            models.Index(fields=["agency", "assistant", "starts_on"], name="time_off_assistant"),
        ]
        ordering = ["-starts_on", "pk"]

    def __str__(self) -> str:
        return f"{self.assistant_id} · {self.starts_on} to {self.ends_on}"

    @property
    def days(self) -> int:
        return (self.ends_on - self.starts_on).days + 1

    @property
    def is_open(self) -> bool:
        return self.status in (TimeOffStatus.PENDING, TimeOffStatus.APPROVED)


def work_sample_path(sample, filename: str) -> str:
    # As for task files: a random key under the agency's folder, never the uploader's name.
    return f"work_samples/{sample.agency_id}/{uuid.uuid4().hex}"


class WorkSample(TenantModel):
    """A piece of an assistant's past work that clients may weigh: a file or a link.

    Files are private like task attachments: served only to the agency's staff, the
    assistant, and members of clients the assistant works for or is proposed to
    (assistants.selectors.work_sample_visible_to).
    """

    profile = models.ForeignKey(
        AssistantProfile, on_delete=models.CASCADE, related_name="work_samples"
    )
    title = models.CharField(max_length=SAMPLE_TITLE_MAX_CHARS)
    url = models.URLField(max_length=500, blank=True)
    file = models.FileField(upload_to=work_sample_path, max_length=200, blank=True)
    name = models.CharField(max_length=200, blank=True)
    size = models.PositiveIntegerField(default=0)
    content_type = models.CharField(max_length=100, blank=True)
    added_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(url="") & ~models.Q(file=""))
                | (~models.Q(url="") & models.Q(file="")),
                name="work_sample_file_or_link",
            ),
        ]
        indexes = [
            models.Index(fields=["agency", "profile", "created_at"], name="work_sample_profile")
        ]
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.title

    @property
    def is_file(self) -> bool:
        return bool(self.file)
