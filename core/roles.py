from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    ASSISTANT = "assistant", "Assistant"
    CLIENT = "client", "Client"


STAFF_ROLES = frozenset({Role.OWNER, Role.ADMIN})
ALL_ROLES = frozenset(Role)
# An owner is never invited: owners start agencies (or are promoted by another owner).
INVITABLE_ROLE_CHOICES = [(r.value, r.label) for r in Role if r != Role.OWNER]
