from django.db import models

from billing.secrets import decrypt
from contracts.models import CollectionMethod, ContractLine, ContractTerms, ServiceContract
from core.currencies import to_stripe
from core.models import TenantModel
from core.money import format_money

# Stripe's ids, and its event types, are at most 255 characters long (Stripe's API
# upgrade rules); anything longer is not from Stripe.
STRIPE_ID_MAX_LENGTH = 255


class ChargeKind(models.TextChoices):
    TASK = "task", "Task"
    RETAINER_FEE = "retainer_fee", "Retainer fee"
    # A fee for paying an invoice late (billing.late_fees), once per overdue invoice.
    LATE_FEE = "late_fee", "Late fee"
    # Extra retainer hours the client bought for the month (billing.top_ups).
    TOP_UP = "top_up", "Top-up hours"


class ChargeStatus(models.TextChoices):
    PENDING = "pending", "Unbilled"
    # Passed the line's monthly budget cap: billed only once the client approves it.
    HELD = "held", "Held for approval"
    INVOICED = "invoiced", "Invoiced"
    WRITTEN_OFF = "written_off", "Written off"
    # Costs nothing more: retainer work the month's hours cover, or rework after a
    # send-back that adds nothing to what the task was charged. Never sent to Stripe.
    COVERED = "covered", "Nothing to bill"


