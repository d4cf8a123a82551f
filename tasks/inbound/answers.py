"""What the sender of an inbound message is told when not all of it could be taken: a
short plain-text answer to their own message, marked as automatic (RFC 3834) so that
their auto-responder does not answer it in turn."""

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse


def _send(message, template: str, **context) -> None:
    subject = message.subject or "your message"
    headers = {"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"}
    if not message.message_id.startswith("sha256:"):
        headers["In-Reply-To"] = message.message_id
        headers["References"] = message.message_id
    EmailMessage(
        subject=subject if subject.lower().startswith("re:") else f"Re: {subject}",
        body=render_to_string(
            f"tasks/inbound/{template}.txt",
            {"message": message, "site": settings.SITE_URL, **context},
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.sender],
        headers=headers,
    ).send()


def _task_link(agency, task) -> str:
    return settings.SITE_URL + reverse(
        "task_detail", kwargs={"agency_slug": agency.slug, "pk": task.pk}
    )


def sender_unknown(message, *, agency) -> None:
    _send(message, "sender_unknown", agency=agency)


def request_refused(message, *, agency, error) -> None:
    _send(message, "request_refused", agency=agency, reason=error.message)


def files_refused(message, *, agency, task, refused) -> None:
    _send(
        message,
        "files_refused",
        agency=agency,
        task=task,
        link=_task_link(agency, task),
        refused=refused,
    )


def reply_refused(message) -> None:
    _send(message, "reply_refused")


def comment_refused(message, *, agency, task, error) -> None:
    _send(
        message,
        "comment_refused",
        agency=agency,
        task=task,
        link=_task_link(agency, task),
        reason=error.message,
    )
