from django.db import models

from core.models import AuditEvent


def audit_record(*, agency, actor, action: str, target: models.Model, **details) -> AuditEvent:
    """Write one audit row; called by services inside their transaction."""
    return AuditEvent.objects.create(
        agency=agency,
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        details=details,
    )
