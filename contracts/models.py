"""The catalogue (categories, services) and what each client contracted: contracts, their
lines, dated terms and dedicated assistants.

These models began in billing; their tables kept billing's names (Meta.db_table), so moving
them here changed no data.
"""

from django.core.validators import MinValueValidator
from django.db import models

from core.models import TenantModel

# The categories most agencies sell; each new agency starts with them and may add more.
COMMON_CATEGORIES = [
    ("calendar-scheduling", "Calendar and scheduling"),
    ("inbox-management", "Inbox management"),
    ("travel-arrangements", "Travel arrangements"),
    ("bookkeeping", "Bookkeeping"),
    ("social-media", "Social media"),
    ("content-writing", "Content and blog writing"),
    ("data-entry", "Data entry"),
    ("document-preparation", "Document preparation"),
    ("newsletters", "Newsletters"),
    ("phone-handling", "Phone and inquiry handling"),
    ("research", "Research"),
    ("legal-admin", "Legal admin"),
    ("medical-admin", "Medical admin"),
]


class ServiceCategory(TenantModel):
    """A kind of work (bookkeeping, travel...). Services belong to one; assistants' skills
    are categories, which is how work is routed to people fit for it."""

    slug = models.SlugField(max_length=50)
    name = models.CharField(max_length=80)

    class Meta:
        db_table = "billing_servicecategory"
        constraints = [
            models.UniqueConstraint(fields=["agency", "slug"], name="category_slug_unique"),
        ]
        ordering = ["name"]
        verbose_name_plural = "service categories"

    def __str__(self) -> str:
        return self.name


class PricingModel(models.TextChoices):
    FLAT = "flat", "Flat fee per task"
    HOURLY = "hourly", "Hourly"
    RETAINER = "retainer", "Retainer (hours included per month)"


class Service(TenantModel):
    """An entry in the agency's catalogue: what clients may contract and request."""

    name = models.CharField(max_length=120)
    category = models.ForeignKey(ServiceCategory, on_delete=models.PROTECT, related_name="services")
    description = models.TextField(blank=True)
    # Defaults that prefill a contract line; the contract line's own terms are what bill.
    default_pricing_model = models.CharField(
        max_length=16,
        choices=[(PricingModel.FLAT, "Flat fee per task"), (PricingModel.HOURLY, "Hourly")],
        default=PricingModel.HOURLY,
    )
    default_price = models.PositiveIntegerField(
        default=0, help_text="Minor units of the agency's default currency: per task or per hour."
    )
    default_turnaround_hours = models.PositiveIntegerField(
        default=48, validators=[MinValueValidator(1)]
    )
    # Extra fields a client fills in when requesting this service (contracts.request_templates).
    request_template = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "billing_service"
        constraints = [
            models.UniqueConstraint(fields=["agency", "name"], name="service_name_unique"),
            models.CheckConstraint(
                condition=models.Q(default_turnaround_hours__gte=1),
                name="service_turnaround_positive",
            ),
        ]
        indexes = [models.Index(fields=["agency", "is_active", "name"])]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ContractStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    ENDED = "ended", "Ended"


class BillingCadence(models.TextChoices):
    PER_TASK = "per_task", "Per task (an invoice for each finished task)"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"


class CollectionMethod(models.TextChoices):
    CHARGE_AUTOMATICALLY = "charge_automatically", "Charge the card on file"
    SEND_INVOICE = "send_invoice", "Send the invoice, due in N days"


class CapBehaviour(models.TextChoices):
    BLOCK = "block", "Block new work at the cap"
    ASK = "ask", "Ask the client to approve work past the cap"


class ServiceContract(TenantModel):
    """What one client has contracted: dates, currency, how it is billed, and its lines."""

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="contracts")
    name = models.CharField(max_length=120, help_text="How both sides refer to it.")
    status = models.CharField(
        max_length=16, choices=ContractStatus.choices, default=ContractStatus.DRAFT
    )
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    currency = models.CharField(max_length=3)
    billing_cadence = models.CharField(
        max_length=16, choices=BillingCadence.choices, default=BillingCadence.MONTHLY
    )
    collection_method = models.CharField(
        max_length=24, choices=CollectionMethod.choices, default=CollectionMethod.SEND_INVOICE
    )
    days_until_due = models.PositiveSmallIntegerField(null=True, blank=True)
    requires_approval = models.BooleanField(
        default=False, help_text="Bill a task only once the client approves it."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "billing_servicecontract"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__isnull=True)
                | models.Q(ends_on__gte=models.F("starts_on")),
                name="contract_dates_in_order",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(collection_method=CollectionMethod.SEND_INVOICE)
                    & models.Q(days_until_due__isnull=False)
                )
                | (
                    models.Q(collection_method=CollectionMethod.CHARGE_AUTOMATICALLY)
                    & models.Q(days_until_due__isnull=True)
                ),
                name="contract_due_days_iff_sending_invoices",
            ),
        ]
        indexes = [
            models.Index(fields=["agency", "client", "status"]),
            # beat's "contract ending" reminder across agencies (billing.reminders)
            models.Index(
                fields=["ends_on"],
                condition=models.Q(status="active"),
                name="contract_active_ends_sweep",
            ),
        ]
        ordering = ["-starts_on", "-pk"]

    def __str__(self) -> str:
        return self.name


class ContractAssistant(TenantModel):
    """An assistant dedicated to a contract: only they take its clients' work."""

    contract = models.ForeignKey(
        ServiceContract, on_delete=models.CASCADE, related_name="dedicated"
    )
    membership = models.ForeignKey(
        "accounts.Membership", on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        db_table = "billing_contractassistant"
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "contract", "membership"], name="contract_assistant_unique"
            )
        ]