class Charge(TenantModel):
    """What a client owes for one finished task, or for one month of a retainer.

    Made once (billing.charges) from exactly one contract line and the terms version it
    used, which it keeps a reference to, so a later change of prices never reaches it.
    The database allows one per completion of a task (the first, then an adjustment for
    each completion after a send-back) and one retainer fee per line and month.
    """

    kind = models.CharField(max_length=16, choices=ChargeKind.choices)
    task = models.ForeignKey(
        "tasks.Task", null=True, blank=True, on_delete=models.PROTECT, related_name="charges"
    )
    # The completion it bills (the task's completed_at then): a task sent back and
    # completed again gets one more charge, for what it owes beyond the earlier ones.
    task_completed_at = models.DateTimeField(null=True, blank=True)
    # When its work became billable, kept as it was when the charge was made: the
    # completion, or the client's approval of it where the contract bills on approval (a
    # retainer fee: when it was made). A later send-back never moves it.
    billable_at = models.DateTimeField(null=True, blank=True)
    contract_line = models.ForeignKey(
        ContractLine, on_delete=models.PROTECT, related_name="charges"
    )
    terms = models.ForeignKey(ContractTerms, on_delete=models.PROTECT, related_name="charges")
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="charges")
    # The first day of the calendar month (client's zone) a retainer fee pays for, or a
    # retainer task drew its hours from; empty for flat and hourly work.
    period_start = models.DateField(null=True, blank=True)
    minutes_logged = models.PositiveIntegerField(default=0)
    # After rounding and the minimum; for retainer work, the overage minutes billed.
    minutes_billed = models.PositiveIntegerField(default=0)
    minutes_from_bank = models.PositiveIntegerField(default=0)
    amount = models.PositiveIntegerField(help_text="Minor units of `currency`.")
    currency = models.CharField(max_length=3)
    description = models.CharField(max_length=255)
    # The inputs and each step of the price, so anyone can redo the sum by hand.
    breakdown = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=ChargeStatus.choices, default=ChargeStatus.PENDING
    )
    # The overdue invoice a late fee is for (one fee per invoice).
    late_fee_for = models.ForeignKey(
        "billing.Invoice", null=True, blank=True, on_delete=models.PROTECT, related_name="late_fees"
    )
    # Deterministic, so a retried push to Stripe is recognised as the same charge.
    idempotency_key = models.CharField(max_length=80)
    stripe_invoice_item_id = models.CharField(max_length=STRIPE_ID_MAX_LENGTH, blank=True)
    invoice = models.ForeignKey(
        "billing.Invoice", null=True, blank=True, on_delete=models.PROTECT, related_name="charges"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    written_off_at = models.DateTimeField(null=True, blank=True)
    written_off_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    written_off_reason = models.TextField(blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    # How many times the charge was put back to be billed again (its invoice voided): a
    # per-task charge's next invoice is a new one at Stripe, under a key of this round.
    times_rebilled = models.PositiveSmallIntegerField(default=0)

    # Tax as fixed when the charge was made (billing.tax): the ids of the agency's tax
    # rates it carries and the client's tax status then; empty (null) until fixed. Its
    # figures split `amount` into what is before tax and after (minor units), rounded
    # per line as Stripe rounds; null on charges made before tax was kept.
    tax_rates = models.JSONField(null=True, blank=True)
    tax_status = models.CharField(max_length=16, blank=True)
    net_amount = models.IntegerField(null=True, blank=True)
    tax_amount = models.IntegerField(null=True, blank=True)
    gross_amount = models.IntegerField(null=True, blank=True)

    @property
    def billable_since(self):
        """When the charge became billable, which decides the billing period it is invoiced
        in: when the client approved it past a budget; else when its own work was completed
        (approved, where the contract bills on approval), however late the job that made
        the charge ran and whatever became of the task since; a retainer fee when it was
        made, as its month began."""
        return self.released_at or self.billable_at or self.created_at

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "task", "task_completed_at"],
                condition=models.Q(kind=ChargeKind.TASK),
                name="charge_one_per_task_completion",
            ),
            models.UniqueConstraint(
                fields=["agency", "contract_line", "period_start"],
                condition=models.Q(kind=ChargeKind.RETAINER_FEE),
                name="charge_one_retainer_fee_per_period",
            ),
            models.UniqueConstraint(
                fields=["agency", "late_fee_for"],
                condition=models.Q(kind=ChargeKind.LATE_FEE),
                name="charge_one_late_fee_per_invoice",
            ),
            models.UniqueConstraint(
                fields=["agency", "idempotency_key"], name="charge_idempotency_key_unique"
            ),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="charge_amount_gte_0"),
            models.CheckConstraint(
                condition=(models.Q(kind=ChargeKind.TASK) & models.Q(task__isnull=False))
                | (
                    models.Q(kind=ChargeKind.RETAINER_FEE)
                    & models.Q(task__isnull=True, period_start__isnull=False)
                )
                | (
                    models.Q(kind=ChargeKind.LATE_FEE)
                    & models.Q(task__isnull=True, late_fee_for__isnull=False)
                )
                | (
                    models.Q(kind=ChargeKind.TOP_UP)
                    & models.Q(task__isnull=True, period_start__isnull=False)
                ),
                name="charge_kind_matches_subject",
            ),
            models.CheckConstraint(
                condition=~models.Q(status=ChargeStatus.WRITTEN_OFF)
                | models.Q(written_off_at__isnull=False),
                name="charge_written_off_has_time",
            ),
        ]
        indexes = [
            # unbilled / held charges, newest first
            models.Index(fields=["agency", "status", "created_at"]),
            # reports and the dashboard: every charge made in a date range
            models.Index(fields=["agency", "created_at"]),
            # one client's charges by status (what goes on their next invoice)
            models.Index(fields=["agency", "client", "status"]),
            # a retainer line's bank usage in a month
            models.Index(fields=["agency", "contract_line", "period_start"]),
            # the bank use of many retainer lines at once (reports.selectors.retainer_rows):
            # the sums come from the index alone, never from the wide charge rows
            models.Index(
                fields=["agency", "contract_line", "period_start"],
                include=["minutes_from_bank", "minutes_billed"],
                condition=models.Q(kind="task", period_start__isnull=False),
                name="charge_task_bank_use",
            ),
            # beat's sweep across agencies: unbilled charges by age (billing.invoicing)
            models.Index(
                fields=["created_at"],
                condition=models.Q(status="pending"),
                name="charge_unbilled_by_age",
            ),
            # beat's reminder sweeps (billing.reminders): recent retainer work, held charges
            models.Index(
                fields=["created_at"],
                condition=models.Q(kind="task", period_start__isnull=False),
                name="charge_retainer_task_sweep",
            ),
            models.Index(
                fields=["created_at"],
                condition=models.Q(status="held"),
                name="charge_held_sweep",
            ),
        ]
        ordering = ["-created_at", "-pk"]

    @property
    def held_because(self) -> str:
        """Why a held charge waits for the client's approval, in words."""
        steps = self.breakdown or {}
        reasons = []
        if "task_budget" in steps:
            budget = format_money(steps["task_budget"]["budget"], self.currency)
            reasons.append(f"it passes the task's own budget of {budget}")
        if "budget_cap" in steps:
            cap = format_money(steps["budget_cap"]["cap"], self.currency)
            reasons.append(f"it goes past this month's budget cap of {cap}")
        return " and ".join(reasons)

    @property
    def stripe_rounding(self) -> str:
        """How Stripe's rules rounded this amount on the invoice ("" when they did not)."""
        return to_stripe(self.amount, self.currency).note

    def __str__(self) -> str:
        return self.description


