from django.conf import settings
from django.db import models
from django_scopes import ScopedManager


class TenantModel(models.Model):
    """Base of every model that belongs to one agency.

    The agency column lives on the row itself (indexed by its foreign key), and the default
    manager refuses to query without an active agency scope, so a forgotten filter fails
    in tests instead of leaking in production.
    """

    agency = models.ForeignKey("accounts.Agency", on_delete=models.CASCADE, related_name="+")

    objects = ScopedManager(agency="agency")

    class Meta:
        abstract = True


class AuditEvent(TenantModel):
    """Who did what to which record, and when. Written by services, never edited."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["agency", "target_type", "target_id"]),
            models.Index(fields=["agency", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}:{self.target_id}"


class IdempotencyKey(TenantModel):
    """A request that carried an idempotency key, and the answer it got.

    One row per agency, user and key: the row is written in the same transaction as the
    work it guards, so a repeat either waits for the first to finish and gets its answer,
    or finds nothing because the first failed and left no trace (core.idempotency).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # sha256 of the method, the path and (for the API) the body the key was first used with
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(default=0)
    headers = models.JSONField(default=dict, blank=True)
    body = models.BinaryField(default=b"", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "user", "key"], name="idempotency_key_once_per_user"
            ),
        ]
        # the hourly purge of keys past their 24 hours
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"{self.key} → {self.status_code}"
