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


def role_refusal(role: str, allowed_roles, *, doing: str = "open this page") -> str:
    """What a member is told when their role may not do something: who they are here and
    whose the thing is ("As an assistant you cannot open this page: it is for owners and
    admins.")."""
    allowed = [r.label.lower() + "s" for r in Role if r in allowed_roles]
    whose = " and ".join([", ".join(allowed[:-1]), allowed[-1]] if len(allowed) > 1 else allowed)
    return f"As {_article(Role(role).label)} you cannot {doing}: it is for {whose}."


def _article(label: str) -> str:
    return f"{'an' if label[0] in 'AEIOU' else 'a'} {label.lower()}"
