from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import OperationalError
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.access import AgencyJob
from accounts.models import Invitation
from va_agency.celery import app


@app.task(base=AgencyJob)
def send_invitation(*, agency, invitation_id: int) -> None:
    """E-mail the signed acceptance link for a pending invitation."""
    from accounts.services import invitation_token

    invitation = (
        Invitation.objects.select_related("invited_by", "client").filter(pk=invitation_id).first()
    )
    if invitation is None or not invitation.is_pending:
        return
    link = settings.SITE_URL + reverse("invitation_accept", args=[invitation_token(invitation)])
    context = {"agency": agency, "invitation": invitation, "link": link}
    message = EmailMultiAlternatives(
        subject=f"You are invited to {agency.name}",
        body=render_to_string("emails/invitation.txt", context),
        to=[invitation.email],
    )
    message.attach_alternative(render_to_string("emails/invitation.html", context), "text/html")
    message.send()
    Invitation.objects.filter(pk=invitation.pk).update(sent_at=timezone.now())


# -- notifications ------------------------------------------------------------------------


# A lost connection, a deadlock or a busy SQLite file: try again (the row claim makes a
# second try send nothing twice).
RETRY_ON_DATABASE = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "retry_backoff_max": 300,
    "max_retries": 8,
}


@app.task(base=AgencyJob, acks_late=True, **RETRY_ON_DATABASE)
def send_notification_email(*, agency, notification_id: int) -> bool:
    """E-mail one notification, once (accounts.notifications claims the row)."""
    from accounts.notifications import notification_email_send

    return notification_email_send(agency=agency, notification_id=notification_id)


@app.task(base=AgencyJob, acks_late=True, **RETRY_ON_DATABASE)
def send_digest(*, agency, user_id: int) -> int:
    """E-mail one member's daily digest, once."""
    from accounts.notifications import digest_send

    return digest_send(agency=agency, user_id=user_id)


@app.task
def deliver_due_emails() -> int:
    """Beat, every 5 minutes: the e-mails whose time has come (an assistant's shift
    began, a client's digest hour), across agencies; each is sent inside its agency's scope."""
    from accounts.notifications import deliver_due_emails as deliver

    return deliver(now=timezone.now())


@app.task
def sweep_billing_reminders() -> int:
    """Beat: invoices issued, coming due and overdue, payment failures, retainer hours
    running low, held charges and contracts ending (billing.reminders). Registered here
    because Celery discovers modules named `jobs` and billing/jobs.py is billing's own."""
    from billing.reminders import sweep_billing_reminders as sweep

    return sweep(now=timezone.now())
