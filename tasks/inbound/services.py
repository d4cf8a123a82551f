"""Inbound mail: the one function that takes a raw message and acts on it, and the writes
behind it (a client's intake address; a message becoming a task request or a comment).

Both entrances, the provider's webhook and the mail-reading command, call
`inbound_mail_receive`. The agency is found from the address alone (an intake token, or
a signed reply token), and everything after that runs in the agency's scope, through the
same services the portal uses: contracts, caps, file checks and notifications apply alike.
"""

import logging
import re
from dataclasses import dataclass, field

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import Agency, Membership
from core.audit import audit_record
from core.errors import ApplicationError
from core.roles import Role
from core.tenancy import agency_scope, scopes_disabled
from tasks import services as task_services
from tasks.inbound import answers
from tasks.inbound.addresses import (
    ForgedToken,
    IntakeTarget,
    ReplyTarget,
    inbound_domain,
    new_intake_token,
    parse_local_part,
    split_address,
)
from tasks.inbound.models import ClientIntake, InboundMessage
from tasks.inbound.parsing import ParsedMessage, parse_message, strip_quoted
from tasks.models import TITLE_MAX_CHARS
from tasks.selectors import live_lines_for_client, tasks_visible_to

logger = logging.getLogger(__name__)
Outcome = InboundMessage.Outcome


@dataclass
class Received:
    """What became of one message: requested, commented, refused, duplicate or ignored."""

    outcome: str
    reason: str = ""
    task_id: int | None = None
    refused_files: list[str] = field(default_factory=list)


# -- a client's intake address -----------------------------------------------------------


def client_intake_ensure(*, agency, client) -> ClientIntake:
    """The client's intake address, made the first time it is asked for. Two first asks
    at once make one (the second finds the row the first wrote)."""
    intake = ClientIntake.objects.filter(agency=agency, client=client).first()
    if intake is not None:
        return intake
    try:
        with transaction.atomic():
            return ClientIntake.objects.create(
                agency=agency, client=client, token=new_intake_token()
            )
    except IntegrityError:
        return ClientIntake.objects.get(agency=agency, client=client)


def client_intake_regenerate(*, agency, actor, client) -> ClientIntake:
    """Staff replace a client's intake address: mail to the old one is no longer read."""
    if client.agency_id != agency.pk:
        raise ApplicationError("Unknown client.", code="client_unknown")
    with transaction.atomic():
        intake = client_intake_ensure(agency=agency, client=client)
        intake = ClientIntake.objects.select_for_update().get(pk=intake.pk)
        intake.token = new_intake_token()
        intake.replaced_at = timezone.now()
        intake.save(update_fields=["token", "replaced_at"])
        audit_record(
            agency=agency, actor=actor, action="client.intake_address_replaced", target=client
        )
    return intake


# -- the one entrance ----------------------------------------------------------------------


def inbound_mail_receive(raw: bytes, *, recipients: list[str] | None = None) -> Received:
    """Act on one raw e-mail (RFC 5322 bytes). `recipients` are the envelope's (the
    provider's `recipient`), tried before the message's own headers. A message that cannot
    be read raises MalformedMessage; everything else is an answer."""
    message = parse_message(raw)
    domain = inbound_domain()
    candidates = [a.strip().lower() for a in (recipients or []) if a and a.strip()]
    for address in [*candidates, *message.recipients]:
        local, address_domain = split_address(address)
        if address_domain != domain:
            continue
        try:
            target = parse_local_part(local)
        except ForgedToken:
            logger.warning("inbound mail from %s: reply address forged", message.sender)
            _answer(message, answers.reply_refused)
            return Received(Outcome.REFUSED, reason="reply_token_invalid")
        if isinstance(target, ReplyTarget):
            return _receive_reply(message, target)
        if isinstance(target, IntakeTarget):
            received = _receive_request(message, target)
            if received is not None:
                return received
    logger.info("inbound mail from %s: for no address of ours", message.sender)
    return Received("ignored", reason="no_known_address")


def _answer(message: ParsedMessage, write, **context) -> None:
    """Tell the sender, unless the message was itself automatic (so two robots never
    answer each other forever). A mail server that is down costs only this answer."""
    if message.automatic:
        return
    try:
        write(message, **context)
    except Exception:
        logger.exception("inbound mail: the answer to %s was not sent", message.sender)