# -- Stripe -------------------------------------------------------------------------------


class StripeAccount(TenantModel):
    """The agency's own Stripe account: its secret key and webhook signing secret, both
    encrypted at rest (billing.secrets). Without one the platform's account bills."""

    secret_key_encrypted = models.TextField()
    webhook_secret_encrypted = models.TextField(blank=True)
    # What a person may see of the key (its kind and last four), kept apart so showing it
    # never needs the decrypted key.
    key_prefix = models.CharField(max_length=8)
    key_last4 = models.CharField(max_length=4)
    livemode = models.BooleanField(default=False)
    connected_at = models.DateTimeField()
    connected_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_check_ok = models.BooleanField(default=True)
    last_check_error = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency"], name="stripe_account_one_per_agency")
        ]

    def __str__(self) -> str:
        return self.masked_key

    def __repr__(self) -> str:
        return f"<StripeAccount {self.masked_key}>"

    @property
    def masked_key(self) -> str:
        return f"{self.key_prefix}…{self.key_last4}"

    @property
    def secret_key(self) -> str:
        return decrypt(self.secret_key_encrypted)

    @property
    def webhook_secret(self) -> str:
        return decrypt(self.webhook_secret_encrypted) if self.webhook_secret_encrypted else ""


class VoidedCharges(models.TextChoices):
    """What becomes of an invoice's charges when it is voided."""

    REBILL = "rebill", "Bill them again (on the next invoice)"
    WRITE_OFF = "write_off", "Write them off"


# What an invoice says of work charged to a client that pays no tax on it, by the
# client's tax status (clients.models.TaxStatus) when the work was charged.
TAX_NOTES = {
    "reverse": "Reverse charge: the customer accounts for VAT.",
    "exempt": "Exempt: no tax is charged.",
}


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    OPEN = "open", "Open"
    PAID = "paid", "Paid"
    VOID = "void", "Void"
    UNCOLLECTIBLE = "uncollectible", "Uncollectible"


# How far along an invoice is: our copy only ever moves up, so a late or replayed event
# never rolls it back. Uncollectible sits below paid and void because Stripe still lets
# an uncollectible invoice be paid or voided; paid and void are both final.
INVOICE_STATUS_RANK = {
    InvoiceStatus.DRAFT: 0,
    InvoiceStatus.OPEN: 1,
    InvoiceStatus.UNCOLLECTIBLE: 2,
    InvoiceStatus.PAID: 3,
    InvoiceStatus.VOID: 3,
}


