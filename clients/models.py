from django.db import models

from core.models import TenantModel
from core.validators import validate_currency, validate_time_zone


class Client(TenantModel):
    """A business the agency works for. Its members log in with the client role."""

    name = models.CharField(max_length=160)
    billing_email = models.EmailField(blank=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    currency = models.CharField(max_length=3, default="USD", validators=[validate_currency])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "name"], name="client_name_unique_in_agency")
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
