"""What was said to whom: the notification log, and each person's delivery preferences.

The tables were made when these models lived in accounts; they keep their names (the move
was a change of Python home only, see migrations/0001_initial.py).
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from core.models import TenantModel


class NotificationKind(models.TextChoices):
    """What a notification is about. The label is what people see in their preferences."""

    # to assistants
    TASK_ASSIGNED = "task_assigned", "A task is assigned to you"
    TASK_DUE_SOON = "task_due_soon", "Your task is due soon"
    TASK_OVERDUE = "task_overdue", "Your task is overdue"
    CLIENT_REPLIED = "client_replied", "The client replied on your task"
    TIMESHEET_DECIDED = "timesheet_decided", "Your timesheet is approved or returned"
    # to agency admins
    TASK_AT_RISK = "task_at_risk", "A task is at risk (due soon, not started)"
    TASK_UNASSIGNED = "task_unassigned", "A task has waited too long for an assistant"
    TASK_OVERDUE_STAFF = "task_overdue_staff", "A task is overdue"
    PAYMENT_FAILED = "payment_failed", "A client's payment failed"
    QUOTE_REQUESTED = "quote_requested", "A client asks for a quote"
    PROPOSAL_ANSWERED = "proposal_answered", "A client accepted or declined a proposal"
    CLIENT_SIGNED_UP = "client_signed_up", "A business signed up from the public page"
    # to clients
    TASK_TAKEN = "task_taken", "Someone has taken your request"
    TASK_WAITING_ON_YOU = "task_waiting_on_you", "Your answer is needed on a request"
    TASK_AWAITING_APPROVAL = "task_awaiting_approval", "Work is done and awaits your approval"
    PROPOSAL_SENT = "proposal_sent", "The agency sent you a proposal"
    INVOICE_ISSUED = "invoice_issued", "An invoice is issued"
    INVOICE_DUE_SOON = "invoice_due_soon", "An invoice is coming due"
    INVOICE_OVERDUE = "invoice_overdue", "An invoice is overdue"
    RETAINER_LOW = "retainer_low", "Retainer hours are running low"
    RETAINER_EXHAUSTED = "retainer_exhausted", "Retainer hours are used up"
    CHARGE_HELD = "charge_held", "A charge past the budget cap awaits your approval"
    COVER_ARRANGED = "cover_arranged", "Someone covers for your assistant while they are away"
    # to clients and admins
    CONTRACT_ENDING = "contract_ending", "A contract ends soon"


class Notification(TenantModel):
    """One message to one person about one thing on one occasion, in the app and (as their
    preferences say) by e-mail.

    The row is the "sent once" log: the database holds one per (agency, recipient, kind,
    object, occasion), and it is written in the transaction that queues its e-mail, so a
    sweep that runs twice, or two beat processes, find the row there and send nothing more.
    Title, body and link are rendered when it is made, times in the recipient's zone.
    """

    recipient = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    # The object it is about, as audit rows name theirs: "tasks.task" and its id.
    target_type = models.CharField(max_length=64)
    target_id = models.PositiveBigIntegerField()
    # What makes a second notification of the same kind about the same object a new one:
    # the due time it warns of, the comment it reports, the month a bank ran low in...
    occasion = models.CharField(max_length=64)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=300, help_text="Path of the object, from the site root.")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # When the e-mail may go: now, the assistant's next shift, or the client's digest hour.
    # Empty: no e-mail (the recipient turned this kind off).
    email_due_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    # Goes out in the recipient's daily digest instead of on its own.
    digest = models.BooleanField(default=False)

    class Meta:
        db_table = "accounts_notification"
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "recipient", "kind", "target_type", "target_id", "occasion"],
                name="notification_once",
            ),
        ]
        indexes = [
            # the notification centre, newest first
            models.Index(fields=["agency", "recipient", "-created_at"]),
            # the header's unread count
            models.Index(
                fields=["agency", "recipient"],
                condition=models.Q(read_at__isnull=True),
                name="notification_unread",
            ),
            # sweeps: what was already said about these objects
            models.Index(fields=["agency", "target_type", "target_id", "kind"]),
            # e-mails whose time has come (beat, across agencies)
            models.Index(
                fields=["email_due_at"],
                condition=models.Q(emailed_at__isnull=True, email_due_at__isnull=False),
                name="notification_email_due",
            ),
        ]
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.title


class NotificationPreference(TenantModel):
    """A person's choice, in one agency, of whether one kind arrives by e-mail too (it
    always shows in the app). No row: e-mail on."""

    user = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    email = models.BooleanField(default=True)

    class Meta:
        db_table = "accounts_notificationpreference"
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "user", "kind"], name="notification_preference_unique"
            ),
        ]


class NotificationSettings(TenantModel):
    """How a person in one agency wants their e-mail: each on its own as it happens, or
    (client members) one daily digest at a morning hour of their own zone."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    daily_digest = models.BooleanField(default=False)
    digest_hour = models.PositiveSmallIntegerField(
        default=8, validators=[MinValueValidator(0), MaxValueValidator(23)]
    )

    class Meta:
        db_table = "accounts_notificationsettings"
        constraints = [
            models.UniqueConstraint(fields=["agency", "user"], name="notification_settings_unique"),
            models.CheckConstraint(
                condition=models.Q(digest_hour__lte=23), name="notification_digest_hour_valid"
            ),
        ]
        verbose_name_plural = "notification settings"
