"""What inbound mail needs kept: each client's private intake address, and the messages
already handled (so a message delivered twice is acted on once)."""

from django.db import models

from core.models import TenantModel


class ClientIntake(TenantModel):
    """A client's private address for requests by e-mail: `<token>@<inbound domain>`.

    The token alone names the client, and so the agency: it is unique across the whole
    deployment and long and random enough never to be guessed. Staff may replace it (a
    leaked address stops working at once)."""

    client = models.OneToOneField("clients.Client", on_delete=models.CASCADE, related_name="+")
    token = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    replaced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "tasks"
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "client"], name="client_intake_one_per_client"
            )
        ]

    def __str__(self) -> str:
        return f"intake for client {self.client_id}"


class InboundMessage(TenantModel):
    """One e-mail received for the agency, by its Message-ID, and what became of it.

    Written in the transaction that acts on the message, so a redelivery (the provider
    retrying, the mail reader run twice) finds it and makes nothing new."""

    class Outcome(models.TextChoices):
        REQUESTED = "requested", "Became a task request"
        COMMENTED = "commented", "Became a comment"
        REFUSED = "refused", "Refused"

    # The Message-ID header (a digest of the message when it has none or it is too long).
    message_id = models.CharField(max_length=255)
    sender = models.EmailField(max_length=254)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    reason = models.CharField(max_length=64, blank=True)
    task = models.ForeignKey(
        "tasks.Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "tasks"
        constraints = [
            models.UniqueConstraint(fields=["agency", "message_id"], name="inbound_message_once")
        ]

    def __str__(self) -> str:
        return f"{self.message_id} → {self.outcome}"
