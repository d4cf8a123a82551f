from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from accounts.access import AgencyJob
from notifications import services

# A lost connection, a deadlock or a busy SQLite file: try again (the row claim makes a
# second try send nothing twice).
RETRY_ON_DATABASE = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "retry_backoff_max": 300,
    "max_retries": 8,
}


@shared_task(base=AgencyJob, acks_late=True, **RETRY_ON_DATABASE)
def send_notification_email(*, agency, notification_id: int) -> bool:
    """E-mail one notification, once (notification_email_send claims the row)."""
    return services.notification_email_send(agency=agency, notification_id=notification_id)


@shared_task(base=AgencyJob, acks_late=True, **RETRY_ON_DATABASE)
def send_digest(*, agency, user_id: int) -> int:
    """E-mail one member's daily digest, once."""
    return services.digest_send(agency=agency, user_id=user_id)


@shared_task
def deliver_due_emails() -> int:
    """Beat, every 5 minutes: the e-mails whose time has come (an assistant's shift
    began, a client's digest hour), across agencies; each is sent inside its agency's scope."""
    return services.deliver_due_emails(now=timezone.now())