def _seen(agency, message: ParsedMessage) -> bool:
    return InboundMessage.objects.filter(agency=agency, message_id=message.message_id).exists()


def _record_refusal(agency, message: ParsedMessage, reason: str, task=None) -> bool:
    """Keep the refusal, so a redelivery is not refused (and answered) twice; False when a
    concurrent delivery of the same message was recorded first."""
    try:
        with transaction.atomic():
            InboundMessage.objects.create(
                agency=agency,
                message_id=message.message_id,
                sender=message.sender[:254],
                outcome=Outcome.REFUSED,
                reason=reason[:64],
                task=task,
            )
    except IntegrityError:
        return False
    return True


def _refuse(tenant, message: ParsedMessage, reason: str, write, **context) -> Received:
    """Record the refusal in the agency `tenant` and tell the sender (the answer's own
    context may name the agency too)."""
    if _record_refusal(tenant, message, reason):
        _answer(message, write, **context)
        return Received(Outcome.REFUSED, reason=reason)
    return Received("duplicate")


def _uploads(message: ParsedMessage):
    """The message's files that pass the upload form's checks, and what was refused of
    the others (name, reason)."""
    accepted, refused = [], []
    for item in message.files:
        upload = SimpleUploadedFile(item.name, item.content, content_type=item.content_type)
        try:
            task_services.attachment_check(upload)
        except ApplicationError as error:
            refused.append((item.name, error.message))
        else:
            accepted.append(upload)
    return accepted, refused


def _attach_all(*, agency, actor, task, uploads, stored: list) -> None:
    for upload in uploads:
        stored.append(
            task_services.attachment_add(agency=agency, actor=actor, task=task, upload=upload)
        )


# -- a request to a client's intake address -----------------------------------------------


def _receive_request(message: ParsedMessage, target: IntakeTarget) -> Received | None:
    with scopes_disabled():
        intake = (
            ClientIntake.objects.select_related("agency", "client")
            .filter(token=target.token)
            .first()
        )
    if intake is None:
        return None  # an old or made-up address: nobody to answer for
    agency, client = intake.agency, intake.client
    with agency_scope(agency):
        if _seen(agency, message):
            return Received("duplicate")
        member = (
            Membership.objects.filter(
                agency=agency,
                user__email__iexact=message.sender,
                is_active=True,
                user__is_active=True,
            )
            .select_related("user")
            .first()
        )
        if member is None or member.role != Role.CLIENT or member.client_id != client.pk:
            # One answer for strangers and for members of another client: whose address
            # this is is none of their business.
            return _refuse(agency, message, "sender_unknown", answers.sender_unknown, agency=agency)
        try:
            service, title = _service_and_title(
                agency=agency, client=client, tag=target.tag, subject=message.subject
            )
        except ApplicationError as error:
            return _refuse(
                agency, message, error.code, answers.request_refused, agency=agency, error=error
            )
        title = title or _first_line(message.text)
        uploads, refused = _uploads(message)
        stored = []
        try:
            with transaction.atomic():
                record = InboundMessage.objects.create(
                    agency=agency,
                    message_id=message.message_id,
                    sender=message.sender[:254],
                    outcome=Outcome.REQUESTED,
                )
                task = task_services.task_request(
                    agency=agency,
                    actor=member.user,
                    client=client,
                    service=service,
                    title=title,
                    details=message.text,
                )
                _attach_all(
                    agency=agency, actor=member.user, task=task, uploads=uploads, stored=stored
                )
                record.task = task
                record.save(update_fields=["task"])
                audit_record(
                    agency=agency,
                    actor=member.user,
                    action="task.requested_by_email",
                    target=task,
                    message_id=message.message_id,
                    files_refused=[name for name, _ in refused],
                )
        except IntegrityError:
            _remove(stored)
            if _seen(agency, message):
                return Received("duplicate")  # a concurrent delivery made it first
            raise
        except ApplicationError as error:
            _remove(stored)
            return _refuse(
                agency, message, error.code, answers.request_refused, agency=agency, error=error
            )
        except BaseException:
            _remove(stored)
            raise
        if refused:
            _answer(message, answers.files_refused, agency=agency, task=task, refused=refused)
        return Received(
            Outcome.REQUESTED, task_id=task.pk, refused_files=[name for name, _ in refused]
        )


def _remove(stored) -> None:
    # Rolled-back rows take no files with them: remove what was already stored.
    for attachment in stored:
        attachment.file.delete(save=False)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:TITLE_MAX_CHARS]
    return ""