class Invoice(TenantModel):
    """Our copy of one Stripe invoice: for one per-task charge, or for a client's charges
    of one weekly or monthly period. Stripe is the source of truth for its status."""

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="invoices")
    contract = models.ForeignKey(
        ServiceContract, null=True, blank=True, on_delete=models.PROTECT, related_name="invoices"
    )
    stripe_invoice_id = models.CharField(max_length=STRIPE_ID_MAX_LENGTH, blank=True)
    number = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=16, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT
    )
    collection_method = models.CharField(max_length=24, choices=CollectionMethod.choices)
    currency = models.CharField(max_length=3)
    # Stripe's figures in our minor units: what the lines add up to, the customer's
    # balance applied when it was finalized (a debit carried over from an invoice below
    # Stripe's minimum charge adds to what is due), what was then due, and what was paid.
    total = models.IntegerField(default=0)
    # The total split as Stripe splits it: before tax, the tax, and each rate's share
    # ([{"tax_rate", "display_name", "percentage", "inclusive", "amount", "taxable"}]).
    net = models.IntegerField(default=0)
    tax = models.IntegerField(default=0)
    taxes = models.JSONField(default=list, blank=True)
    starting_balance = models.IntegerField(default=0)
    ending_balance = models.IntegerField(default=0)
    amount_due = models.PositiveIntegerField(default=0)
    amount_paid = models.PositiveIntegerField(default=0)
    hosted_invoice_url = models.URLField(max_length=500, blank=True)
    # Stripe's own PDF of the invoice, where Stripe makes one.
    invoice_pdf = models.URLField(max_length=500, blank=True)
    # The billing period (client's zone, end exclusive) of a weekly or monthly invoice;
    # empty on a per-task invoice.
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    due_date = models.DateTimeField(null=True, blank=True)
    payment_failed = models.BooleanField(default=False)
    last_payment_error = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finalized_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.TextField(blank=True)
    # When the late-fee sweep was done with it (billing.late_fees): its fee made, or none
    # to make (an invoice of late fees alone). It leaves the sweep's index then.
    late_fee_done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "stripe_invoice_id"],
                condition=~models.Q(stripe_invoice_id=""),
                name="invoice_stripe_id_unique",
            ),
            # One invoice per client and period (per-task invoices have no period).
            models.UniqueConstraint(
                fields=["agency", "client", "period_start", "period_end"],
                name="invoice_one_per_client_period",
            ),
            models.CheckConstraint(
                condition=models.Q(period_start__isnull=True, period_end__isnull=True)
                | models.Q(period_end__gt=models.F("period_start")),
                name="invoice_period_in_order",
            ),
        ]
        indexes = [
            models.Index(fields=["agency", "status", "-created_at"]),
            models.Index(fields=["agency", "client", "-created_at"]),
            # beat's reminder sweeps across agencies (billing.reminders)
            models.Index(
                fields=["finalized_at"],
                condition=models.Q(status="open"),
                name="invoice_open_issued_sweep",
            ),
            models.Index(
                fields=["due_date"],
                condition=models.Q(status="open"),
                name="invoice_open_due_sweep",
            ),
            models.Index(
                fields=["due_date"],
                condition=models.Q(status="open", payment_failed=True),
                name="invoice_failed_sweep",
            ),
            # beat's late-fee sweep: open invoices past due whose fee is still to come
            models.Index(
                fields=["due_date"],
                condition=models.Q(status="open", late_fee_done_at__isnull=True),
                name="invoice_late_fee_sweep",
            ),
        ]
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.number or self.stripe_invoice_id or f"Invoice {self.pk}"

    @property
    def carried_forward(self) -> int:
        """What this invoice left on the customer's balance to be collected next time:
        an amount due below Stripe's minimum charge, which Stripe settles that way."""
        return max(self.ending_balance, 0)

    @property
    def credited(self) -> int:
        """What the invoice's issued credit notes take off it."""
        return sum(
            note.amount
            for note in self.credit_notes.all()
            if note.status == CreditNoteStatus.ISSUED
        )

    @property
    def tax_note(self) -> str:
        """Why its work carries no tax, when its charges were made for a reverse-charged
        or exempt client (billing.tax)."""
        held = set(
            self.charges.filter(tax_status__in=list(TAX_NOTES)).values_list("tax_status", flat=True)
        )
        return next((TAX_NOTES[status] for status in TAX_NOTES if status in held), "")

    @property
    def credit_applied(self) -> int:
        return min(-self.starting_balance, self.total) if self.starting_balance < 0 else 0

    @property
    def credit_left(self) -> int:
        return max(-self.ending_balance, 0)


class CreditNoteReason(models.TextChoices):
    """Stripe's reasons for a credit note."""

    ORDER_CHANGE = "order_change", "The work changed or was not all done"
    PRODUCT_UNSATISFACTORY = "product_unsatisfactory", "The client was not satisfied"
    DUPLICATE = "duplicate", "Billed twice"
    FRAUDULENT = "fraudulent", "Fraudulent"


