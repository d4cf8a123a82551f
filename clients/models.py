from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models

from core.models import TenantModel
from core.validators import validate_billing_currency, validate_time_zone

# A manual is guidelines, not a document store; the cap keeps a paste accident (or an abuse
# of the API) from making every task page carry megabytes.
MANUAL_MAX_LENGTH = 50_000


class TaxStatus(models.TextChoices):
    """How the client is taxed, in Stripe's own words (a customer's `tax_exempt`)."""

    TAXABLE = "none", "Taxable"
    EXEMPT = "exempt", "Exempt"
    # The customer accounts for the VAT itself (EU business to business across borders).
    REVERSE = "reverse", "Reverse charge"


class Client(TenantModel):
    """A business the agency works for. Its members log in with the client role."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"

    name = models.CharField(max_length=160)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    billing_email = models.EmailField(blank=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    currency = models.CharField(max_length=3, default="USD", validators=[validate_billing_currency])
    # Set by billing when it first creates the Stripe customer; never typed in by people.
    # Stripe's ids are at most 255 characters (Stripe's API reference).
    stripe_customer_id = models.CharField(max_length=255, blank=True)
    # What its invoices say of it: the address and tax id it is billed under.
    billing_address = models.TextField(blank=True, max_length=500)
    tax_id = models.CharField("Tax id", max_length=64, blank=True)
    # Stripe's kind of tax id (eu_vat, gb_vat, ...): with one, the id is sent to Stripe
    # as the customer's tax id; without, it is only printed on the invoices.
    tax_id_type = models.CharField("Tax id type", max_length=16, blank=True)
    tax_status = models.CharField(max_length=16, choices=TaxStatus.choices, default="none")
    # Whether Stripe's customer carries the tax details above (billing.tax syncs them).
    stripe_tax_synced = models.BooleanField(default=True)
    manual = models.TextField(
        "client manual",
        blank=True,
        validators=[MaxLengthValidator(MANUAL_MAX_LENGTH)],
        help_text="Markdown. Guidelines every assistant sees beside this client's work.",
    )
    manual_updated_at = models.DateTimeField(null=True, blank=True)
    manual_updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "name"], name="client_name_unique_in_agency")
        ]
        # The client list filters by status and sorts by name, always within one agency.
        indexes = [
            models.Index(fields=["agency", "status", "name"], name="client_agency_status_name"),
            # Card webhooks find the client by its Stripe customer.
            models.Index(fields=["agency", "stripe_customer_id"], name="client_agency_customer"),
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class MemberRights(models.Model):
    """What one of a client's people may do for their company. Owners may do all of it and
    manage the company's team; everyone else holds only the rights given to them."""

    may_request = models.BooleanField("may request work", default=True)
    may_approve = models.BooleanField("may approve work", default=True)
    may_see_invoices = models.BooleanField("may see invoices", default=False)

    class Meta:
        abstract = True


class ClientMemberRights(TenantModel, MemberRights):
    """A client member's rights, beside their membership (which accounts keeps)."""

    membership = models.OneToOneField(
        "accounts.Membership", on_delete=models.CASCADE, related_name="client_rights"
    )
    is_owner = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"rights of membership {self.membership_id}"


class ClientInvitationRights(TenantModel, MemberRights):
    """The rights an invitation offers, copied to the membership when it is accepted."""

    invitation = models.OneToOneField(
        "accounts.Invitation", on_delete=models.CASCADE, related_name="client_rights"
    )

    def __str__(self) -> str:
        return f"rights offered by invitation {self.invitation_id}"
