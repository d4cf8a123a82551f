from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower
from knox.models import AbstractAuthToken

from core.models import TenantModel
from core.roles import STAFF_ROLES, Role
from core.validators import validate_billing_currency, validate_time_zone


class EmailUserManager(UserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """One login for a person, whatever agencies they work in. `is_staff` is platform staff."""

    username = None
    first_name = None
    last_name = None
    email = models.EmailField("e-mail address", unique=True)
    full_name = models.CharField(max_length=150, blank=True)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = EmailUserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class Agency(models.Model):
    """The tenant: one virtual-assistant agency and everything it owns."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=50, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    default_currency = models.CharField(
        max_length=3, default="USD", validators=[validate_billing_currency]
    )
    # What its invoices say of it: where it is, and its own tax number.
    billing_address = models.TextField(blank=True, max_length=500)
    tax_id = models.CharField("Tax id", max_length=64, blank=True)
    # Work is charged only once every minute of it is in a timesheet staff approved.
    bill_approved_time_only = models.BooleanField(
        "Require approved time before work is billed", default=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "agencies"

    def __str__(self) -> str:
        return self.name


class Membership(TenantModel):
    """A user's place in one agency: their role and, for client members, which client."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    client = models.ForeignKey(
        "clients.Client", null=True, blank=True, on_delete=models.CASCADE, related_name="members"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "user"], name="membership_one_per_agency"),
            models.CheckConstraint(
                condition=(models.Q(role=Role.CLIENT) & models.Q(client__isnull=False))
                | (~models.Q(role=Role.CLIENT) & models.Q(client__isnull=True)),
                name="membership_client_iff_client_role",
            ),
        ]
        indexes = [models.Index(fields=["user", "is_active"])]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.agency_id}"

    @property
    def is_staff_role(self) -> bool:
        return self.role in STAFF_ROLES


class Invitation(TenantModel):
    """An offer of membership sent by e-mail; accepted through a signed link."""

    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices)
    client = models.ForeignKey(
        "clients.Client", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    invited_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "agency",
                Lower("email"),
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_pending_per_email",
            ),
            models.CheckConstraint(
                condition=(models.Q(role=Role.CLIENT) & models.Q(client__isnull=False))
                | (~models.Q(role=Role.CLIENT) & models.Q(client__isnull=True)),
                name="invitation_client_iff_client_role",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} as {self.get_role_display()}"

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None


class ApiToken(AbstractAuthToken):
    """A personal API token (knox): kept only as a hash of the token, which is shown once
    when it is made. A user may hold several, each named for what uses it, each with an
    expiry (or none) and revocable on its own."""

    name = models.CharField(max_length=80)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.name} ({self.token_key}…)"

    @property
    def is_expired(self) -> bool:
        from django.utils import timezone

        return self.expiry is not None and self.expiry <= timezone.now()
