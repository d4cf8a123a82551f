from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.access import AgencyJob
from accounts.models import Invitation
from accounts.services import invitation_token


@shared_task(base=AgencyJob)
def send_invitation(*, agency, invitation_id: int) -> None:
    """E-mail the signed acceptance link for a pending invitation."""
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