class CreditSettlement(models.TextChoices):
    """Where the money of a credit note goes."""

    # An open invoice: the credit lowers what the client still has to pay.
    DUE = "due", "Lowers what is due"
    # A paid invoice: back to the card, or a credit on the client's next invoices.
    REFUND = "refund", "Refunded to the card"
    BALANCE = "balance", "Credit for the next invoices"


class CreditNoteStatus(models.TextChoices):
    # Recorded here, and asked of Stripe: a retry (the job's, or the person's) finishes it.
    PENDING = "pending", "Being issued"
    ISSUED = "issued", "Issued"


class CreditNote(TenantModel):
    """A credit against one invoice, issued through Stripe's credit notes: a whole line
    (the charge), part of one, or an amount. Our row is made first, so its id keys the
    request to Stripe and a retry issues it once."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    charge = models.ForeignKey(
        Charge, null=True, blank=True, on_delete=models.PROTECT, related_name="credit_notes"
    )
    # The credit note's total (what is refunded or credited), and its split: before tax
    # and the tax, which Stripe takes from the credited line's rates; `line_amount` is
    # what the line itself was credited, in the line's own terms (with inclusive tax in it).
    amount = models.PositiveIntegerField()
    net = models.IntegerField(default=0)
    tax = models.IntegerField(default=0)
    line_amount = models.IntegerField(default=0)
    currency = models.CharField(max_length=3)
    settlement = models.CharField(max_length=16, choices=CreditSettlement.choices)
    reason = models.CharField(max_length=32, choices=CreditNoteReason.choices)
    memo = models.CharField(max_length=500)
    status = models.CharField(
        max_length=16, choices=CreditNoteStatus.choices, default=CreditNoteStatus.PENDING
    )
    stripe_credit_note_id = models.CharField(max_length=STRIPE_ID_MAX_LENGTH, blank=True)
    number = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    issued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "stripe_credit_note_id"],
                condition=~models.Q(stripe_credit_note_id=""),
                name="credit_note_stripe_id_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(amount__gt=0), name="credit_note_amount_gt_0"
            ),
        ]
        indexes = [models.Index(fields=["agency", "issued_at"])]
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.number or f"Credit note {self.pk}"


class TaxRate(TenantModel):
    """One of the agency's tax rates, made once as a Stripe Tax Rate in the agency's own
    account. Stripe never changes a rate's percentage or inclusiveness, so neither do we:
    a change of those archives this one and makes its successor (`replaces`), and work
    already charged keeps the rate it was charged under."""

    display_name = models.CharField(max_length=50)
    percentage = models.DecimalField(max_digits=7, decimal_places=4)
    # Inclusive: the price already holds the tax. Exclusive: the tax is added on top.
    inclusive = models.BooleanField(default=False)
    country = models.CharField(max_length=2, blank=True)
    jurisdiction = models.CharField(max_length=50, blank=True)
    description = models.CharField(max_length=255, blank=True)
    stripe_tax_rate_id = models.CharField(max_length=STRIPE_ID_MAX_LENGTH, blank=True)
    replaces = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="successors"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Archived: given to no new charge. Stripe is told (active=false) once no unbilled
    # charge still carries it, since Stripe puts no inactive rate on a new item.
    archived_at = models.DateTimeField(null=True, blank=True)
    archived_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    stripe_archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "stripe_tax_rate_id"],
                condition=~models.Q(stripe_tax_rate_id=""),
                name="tax_rate_stripe_id_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(percentage__gte=0, percentage__lte=100),
                name="tax_rate_percentage_0_to_100",
            ),
        ]
        indexes = [models.Index(fields=["agency", "archived_at"])]
        ordering = ["display_name", "percentage", "pk"]

    def __str__(self) -> str:
        kind = "incl." if self.inclusive else "excl."
        return f"{self.display_name} {self.percentage.normalize():f}% ({kind})"

    @property
    def is_active(self) -> bool:
        return self.archived_at is None


class ClientTaxRate(TenantModel):
    """A tax rate the client's new charges carry by default."""

    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="+")
    tax_rate = models.ForeignKey(TaxRate, on_delete=models.PROTECT, related_name="client_links")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "client", "tax_rate"], name="client_tax_rate_once"
            )
        ]
        indexes = [models.Index(fields=["agency", "client"])]

    def __str__(self) -> str:
        return f"{self.client_id}: {self.tax_rate_id}"