class ContractLine(TenantModel):
    """One contracted service in a contract. Its prices live in dated ContractTerms."""

    contract = models.ForeignKey(ServiceContract, on_delete=models.CASCADE, related_name="lines")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "billing_contractline"
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "contract", "service"],
                condition=models.Q(removed_at__isnull=True),
                name="contract_line_one_per_service",
            )
        ]

    def __str__(self) -> str:
        return f"{self.contract} · {self.service}"


class ContractTerms(TenantModel):
    """The prices of a contract line from `effective_from` on. Never edited once in force:
    a change is a new row, so work done earlier keeps the terms it was done under."""

    line = models.ForeignKey(ContractLine, on_delete=models.CASCADE, related_name="terms")
    effective_from = models.DateTimeField()
    pricing_model = models.CharField(max_length=16, choices=PricingModel.choices)
    # flat
    flat_fee = models.PositiveIntegerField(null=True, blank=True)
    # hourly
    hourly_rate = models.PositiveIntegerField(null=True, blank=True)
    rounding_increment_minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    minimum_minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    # retainer: a fee per month buys hours; unused hours roll over up to a cap
    retainer_fee = models.PositiveIntegerField(null=True, blank=True)
    included_minutes = models.PositiveIntegerField(null=True, blank=True)
    rollover_cap_minutes = models.PositiveIntegerField(null=True, blank=True)
    overage_rate = models.PositiveIntegerField(null=True, blank=True)
    # Rolled-over hours are gone once older than this many months (hours of March, with 2,
    # last to the end of May); empty: they never expire (the rollover cap still applies).
    banked_hours_expire_after_months = models.PositiveSmallIntegerField(null=True, blank=True)
    # What an extra hour the client buys costs; empty: the overage rate.
    top_up_rate = models.PositiveIntegerField(null=True, blank=True)
    # any model: an optional spending cap per calendar month in the client's zone
    monthly_budget_cap = models.PositiveIntegerField(null=True, blank=True)
    cap_behaviour = models.CharField(
        max_length=8, choices=CapBehaviour.choices, default=CapBehaviour.BLOCK
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        db_table = "billing_contractterms"
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "line", "effective_from"], name="terms_one_per_moment"
            ),
            models.CheckConstraint(
                condition=~models.Q(pricing_model=PricingModel.FLAT)
                | models.Q(flat_fee__isnull=False),
                name="terms_flat_has_fee",
            ),
            models.CheckConstraint(
                condition=~models.Q(pricing_model=PricingModel.HOURLY)
                | models.Q(
                    hourly_rate__isnull=False,
                    rounding_increment_minutes__gte=1,
                    minimum_minutes__isnull=False,
                ),
                name="terms_hourly_complete",
            ),
            models.CheckConstraint(
                condition=~models.Q(pricing_model=PricingModel.RETAINER)
                | models.Q(
                    retainer_fee__isnull=False,
                    included_minutes__gte=1,
                    rollover_cap_minutes__isnull=False,
                    overage_rate__isnull=False,
                    rounding_increment_minutes__gte=1,
                ),
                name="terms_retainer_complete",
            ),
        ]
        indexes = [models.Index(fields=["agency", "line", "-effective_from"])]
        ordering = ["-effective_from"]
        verbose_name_plural = "contract terms"


class QuoteRequestStatus(models.TextChoices):
    OPEN = "open", "Waiting for a proposal"
    ANSWERED = "answered", "Proposal sent"
    CLOSED = "closed", "Closed"


class QuoteRequest(TenantModel):
    """A client asking for work the agency has not priced for them yet: what they need, in
    their words. Staff answer it with a proposal."""

    client = models.ForeignKey(
        "clients.Client", on_delete=models.CASCADE, related_name="quote_requests"
    )
    requested_by = models.ForeignKey(
        "accounts.Membership", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    details = models.TextField()
    status = models.CharField(
        max_length=16, choices=QuoteRequestStatus.choices, default=QuoteRequestStatus.OPEN
    )
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["agency", "status", "-created_at", "-id"]),
            models.Index(fields=["agency", "client", "-created_at", "-id"]),
        ]

    def __str__(self) -> str:
        return f"Quote request {self.pk}"


class ProposalStatus(models.TextChoices):
    SENT = "sent", "Waiting for the client"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    WITHDRAWN = "withdrawn", "Withdrawn"
    SUPERSEDED = "superseded", "Replaced by a later version"


class Proposal(TenantModel):
    """One version of what the agency offers a client: a draft contract's header, lines and
    terms as they stood when sent (`offer`), an expiry and a note. Never edited: a change is
    a new version, which replaces the one waiting. Accepting activates the contract."""

    contract = models.ForeignKey(
        ServiceContract, on_delete=models.CASCADE, related_name="proposals"
    )
    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="+")
    quote_request = models.ForeignKey(
        QuoteRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="proposals"
    )
    version = models.PositiveSmallIntegerField()
    status = models.CharField(
        max_length=16, choices=ProposalStatus.choices, default=ProposalStatus.SENT
    )
    note = models.TextField(blank=True)
    offer = models.JSONField()
    expires_at = models.DateTimeField()
    sent_at = models.DateTimeField()
    sent_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decline_reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "contract", "version"], name="proposal_version_once"
            ),
            models.UniqueConstraint(
                fields=["agency", "contract"],
                condition=models.Q(status="sent"),
                name="proposal_one_waiting_per_contract",
            ),
        ]
        indexes = [
            models.Index(fields=["agency", "client", "-sent_at", "-id"]),
            models.Index(fields=["agency", "-sent_at", "-id"]),
        ]

    def __str__(self) -> str:
        return f"{self.offer.get('name', 'Proposal')} (version {self.version})"