_SUBJECT_SERVICE = re.compile(r"^\s*\[(?P<name>[^\]]{1,120})\]\s*(?P<rest>.*)$", re.DOTALL)


def _service_and_title(*, agency, client, tag: str, subject: str):
    """The contracted service a request names, and its title. The address's `+tag` names
    it, else a `[Service]` opening the subject, else the client's only contracted service.
    A name matches a service's name or, if only one service has it, its category, with
    case, spaces and punctuation disregarded. A tag that names nothing is refused; a
    bracket that names no service is kept as part of the title."""
    lines = list(live_lines_for_client(agency=agency, client=client))
    services = list({line.service_id: line.service for line in lines}.values())

    def named(name: str):
        key = slugify(name)
        hits = [s for s in services if slugify(s.name) == key]
        if not hits:
            hits = [s for s in services if slugify(s.category.name) == key]
        return hits[0] if len(hits) == 1 else None

    if not services:
        raise ApplicationError(
            "Your account has no active contract with services to request yet.",
            code="task_service_not_contracted",
        )
    service = None
    if tag:
        service = named(tag)
        if service is None:
            raise _name_the_service(services, f"“{tag}” is not one of your contracted services.")
    title = subject
    bracket = _SUBJECT_SERVICE.match(subject)
    if bracket:
        found = named(bracket["name"])
        if found is not None and (service is None or found == service):
            service, title = found, bracket["rest"].strip()
    if service is None:
        if len(services) == 1:
            service = services[0]
        else:
            raise _name_the_service(services, "Your contract has more than one service.")
    return service, title


def _name_the_service(services, why: str) -> ApplicationError:
    names = sorted(s.name for s in services)
    return ApplicationError(
        f"{why} Name the one you want at the start of the subject, for example "
        f"“[{names[0]}] {{your request}}”, or in the address after a plus sign. Your "
        f"services: {', '.join(names)}.",
        code="inbound_service_unclear",
        extra={"services": names},
    )


# -- a reply to a notification about a task -----------------------------------------------


def _receive_reply(message: ParsedMessage, target: ReplyTarget) -> Received:
    with scopes_disabled():
        agency = Agency.objects.filter(pk=target.agency_id).first()
    if agency is None:
        _answer(message, answers.reply_refused)
        return Received(Outcome.REFUSED, reason="reply_token_invalid")
    with agency_scope(agency):
        if _seen(agency, message):
            return Received("duplicate")
        member = (
            Membership.objects.filter(
                agency=agency, pk=target.membership_id, is_active=True, user__is_active=True
            )
            .select_related("user")
            .first()
        )
        if member is None or member.user.email.strip().lower() != message.sender:
            return _refuse(agency, message, "sender_not_recipient", answers.reply_refused)
        task = tasks_visible_to(agency=agency, membership=member).filter(pk=target.task_id).first()
        if task is None:
            return _refuse(agency, message, "task_not_visible", answers.reply_refused)
        body = strip_quoted(message.text)
        uploads, refused = _uploads(message)
        if not body and not uploads:
            return _refuse(
                agency,
                message,
                "comment_empty",
                answers.comment_refused,
                agency=agency,
                task=task,
                error=ApplicationError("Your reply had no text of its own.", code="comment_empty"),
            )
        stored = []
        try:
            with transaction.atomic():
                InboundMessage.objects.create(
                    agency=agency,
                    message_id=message.message_id,
                    sender=message.sender[:254],
                    outcome=Outcome.COMMENTED,
                    task=task,
                )
                if body:
                    task_services.comment_add(
                        agency=agency, actor=member.user, membership=member, task=task, body=body
                    )
                _attach_all(
                    agency=agency, actor=member.user, task=task, uploads=uploads, stored=stored
                )
        except IntegrityError:
            _remove(stored)
            if _seen(agency, message):
                return Received("duplicate")
            raise
        except ApplicationError as error:
            _remove(stored)
            return _refuse(
                agency,
                message,
                error.code,
                answers.comment_refused,
                agency=agency,
                task=task,
                error=error,
            )
        except BaseException:
            _remove(stored)
            raise
        if refused:
            _answer(message, answers.files_refused, agency=agency, task=task, refused=refused)
        return Received(
            Outcome.COMMENTED, task_id=task.pk, refused_files=[name for name, _ in refused]
        )