class StripeRequestKey(TenantModel):
    """How many times a request to Stripe had to be sent under a fresh idempotency key.

    Stripe keeps the answer to a key once its endpoint starts running, a 500 included, and
    replays it for 24 hours; a key that got a 500 is spent. A row exists only for requests
    that met one, and for per-task invoice drafts about to be asked for (attempt 0: an
    intent, so a draft whose answer was lost can be traced; billing.idempotency)."""

    key = models.CharField(max_length=200)
    attempt = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "key"], name="stripe_request_key_once")
        ]

    def __str__(self) -> str:
        return f"{self.key} (attempt {self.attempt})"


class StripeEvent(TenantModel):
    """A webhook event received from Stripe, kept by its id so a redelivery is ignored."""

    event_id = models.CharField(max_length=STRIPE_ID_MAX_LENGTH)
    type = models.CharField(max_length=STRIPE_ID_MAX_LENGTH)
    object_id = models.CharField(max_length=STRIPE_ID_MAX_LENGTH, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "event_id"], name="stripe_event_once")
        ]
        ordering = ["-received_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


# -- late payment and top-ups ---------------------------------------------------------------


class LateFeeKind(models.TextChoices):
    NONE = "none", "No late fee"
    FIXED = "fixed", "A fixed amount"
    PERCENT = "percent", "A percentage of what is still due"


class LatePaymentPolicy(TenantModel):
    """What the agency does when an invoice is paid late (billing.late_fees): a late fee
    once per invoice, N days past its due date, and whether new requests from the client
    pause once an invoice is M days overdue. No row: neither."""

    fee_kind = models.CharField(max_length=8, choices=LateFeeKind.choices, default=LateFeeKind.NONE)
    # Minor units per currency, {"USD": 2500, "EUR": 2000}: an invoice in a currency with
    # no amount here gets no fixed fee.
    fixed_amounts = models.JSONField(default=dict, blank=True)
    # Hundredths of a percent of what is still due on the invoice (150 = 1.5 %).
    percent_basis_points = models.PositiveIntegerField(null=True, blank=True)
    fee_after_days = models.PositiveSmallIntegerField(default=7)
    pause_requests = models.BooleanField(default=False)
    pause_after_days = models.PositiveSmallIntegerField(default=30)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency"], name="late_payment_policy_one_per_agency"),
            models.CheckConstraint(
                condition=~models.Q(fee_kind=LateFeeKind.PERCENT)
                | models.Q(percent_basis_points__gte=1, percent_basis_points__lte=10000),
                name="late_payment_percent_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Late payment: {self.get_fee_kind_display()}"


class TopUp(TenantModel):
    """Extra hours a client bought for a retainer line's month, at the line's top-up price
    (billing.top_ups). The hours join that month's bank when bought; its one charge bills
    them. `token` comes from the confirm form: one purchase per token and client, however
    often the form is sent."""

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    contract_line = models.ForeignKey(ContractLine, on_delete=models.PROTECT, related_name="+")
    terms = models.ForeignKey(ContractTerms, on_delete=models.PROTECT, related_name="+")
    # The first day of the client's month (their zone) whose bank the hours join.
    period_start = models.DateField()
    minutes = models.PositiveIntegerField()
    hourly_price = models.PositiveIntegerField(help_text="Minor units of `currency`.")
    amount = models.PositiveIntegerField(help_text="Minor units of `currency`.")
    currency = models.CharField(max_length=3)
    token = models.CharField(max_length=64)
    charge = models.OneToOneField(
        Charge, null=True, blank=True, on_delete=models.PROTECT, related_name="top_up"
    )
    bought_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "client", "token"], name="top_up_once_per_token"
            ),
            models.CheckConstraint(condition=models.Q(minutes__gt=0), name="top_up_minutes_gt_0"),
        ]
        indexes = [models.Index(fields=["agency", "contract_line", "period_start"])]
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.minutes / 60:g} h top-up"
